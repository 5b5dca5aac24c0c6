import { buildAuditActor, emitAuditEvent, type AuditEvent, type AuditOutcome } from '@gatehouse/core';
import type { AuthServerDeps } from './context.js';

export interface AuditInput {
  readonly action: string;
  readonly outcome: AuditOutcome;
  readonly sub?: string | undefined;
  readonly clientId?: string | undefined;
  readonly sourceIp?: string | undefined;
  readonly requestId?: string | undefined;
  readonly target?: { readonly type?: string; readonly id?: string };
  /** A stable code or short rule name, never request data. */
  readonly reason?: string | undefined;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * Emits an auth-server audit event (component `auth-server`). Actions are dotted and stable:
 * `token.issue`, `token.refuse`, `token.revoke`, `token.reuse_detected`, `client.auth_failed`,
 * `login.success`, `login.failure`, `login.lockout`, `key.transition`, `consent.grant`, `logout`.
 * Never pass a token, secret or password.
 */
export function audit(deps: Pick<AuthServerDeps, 'audit' | 'now' | 'logger'>, input: AuditInput): void {
  const actor =
    input.sub !== undefined ? buildAuditActor({ sub: input.sub, clientId: input.clientId }) : undefined;
  const event: AuditEvent = {
    time: new Date(deps.now()).toISOString(),
    action: input.action,
    outcome: input.outcome,
    component: 'auth-server',
    ...(actor !== undefined
      ? { actor }
      : input.clientId !== undefined
        ? { actor: { clientId: input.clientId } }
        : {}),
    ...(input.sourceIp === undefined ? {} : { sourceIp: input.sourceIp }),
    ...(input.requestId === undefined ? {} : { requestId: input.requestId }),
    ...(input.target === undefined ? {} : { target: input.target }),
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    ...(input.details === undefined ? {} : { details: input.details }),
  };
  emitAuditEvent(deps.audit, event, (err) => {
    deps.logger.error({ err, action: input.action }, 'audit sink failed');
  });
}
