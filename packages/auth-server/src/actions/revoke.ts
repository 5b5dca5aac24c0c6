import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { auditDurably } from '../audit.js';
import { formOf, sourceIpOf } from '../http/create-app.js';
import { required } from '../http/params.js';
import { ENDPOINT_PATHS, type AuthServerServices } from '../services.js';
import { findToken } from '../tokens/find-token.js';
import { revokeAccessToken, revokeGrant } from '../tokens/revoke-tokens.js';
import { authenticate, challengeBasic } from './token.js';

/**
 * Token revocation (RFC 7009). The client authenticates (public clients by `client_id`, §2.1);
 * only its own tokens are revoked: another client's token, an unknown or already invalid one is
 * answered 200 all the same (§2.2: the answer reveals nothing), and a refused attempt is audited.
 * A refresh token takes its whole grant with it (its family and every access token, §2.1); an
 * access token takes the tokens exchanged from it. `token_type_hint` only orders the search (§2.1).
 * Revoked rows are kept until they expire, and each revoked access token is published (jti, exp)
 * so gateways and verifiers evict it at once.
 */
export function registerRevoke(app: FastifyInstance, services: AuthServerServices, prefix: string): void {
  const { deps, endpoints } = services;
  const onError = async (_request: FastifyRequest, reply: FastifyReply, err: unknown): Promise<void> => {
    challengeBasic(reply, services, err);
  };
  app.post(`${prefix}${ENDPOINT_PATHS.revocation}`, { onError }, async (request, reply) => {
    const params = formOf(request);
    const client = await authenticate(services, request, endpoints.revocation);
    const token = required(params, 'token');
    const found = await findToken(services, token, params['token_type_hint']);
    const base = {
      action: 'token.revoke',
      clientId: client.clientId,
      sourceIp: sourceIpOf(request),
      requestId: request.id,
    } as const;
    if (found === undefined) {
      await auditDurably(deps, { ...base, outcome: 'success', details: { found: false } });
    } else if (found.row.client_id !== client.clientId) {
      await auditDurably(deps, {
        ...base,
        outcome: 'failure',
        reason: 'token of another client',
        target: { type: found.kind },
      });
    } else if (found.kind === 'refresh_token') {
      const revoked = await revokeGrant(deps, found.row.grant_id, 'revoked_by_client');
      await auditDurably(deps, {
        ...base,
        outcome: 'success',
        sub: found.grant?.sub,
        target: { type: 'grant', id: found.row.grant_id },
        details: { kind: found.kind, access_tokens_revoked: revoked },
      });
    } else {
      const revoked = await revokeAccessToken(deps, found.row.jti);
      await auditDurably(deps, {
        ...base,
        outcome: 'success',
        sub: found.row.sub,
        target: { type: 'access_token', id: found.row.jti },
        details: { kind: found.kind, access_tokens_revoked: revoked },
      });
    }
    // RFC 7009 §2.2: 200 whether or not anything was revoked; the body is ignored.
    return reply.code(200).send('');
  });
}
