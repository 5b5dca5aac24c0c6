import type { PolicyPrincipal, Principal } from '@gatehouse/guard';

/**
 * The role this service gives a token that acts for a user. RFC 9068 §2.2: a client-credentials
 * token's `sub` is the client itself; it owns no user data, so ownership rules require this role
 * (a client id equal to some user's id must never open that user's objects).
 */
export const END_USER = 'end-user';

/** A verified token as the policy sees it: token roles, plus `end-user` when it acts for a user. */
export function toPolicyPrincipal(principal: Principal): PolicyPrincipal {
  // `end-user` is derived here only: a token claiming it in `roles` does not get it that way.
  const roles = principal.roles.filter((role) => role !== END_USER);
  const actsForUser = principal.clientId !== undefined && principal.sub !== principal.clientId;
  return {
    sub: principal.sub,
    clientId: principal.clientId,
    scopes: principal.scopes,
    tenant: principal.tenant,
    roles: actsForUser ? [...roles, END_USER] : roles,
  };
}
