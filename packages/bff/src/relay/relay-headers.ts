import type { IncomingHttpHeaders } from 'node:http';

/**
 * Request headers passed to the gateway: an allowlist, so the browser's `Cookie`, its own
 * `Authorization`, `X-CSRF`, `Origin`, forwarding headers and anything unknown stay behind (the
 * gateway must see only the session's token, never the session cookie).
 */
const FORWARDED_REQUEST_HEADERS = [
  'accept',
  'accept-language',
  'content-type',
  'if-match',
  'if-none-match',
  'if-modified-since',
  'if-unmodified-since',
  'user-agent',
] as const;

/** RFC 9110 §7.6.1 hop-by-hop fields, plus `set-cookie`: the gateway never sets cookies on our origin. */
const DROPPED_RESPONSE_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'content-length',
]);

/**
 * `clientIp`: the browser's address as the BFF saw it (the socket peer: the BFF is the browsers'
 * edge, so a browser's own `X-Forwarded-For` is dropped, never extended). Sent as the only
 * `X-Forwarded-For` entry: a gateway that lists the BFF in `trustedProxies` then limits, bans and
 * audits each browser by its own address instead of the BFF's, which all browsers share.
 */
export function buildUpstreamHeaders(
  incoming: IncomingHttpHeaders,
  accessToken: string,
  clientIp?: string,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = incoming[name];
    if (typeof value === 'string') headers[name] = value;
  }
  if (clientIp !== undefined && clientIp !== '') headers['x-forwarded-for'] = clientIp;
  headers['authorization'] = `Bearer ${accessToken}`;
  return headers;
}

export function buildDownstreamHeaders(
  upstream: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  const connectionListed = new Set(
    String(upstream['connection'] ?? '')
      .split(',')
      .map((token) => token.trim().toLowerCase()),
  );
  for (const [name, value] of Object.entries(upstream)) {
    const lower = name.toLowerCase();
    if (value === undefined || DROPPED_RESPONSE_HEADERS.has(lower) || connectionListed.has(lower)) continue;
    headers[lower] = value;
  }
  return headers;
}
