import type { AuditEvent } from '@gatehouse/core';
import { GatehouseError } from '@gatehouse/core';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { parseInput, principalOf, toPolicyPrincipal } from '@gatehouse/example-service-kit';
import { AUDIT_LOG } from '../auth/accounts-policy.js';
import type { AccountsContext } from '../context.js';

const auditQuery = z.strictObject({
  // Stored times are `toISOString()` text; the bound is normalised to the same form to compare.
  since: z.iso
    .datetime({ offset: true })
    .transform((value) => new Date(value).toISOString())
    .optional(),
  limit: z.coerce.number().int().min(1).max(100).default(100),
});

/**
 * `GET /api/admin/audit` (scope `admin` and role `admin`): this service's audit events, newest
 * first. A user with the scope but not the role gets 403 (OWASP API5 BFLA).
 */
export const listAuditEvents =
  (context: AccountsContext) =>
  async (request: FastifyRequest): Promise<AuditEvent[]> => {
    const decision = context.policy.authorize(toPolicyPrincipal(principalOf(request)), 'read', {
      type: AUDIT_LOG,
    });
    if (!decision.allow) throw new GatehouseError('ERR_AUTHZ_DENIED', { detail: decision.reason });
    return context.auditLog.list(parseInput(auditQuery, request.query, 'query'));
  };
