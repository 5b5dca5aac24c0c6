import { emitAuditEvent, type AuditEvent, type AuditSink, type Logger } from '@gatehouse/core';

/**
 * Which requests leave an `authz.decision` audit record (`gateway.auditRequests`):
 * - `refused` (default): the refusals of requests that presented a valid token (scope, rate limit,
 *   validation) — denials of a known client or data subject, rare in normal traffic.
 * - `authenticated`: every request that presented a valid token, admitted or refused — the API calls
 *   of a client or data subject, which `gatehouse report access` then lists. Each record is a
 *   hash-chained row: at full load this costs far more than the proxying (docs: gateway README).
 * - `all`: every request, anonymous refusals included (for low-volume APIs).
 * - `none`: no per-request record.
 * Anonymous refusals (no or a bad token, bans, bad paths) are left out except with `all`: they cost
 * an attacker nothing, so they stay in the access log and feed the detectors, whose findings are
 * audited. The access log records every request whatever the mode.
 */
export type RequestAuditMode = 'refused' | 'authenticated' | 'all' | 'none';

/** One finished request, as the pipeline saw it. */
export interface RequestDecision {
  readonly time: number;
  readonly requestId: string;
  readonly clientIp: string;
  readonly route: string;
  readonly method: string;
  /** The canonical path when the request got that far, else the path as received; never the query. */
  readonly path: string;
  readonly status: number;
  readonly clientId: string | undefined;
  readonly sub: string | undefined;
  /** Every stage let it through: proxied (or, for external authorization, answered 200). */
  readonly admitted: boolean;
  /** The error code of the gateway's own refusal; undefined when admitted. */
  readonly refusal: string | undefined;
}

/**
 * The auditor of finished requests for `mode`, or undefined when nothing is to be recorded. Events
 * are spooled without waiting (the request was answered already); a failing sink is logged.
 */
export function createRequestAuditor(
  mode: RequestAuditMode,
  audit: AuditSink | undefined,
  logger: Logger,
): ((decision: RequestDecision) => void) | undefined {
  if (mode === 'none' || audit === undefined) return undefined;
  const onError = (err: unknown): void => {
    logger.warn({ err }, 'audit sink failed (request decision)');
  };
  return (decision) => {
    const authenticated = decision.clientId !== undefined || decision.sub !== undefined;
    if (mode !== 'all' && !authenticated) return;
    if (mode === 'refused' && decision.admitted) return;
    emitAuditEvent(audit, buildDecisionEvent(decision), onError);
  };
}

/** The record of one decision: `authz.decision` as services' guard policies write it, by the gateway. */
export function buildDecisionEvent(decision: RequestDecision): AuditEvent {
  const { clientId, sub } = decision;
  return {
    time: new Date(decision.time).toISOString(),
    action: 'authz.decision',
    outcome: decision.admitted ? 'success' : 'failure',
    component: 'gateway',
    ...(clientId === undefined && sub === undefined
      ? {}
      : {
          actor: {
            ...(sub === undefined ? {} : { sub }),
            ...(clientId === undefined ? {} : { clientId }),
          },
        }),
    sourceIp: decision.clientIp,
    target: { type: 'route', id: decision.route },
    decision: decision.admitted ? 'allow' : 'deny',
    ...(decision.refusal === undefined ? {} : { reason: decision.refusal }),
    requestId: decision.requestId,
    details: { method: decision.method, path: decision.path, status: decision.status },
  };
}
