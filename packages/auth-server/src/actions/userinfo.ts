import { TLSSocket } from 'node:tls';
import { GuardError, type GuardRequest } from '@gatehouse/guard';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sourceIpOf } from '../http/create-app.js';
import type { InteractionContext } from '../interaction/context.js';
import { toPeerCertificate } from '../mtls/to-peer-certificate.js';
import { createUserinfoGuard } from '../oidc/userinfo-verifier.js';
import { ENDPOINT_PATHS } from '../services.js';

/** Every value of one request header, in order (a repeated Authorization is refused by guard). */
function headerValues(request: FastifyRequest, name: string): string[] {
  const raw = request.raw.rawHeaders;
  const values: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === name) values.push(raw[i + 1] as string);
  }
  return values;
}

function guardRequestOf(ctx: InteractionContext, request: FastifyRequest): GuardRequest {
  return {
    method: request.method,
    path: request.url,
    host: request.headers.host,
    secure: request.raw.socket instanceof TLSSocket,
    authorization: headerValues(request, 'authorization'),
    dpop: headerValues(request, 'dpop'),
    // RFC 8705 §3: a certificate-bound token is good only with its certificate.
    peerCertificate: toPeerCertificate(ctx.services.readCertificate(request)),
    sourceIp: sourceIpOf(request),
    requestId: request.id,
  };
}

/**
 * UserInfo (OIDC Core §5.3), GET and POST, access token in the Authorization header (Bearer or
 * DPoP). Claims follow the granted scopes (§5.4): `sub` always; `profile` adds `name` and
 * `preferred_username`; `email` adds `email`.
 */
export function registerUserinfo(app: FastifyInstance, ctx: InteractionContext, prefix: string): void {
  const guard = createUserinfoGuard(ctx.services);
  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const guardRequest = guardRequestOf(ctx, request);
    try {
      const principal = await guard.authenticate(guardRequest);
      const user = await ctx.users.get(principal.sub);
      // A client-credentials token names a client, and a deleted user has no claims.
      if (user === undefined) throw new GuardError('ERR_JWT_REVOKED', { detail: 'no such user' });
      const scopes = new Set(principal.scopes);
      const claims: Record<string, unknown> = { sub: user.sub };
      if (scopes.has('profile')) {
        claims['preferred_username'] = user.username;
        if (user.name !== null) claims['name'] = user.name;
      }
      if (scopes.has('email') && user.email !== null) claims['email'] = user.email;
      return await reply.code(200).header('content-type', 'application/json').send(JSON.stringify(claims));
    } catch (err) {
      const response = guard.refuse(err, guardRequest);
      return reply
        .code(response.status)
        .headers(response.headers as Record<string, string | string[]>)
        .send(response.body);
    }
  };
  app.route({ method: ['GET', 'POST'], url: `${prefix}${ENDPOINT_PATHS.userinfo}`, handler });
}
