/** Who a test token speaks for: a user (`sub` ≠ `client_id`) or a client itself (RFC 9068 §2.2). */
export interface Caller {
  readonly sub: string;
  readonly client_id: string;
  readonly scope: string;
  readonly roles?: readonly string[];
}

/** A row of a "scopes per method" table: a request whose token lacks `needed`, refused with 403. */
export interface ScopeCase {
  readonly name: string;
  readonly scope: string;
  readonly method: string;
  readonly path: () => string;
  readonly body?: unknown;
  /** The scope the RFC 6750 §3.1 `insufficient_scope` challenge must name. */
  readonly needed: string;
}
