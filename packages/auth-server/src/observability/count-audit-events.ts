import type { AuditEvent, AuditSink } from '@gatehouse/core';
import type { AuthServerMetrics, IssuedTokenType } from './auth-server-metrics.js';
import { grantTypeLabel, tokenErrorLabel } from './label-values.js';

/** Targets of a `token.revoke` that revoked tokens of a client (not a found-nothing answer, not a key). */
const REVOKED_TARGETS: ReadonlySet<string | undefined> = new Set(['grant', 'access_token']);

type Count = (event: AuditEvent, metrics: AuthServerMetrics) => void;

/**
 * What each audited security decision adds to the series. The audit event is the one record every
 * issuance, refusal, revocation, introspection and sign-in already produces (actions documented in
 * audit.ts), so the counters and the audit log cannot disagree. Events carry codes, never request
 * data; label values are still bounded here (label-values.ts).
 */
const COUNTERS = new Map<string, Count>([
  [
    'token.issue',
    ({ details }, metrics) => {
      const types: IssuedTokenType[] = ['access'];
      if (details?.['refresh_token'] === true) types.push('refresh');
      if (details?.['id_token'] === true) types.push('id');
      metrics.tokensIssued(grantTypeLabel(details?.['grant_type']), types);
    },
  ],
  // `reason` is the error code the client was answered with (actions/token.ts).
  [
    'token.refuse',
    ({ details, reason }, metrics) => {
      metrics.tokenRefused(grantTypeLabel(details?.['grant_type']), tokenErrorLabel(reason));
    },
  ],
  [
    'token.revoke',
    ({ outcome, target }, metrics) => {
      if (outcome === 'success' && REVOKED_TARGETS.has(target?.type)) metrics.tokenRevoked();
    },
  ],
  // A client not allowed to introspect is audited as a failure and answered `active: false`.
  [
    'token.introspect',
    ({ outcome, details }, metrics) => {
      metrics.introspected(outcome === 'success' && details?.['active'] === true);
    },
  ],
  ['login.success', (_event, metrics) => metrics.login('success')],
  // Wrong credentials, and attempts refused while locked.
  ['login.failure', (_event, metrics) => metrics.login('failure')],
  // A failure that locked the account or the address (audited after that failure).
  ['login.lockout', (_event, metrics) => metrics.login('lockout')],
]);

/**
 * An audit sink that counts each event in the auth server's series, then hands it to `sink`
 * unchanged (its result, durable or not, is the caller's). Counted first: the decision was made
 * and answered even if the sink then fails.
 */
export function countAuditEvents(sink: AuditSink, metrics: AuthServerMetrics): AuditSink {
  return (event) => {
    if (event.component === 'auth-server') COUNTERS.get(event.action)?.(event, metrics);
    return sink(event);
  };
}
