import type { ServerResponse } from 'node:http';
import { GatehouseError, toErrorResponse, type ErrorCode, type HttpErrorResponse } from '@gatehouse/core';

/** Security headers on every answer the gateway writes itself. */
const OWN_HEADERS = {
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
} as const;

/** Writes an error answer (RFC 9457 problem, or RFC 6750 for token errors) unless one was started. */
export function sendError(
  res: ServerResponse,
  error: GatehouseError | ErrorCode,
  options: {
    readonly requestId: string;
    readonly headers?: Readonly<Record<string, string>>;
    readonly scope?: readonly string[];
    readonly schemes?: readonly ('Bearer' | 'DPoP')[];
    readonly hsts?: string | undefined;
  },
): number {
  const err = typeof error === 'string' ? new GatehouseError(error) : error;
  const response: HttpErrorResponse = toErrorResponse(err, {
    instance: `urn:gatehouse:request:${options.requestId}`,
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.schemes === undefined ? {} : { schemes: options.schemes }),
  });
  if (res.headersSent) {
    res.destroy();
    return response.status;
  }
  const headers: Record<string, string | readonly string[]> = {
    ...response.headers,
    ...OWN_HEADERS,
    'x-request-id': options.requestId,
    'content-length': String(Buffer.byteLength(response.body)),
    ...options.headers,
  };
  if (options.hsts !== undefined) headers['strict-transport-security'] = options.hsts;
  res.writeHead(response.status, headers as Record<string, string | string[]>);
  res.end(response.body);
  return response.status;
}
