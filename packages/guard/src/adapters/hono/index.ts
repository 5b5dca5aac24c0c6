import type { Context, MiddlewareHandler } from 'hono';
import type { Principal } from '../../jwt/principal.js';
import { getPeerCertificate, type PeerCertificate } from '../../mtls/peer-certificate.js';
import { createGuard, type GuardOptions, type GuardRequest } from '../create-guard.js';

export type { GuardOptions } from '../create-guard.js';

export interface HonoGuardOptions extends GuardOptions {
  /**
   * The client certificate of the connection. Default: the socket of `@hono/node-server`
   * (`c.env.incoming.socket`); other runtimes supply their own.
   */
  readonly peerCertificate?: (c: Context) => PeerCertificate | undefined;
}

export type GuardVariables = { principal: Principal };

function nodeSocket(c: Context): unknown {
  const env = c.env as { incoming?: { socket?: unknown } } | undefined;
  return env?.incoming?.socket;
}

/**
 * Fetch joins repeated fields with ", ". No credential or JWS contains a comma, so a joined
 * `Authorization` fails the syntax check and joined `DPoP` values are split back to be counted.
 */
function fieldValues(headers: Headers, name: string, split: boolean): string[] {
  const value = headers.get(name);
  if (value === null) return [];
  return split ? value.split(',').map((part) => part.trim()) : [value];
}

/** Hono middleware: sets `c.var.principal` or answers the refusal. */
export function guard(options: HonoGuardOptions): MiddlewareHandler<{ Variables: GuardVariables }> {
  const core = createGuard(options);
  const peer = options.peerCertificate ?? ((c: Context) => getPeerCertificate(nodeSocket(c)));
  return async (c, next) => {
    const url = new URL(c.req.url);
    const socket = nodeSocket(c) as { remoteAddress?: string } | undefined;
    const request: GuardRequest = {
      method: c.req.method,
      path: url.pathname + url.search,
      host: c.req.header('host'),
      secure: url.protocol === 'https:',
      authorization: fieldValues(c.req.raw.headers, 'authorization', false),
      dpop: fieldValues(c.req.raw.headers, 'dpop', true),
      peerCertificate: peer(c),
      sourceIp: socket?.remoteAddress,
      requestId: c.req.header('x-request-id'),
    };
    let principal: Principal;
    try {
      principal = await core.authenticate(request);
    } catch (err) {
      const response = core.refuse(err, request);
      const headers = new Headers();
      for (const [name, value] of Object.entries(response.headers)) {
        for (const item of typeof value === 'string' ? [value] : value) headers.append(name, item);
      }
      return new Response(response.body, { status: response.status, headers });
    }
    c.set('principal', principal);
    await next();
    return undefined;
  };
}
