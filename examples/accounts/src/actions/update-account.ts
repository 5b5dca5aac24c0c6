import type { FastifyRequest } from 'fastify';
import { idOf, notFound, parseInput, principalOf, toPolicyPrincipal } from '@gatehouse/example-service-kit';
import { accountPatch } from '../accounts/account-input.js';
import type { Account } from '../accounts/account-store.js';
import { ACCOUNT } from '../auth/accounts-policy.js';
import type { AccountsContext } from '../context.js';

/**
 * `PATCH /api/accounts/{id}` (accounts:write): the owner may rename; `id`, `owner` and `balance`
 * are refused with 400 (OWASP API3). Someone else's account is a 404, checked before the body so
 * a refusal never tells whether the id exists.
 */
export const updateAccount =
  (context: AccountsContext) =>
  async (request: FastifyRequest): Promise<Account> => {
    const account = await context.accounts.find(idOf(request));
    if (account === undefined) throw notFound();
    const decision = context.policy.authorize(toPolicyPrincipal(principalOf(request)), 'update', {
      type: ACCOUNT,
      id: account.id,
      ownerId: account.owner,
    });
    if (!decision.allow) throw notFound();
    const patch = parseInput(accountPatch, request.body, 'body');
    if (patch.nickname === undefined) return account;
    const renamed = await context.accounts.rename(account.id, patch.nickname);
    if (renamed === undefined) throw notFound();
    return renamed;
  };
