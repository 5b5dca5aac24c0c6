import type { ServerResponse } from 'node:http';
import { fieldValue } from '../http/request-headers.js';
import type { AdmittedRequest } from '../pipeline/handle-request.js';
import type { ExtAuthzConfig } from './schema.js';

/** A value the data plane can copy into a header as is: visible ASCII, single spaces between words. */
const HEADER_SAFE = /^[\x21-\x7e]+(?: [\x21-\x7e]+)*$/;

/**
 * The allowed answer: 200, no body, and what the data plane sets on the request it forwards — the
 * internal JWT (`Bearer …`, in `tokenHeader`), the request id and trace context, and X-Gatehouse-*
 * fields naming the route, the upstream, the rewritten canonical path and who called. Identity
 * fields are conveniences (the JWT is what a service verifies) and are left out when a value could
 * not travel in a header unchanged.
 */
export function answerAdmitted(
  res: ServerResponse,
  admitted: AdmittedRequest,
  config: ExtAuthzConfig,
): number {
  const upstream = admitted.headers;
  const headers: Record<string, string> = {
    'cache-control': 'no-store',
    'x-gatehouse-route': admitted.route.id,
    'x-gatehouse-upstream': admitted.upstreamId,
    'x-gatehouse-upstream-path': admitted.upstreamTarget,
  };
  for (const name of ['x-request-id', 'traceparent', 'tracestate']) {
    const value = fieldValue(upstream, name);
    if (value !== undefined) headers[name] = value;
  }
  const authorization = fieldValue(upstream, 'authorization');
  if (authorization !== undefined) headers[config.tokenHeader] = authorization;
  const principal = admitted.principal;
  if (principal !== undefined) {
    const identity: Record<string, string | undefined> = {
      'x-gatehouse-client-id': principal.clientId,
      'x-gatehouse-sub': principal.sub,
      'x-gatehouse-scope': [...principal.scopes].sort().join(' '),
    };
    for (const [name, value] of Object.entries(identity))
      if (value !== undefined && HEADER_SAFE.test(value)) headers[name] = value;
  }
  if (config.style === 'envoy') {
    // Envoy's HTTP ext_authz copies `allowed_upstream_headers` from this answer and removes the
    // request headers this one names: the client's credentials never go on (RFC 6750 §2.1 token,
    // RFC 9449 §4.1 proof), also on a route without auth where no internal token replaces them.
    headers['x-envoy-auth-headers-to-remove'] = authorization === undefined ? 'authorization, dpop' : 'dpop';
  }
  headers['content-length'] = '0';
  res.writeHead(200, headers);
  res.end();
  return 200;
}
