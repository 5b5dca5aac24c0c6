import { buildAuditActor, type AuditEvent, type AuditOutcome } from '@gatehouse/core';
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
 * Emits an auth-server audit event (component `auth-server`), fire and forget. Actions are dotted
 * and stable: `token.issue`, `token.refuse`, `token.revoke`, `token.reuse_detected`,
 * `client.auth_failed`, `login.success`, `login.failure`, `login.lockout`, `key.transition`,
 * `consent.grant`, `logout`. Never pass a token, secret or password.
 */
export function audit(deps: Pick<AuthServerDeps, 'audit' | 'now' | 'logger'>, input: AuditInput): void {
  void auditDurably(deps, input);
}

/**
 * Emits an audit event and resolves once the sink holds it durably (the CLI's sink: synced to the
 * process's spool, group commit). Security decisions await it before answering, so an answer the
 * client saw always has its event: token issuance and refusal, revocation, login success, failure
 * and lockout, key transitions. Rejects when the sink fails (also logged); a caller that does not
 * await it needs no handler (the returned promise has one).
 */
export function auditDurably(
  deps: Pick<AuthServerDeps, 'audit' | 'now' | 'logger'>,
  input: AuditInput,
): Promise<void> {
  const onError = (err: unknown): void => {
    deps.logger.error({ err, action: input.action }, 'audit sink failed');
  };
  let result: void | Promise<void>;
  try {
    result = deps.audit(buildEvent(deps, input));
  } catch (err) {
    onError(err);
    const failed = Promise.reject(err instanceof Error ? err : new Error(String(err)));
    failed.catch(() => undefined);
    return failed;
  }
  if (!(result instanceof Promise)) return Promise.resolve();
  // The handler marks the promise handled: a caller that ignores it causes no unhandled rejection.
  result.catch(onError);
  return result;
}

function buildEvent(deps: Pick<AuthServerDeps, 'now'>, input: AuditInput): AuditEvent {
  const actor =
    input.sub !== undefined ? buildAuditActor({ sub: input.sub, clientId: input.clientId }) : undefined;
  return {
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
}
