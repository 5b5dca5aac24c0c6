/** The accounts service's tables (core's conventions: times in epoch milliseconds). */
export interface AccountsDatabase {
  accounts: AccountTable;
  audit_events: AuditEventTable;
}

export interface AccountTable {
  /** `acc_` + 24 hex characters. */
  id: string;
  /** `sub` of the user who created it. */
  owner_id: string;
  nickname: string;
  /** Minor currency units; no endpoint writes it. */
  balance: number;
  created_at: number;
}

export interface AuditEventTable {
  /** Insertion order, for newest-first listing. */
  seq: number | null;
  /** ISO 8601 UTC, as in the event (sorts as text). */
  time: string;
  /** The whole `AuditEvent` as JSON. */
  event: string;
}
