import type { AuditSink } from '@gatehouse/core';
import { allOf, createPolicy, owner, role, scope, type Policy } from '@gatehouse/guard';
import { END_USER } from '@gatehouse/example-service-kit';

export const ACCOUNT = 'account';
export const AUDIT_LOG = 'audit-log';

/**
 * Who may do what, as data (deny by default). Listing uses the `read` rule as a query filter, so a
 * list can never show what a single read would refuse (OWASP API1 BOLA).
 */
export function createAccountsPolicy(audit: AuditSink, now: () => number, component: string): Policy {
  const ownAccount = allOf(role(END_USER), owner('ownerId'));
  return createPolicy(
    {
      [ACCOUNT]: {
        read: [ownAccount, role('admin')],
        create: role(END_USER),
        // Only owners rename; the admin role reads everything but changes nothing it does not own.
        update: ownAccount,
      },
      // OWASP API5 BFLA: the scope alone is not enough, the user must hold the admin role too.
      [AUDIT_LOG]: { read: allOf(role('admin'), scope('admin')) },
    },
    { audit, now, component },
  );
}
