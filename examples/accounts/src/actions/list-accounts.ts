import { toSqlWhere } from '@gatehouse/guard';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseInput, principalOf, toPolicyPrincipal } from '@gatehouse/example-service-kit';
import { listQuery } from '../accounts/account-input.js';
import { ACCOUNT } from '../auth/accounts-policy.js';
import type { AccountsContext } from '../context.js';

/**
 * `GET /api/accounts` (accounts:read): the policy's read rule becomes the query's WHERE, so a user
 * sees their own accounts, the admin role all, and a client-credentials token none.
 */
export const listAccounts =
  (context: AccountsContext) =>
  async (request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const page = parseInput(listQuery, request.query, 'query');
    const filter = context.policy.filter(toPolicyPrincipal(principalOf(request)), 'read', ACCOUNT);
    const accounts = await context.accounts.list(toSqlWhere(filter, { ownerId: 'owner_id' }), page);
    const last = accounts.at(-1);
    if (accounts.length === page.limit && last !== undefined) {
      // RFC 8288: the next page, relative so it holds through the gateway.
      const next = new URLSearchParams({ limit: String(page.limit), cursor: last.id });
      void reply.header('link', `</api/accounts?${next.toString()}>; rel="next"`);
    }
    return accounts;
  };
