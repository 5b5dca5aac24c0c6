/**
 * The audit event every component emits for a security decision. Field names follow the Elastic
 * Common Schema where one exists (noted per field) so a SIEM maps them without a lookup table.
 * Never put a token, secret or password in any field.
 */

/** ECS `event.outcome`. */
export type AuditOutcome = 'success' | 'failure' | 'unknown';

export interface AuditActor {
  /** ECS `user.id`: the subject the request acts for. */
  readonly sub?: string;
  /** The OAuth client (RFC 9068 `client_id`). */
  readonly clientId?: string;
}

export interface AuditTarget {
  readonly type?: string;
  readonly id?: string;
}

export interface AuditEvent {
  /** ECS `@timestamp`, ISO 8601 in UTC. */
  readonly time: string;
  /** ECS `event.action`, dotted and stable, e.g. `authz.decision`, `token.verify`. */
  readonly action: string;
  /** ECS `event.outcome`. */
  readonly outcome: AuditOutcome;
  /** ECS `service.name`: the component that decided. */
  readonly component: string;
  readonly actor?: AuditActor;
  /** ECS `source.ip`. */
  readonly sourceIp?: string;
  readonly target?: AuditTarget;
  /** For authorization decisions: what was decided. */
  readonly decision?: 'allow' | 'deny';
  /** ECS `event.reason`: a stable code or short rule name, never request data. */
  readonly reason?: string;
  /** ECS `http.request.id`. */
  readonly requestId?: string;
  readonly details?: Readonly<Record<string, string | number | boolean>>;
}

/** Where audit events go; a sink may be synchronous or return a promise. */
export type AuditSink = (event: AuditEvent) => void | Promise<void>;
