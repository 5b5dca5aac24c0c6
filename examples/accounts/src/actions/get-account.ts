import type { FastifyRequest } from 'fastify';
import { idOf, notFound, principalOf, toPolicyPrincipal } from '@gatehouse/example-service-kit';
import type { Account } from '../accounts/account-store.js';
import { ACCOUNT } from '../auth/accounts-policy.js';
import type { AccountsContext } from '../context.js';

/**
 * `GET /api/accounts/{id}` (accounts:read): another user's account is a 404 exactly like a
 * missing one (OWASP API1: no existence leak).
 */
export const getAccount =
  (context: AccountsContext) =>
  async (request: FastifyRequest): Promise<Account> => {
    const account = await context.accounts.find(idOf(request));
    if (account === undefined) throw notFound();
    const decision = context.policy.authorize(toPolicyPrincipal(principalOf(request)), 'read', {
      type: ACCOUNT,
      id: account.id,
      ownerId: account.owner,
    });
    if (!decision.allow) throw notFound();
    return account;
  };
