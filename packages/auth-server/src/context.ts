import type { AuditSink, Logger, MetricsRegistry, SharedState, SqlEngine } from '@gatehouse/core';
import type { Kysely } from 'kysely';
import type { AuthServerConfig } from './config/schema.js';
import type { AuthDatabase } from './db/schema.js';

/**
 * Everything the authorization server runs on, created by its entry point (the CLI, `gatehouse
 * up` or a test) and passed down explicitly: no module reads the environment or a global.
 */
export interface AuthServerDeps {
  readonly config: AuthServerConfig;
  readonly db: Kysely<AuthDatabase>;
  readonly engine: SqlEngine;
  readonly state: SharedState;
  /** 32-byte key-encryption key for private signing keys at rest. */
  readonly kek: Uint8Array;
  /** Clock in epoch milliseconds (tests move it by hand). */
  readonly now: () => number;
  readonly audit: AuditSink;
  readonly logger: Logger;
  /**
   * Work factor of password hashing (log2 N of scrypt). Production keeps the OWASP default (17);
   * tests may lower it.
   */
  readonly passwordLogN?: number;
  /**
   * Folder that relative file paths of the configuration (`listen.tls.*File`, `mtls.caFile`) are
   * resolved against: the configuration file's folder. Default: the working directory.
   */
  readonly baseDir?: string;
  /**
   * Registry to add the auth server's series to (one shared with other components of the process);
   * default: a registry of its own. Served on the admin listener's `/metrics`.
   */
  readonly metrics?: MetricsRegistry;
}

/** Shared-state channel on which revocations are published (see tokens/revocation-events.ts). */
export const REVOCATION_CHANNEL = 'revocations';
