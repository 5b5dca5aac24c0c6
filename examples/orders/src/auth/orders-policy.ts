import type { AuditSink } from '@gatehouse/core';
import { allOf, createPolicy, owner, role, type Policy } from '@gatehouse/guard';
import { END_USER } from '@gatehouse/example-service-kit';

export const ORDER = 'order';

/**
 * Who may do what, as data (deny by default). Listing uses the `read` rule as a query filter, so a
 * list can never show what a single read would refuse (OWASP API1 BOLA).
 */
export function createOrdersPolicy(audit: AuditSink, now: () => number, component: string): Policy {
  return createPolicy(
    {
      [ORDER]: {
        read: [allOf(role(END_USER), owner('ownerId')), role('admin')],
        // A client-credentials token acts for no user and so places no user's order.
        create: role(END_USER),
      },
    },
    { audit, now, component },
  );
}
