import { randomBytes } from 'node:crypto';

// A random per-process prefix and a counter: unique across replicas without an entropy read per request.
const prefix = randomBytes(9).toString('base64url');
let counter = 0;

/** A new request id such as `Xq3…Zk-1a`: 12 random base64url characters, `-`, a base-36 counter. */
export function createRequestId(): string {
  counter += 1;
  return `${prefix}-${counter.toString(36)}`;
}

const MAX_REQUEST_ID_LENGTH = 128;
/** 1 for `[A-Za-z0-9._:-]`, the characters a trusted peer's id may hold (indexes 0..127). */
const ID_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-')
  ID_CHAR[c.charCodeAt(0)] = 1;

/**
 * Whether a trusted peer's `X-Request-Id` may be kept: short and free of anything that could split a log line
 * or a header.
 */
export function isValidRequestId(value: string): boolean {
  if (value.length === 0 || value.length > MAX_REQUEST_ID_LENGTH) return false;
  for (let i = 0; i < value.length; i++) if (ID_CHAR[value.charCodeAt(i)] !== 1) return false;
  return true;
}
