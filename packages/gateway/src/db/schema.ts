/**
 * Tables of the gateway. Portable conventions of every Gatehouse database (SQLite and PostgreSQL):
 * times are epoch milliseconds in `bigint` columns, read back as numbers.
 */
export interface GatewayBanTable {
  id: string;
  /** A normalized IP address or CIDR block (`192.0.2.7`, `10.0.0.0/8`, `2001:db8::/32`); unique. */
  subject: string;
  /** Why, as given by the admin or the detector; shown in `gatehouse bans list`, never request data. */
  reason: string;
  /** admin | cli | brute-force | detector */
  source: string;
  created_at: number;
  expires_at: number;
  /** Who banned: the admin or CLI user, or the detector's name. */
  created_by: string | null;
  /** Repeated offences of the subject (1 for a first ban): what escalating bans multiply by. */
  offence: number;
}

/** A route switched to its `fallbackUpstream` by an alert (or a row per alert, while several ask). */
export interface GatewayRerouteTable {
  id: string;
  /** The route id of the configuration. */
  route: string;
  /** The alert's fingerprint, or `alertname:<name>` without one; unique with `route`. */
  alert_key: string;
  alertname: string;
  fingerprint: string | null;
  /** alertmanager */
  source: string;
  created_at: number;
  /** Last time a (repeat) notification renewed it. */
  renewed_at: number;
  expires_at: number;
}

export interface GatewayDatabase {
  gateway_bans: GatewayBanTable;
  gateway_reroutes: GatewayRerouteTable;
}
