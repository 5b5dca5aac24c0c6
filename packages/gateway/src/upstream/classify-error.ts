import { GatehouseError } from '@gatehouse/core';
import { UPSTREAM_ERROR } from './http1/http1-pool.js';

/**
 * Failures where the upstream received nothing it could act on: the connection was never made,
 * or it was closed under a request (a keep-alive connection the upstream had just dropped).
 * RFC 9110 §9.2.2 lets a client retry idempotent requests after such failures.
 */
const NOTHING_RECEIVED = new Set<string>([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  UPSTREAM_ERROR.connectTimeout,
  UPSTREAM_ERROR.socket,
]);

const TIMEOUTS = new Set<string>([
  UPSTREAM_ERROR.connectTimeout,
  UPSTREAM_ERROR.headersTimeout,
  UPSTREAM_ERROR.bodyTimeout,
]);

/** Errors a response body stream raises because of the upstream (not because it was destroyed). */
const BODY_FAILURES = new Set<string>([
  UPSTREAM_ERROR.bodyTimeout,
  UPSTREAM_ERROR.socket,
  'ECONNRESET',
  'ERR_UPSTREAM_RESPONSE_INVALID',
]);

export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function isRetryableFailure(error: unknown): boolean {
  const code = errorCodeOf(error);
  return code !== undefined && NOTHING_RECEIVED.has(code);
}

/** The client refused the request itself (an invalid header value, say): the upstream never saw it. */
export function isLocalFailure(error: unknown): boolean {
  return errorCodeOf(error) === UPSTREAM_ERROR.requestInvalid;
}

export function isBodyFailure(error: unknown): boolean {
  const code = errorCodeOf(error);
  return code !== undefined && BODY_FAILURES.has(code);
}

/** `ERR_GATEWAY_UPSTREAM_TIMEOUT` (504) for timeouts, `ERR_GATEWAY_UPSTREAM_UNAVAILABLE` (502) otherwise. */
export function toUpstreamError(error: unknown, where: string): GatehouseError {
  const code = errorCodeOf(error);
  const detail = `${where}: ${code ?? (error instanceof Error ? error.name : 'unknown error')}`;
  return new GatehouseError(
    code !== undefined && TIMEOUTS.has(code)
      ? 'ERR_GATEWAY_UPSTREAM_TIMEOUT'
      : 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE',
    { detail, cause: error },
  );
}
