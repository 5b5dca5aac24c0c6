import { GatehouseError } from '@gatehouse/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { parseInput, principalOf, toPolicyPrincipal } from '@gatehouse/example-service-kit';
import { accountCreate } from '../accounts/account-input.js';
import type { Account } from '../accounts/account-store.js';
import { ACCOUNT } from '../auth/accounts-policy.js';
import type { AccountsContext } from '../context.js';

/**
 * `POST /api/accounts` (accounts:write): the owner is the token's user, never the body; a
 * client-credentials token (no user) may not create one.
 */
export const createAccount =
  (context: AccountsContext) =>
  async (request: FastifyRequest, reply: FastifyReply): Promise<Account> => {
    const principal = principalOf(request);
    const decision = context.policy.authorize(toPolicyPrincipal(principal), 'create', {
      type: ACCOUNT,
      ownerId: principal.sub,
    });
    if (!decision.allow) throw new GatehouseError('ERR_AUTHZ_DENIED', { detail: decision.reason });
    const { nickname } = parseInput(accountCreate, request.body, 'body');
    const account = await context.accounts.create(principal.sub, nickname);
    void reply.code(201).header('location', `/api/accounts/${account.id}`);
    return account;
  };
