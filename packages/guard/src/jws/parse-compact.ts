import { fail } from '../errors.js';
import { decodeBase64UrlStrict } from '../lib/base64url.js';
import { parseJsonObject } from '../lib/strict-json.js';

/** A compact JWS split and decoded; the payload stays bytes until the signature is verified. */
export interface CompactJws {
  readonly header: Readonly<Record<string, unknown>>;
  /** ASCII `BASE64URL(header).BASE64URL(payload)`, the JWS Signing Input (RFC 7515 §5.2 step 8). */
  readonly signingInput: Buffer;
  readonly payload: Buffer;
  readonly signature: Buffer;
}

function decodeSegment(segment: string): Buffer {
  return decodeBase64UrlStrict(segment) ?? fail('ERR_JWT_BASE64URL_INVALID');
}

/**
 * RFC 7515 §7.1 compact serialization only: exactly three canonical base64url segments. Five
 * segments is a JWE (RFC 7516 §7.1) and is refused as such; JSON serialization is refused as
 * malformed. The caller has already bounded the length.
 */
export function parseCompactJws(token: string): CompactJws {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (second === -1) fail('ERR_JWT_MALFORMED', 'not three segments');
  if (token.indexOf('.', second + 1) !== -1) {
    if (token.split('.').length === 5) fail('ERR_JWT_JWE_UNSUPPORTED');
    fail('ERR_JWT_MALFORMED', 'not three segments');
  }
  const headerSegment = token.slice(0, first);
  if (headerSegment.length === 0) fail('ERR_JWT_MALFORMED', 'empty header');
  const header = parseJsonObject(decodeSegment(headerSegment));
  const payload = decodeSegment(token.slice(first + 1, second));
  const signature = decodeSegment(token.slice(second + 1));
  return { header, signingInput: Buffer.from(token.slice(0, second), 'latin1'), payload, signature };
}
