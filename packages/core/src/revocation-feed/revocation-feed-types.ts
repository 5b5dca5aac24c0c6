import type { Generated } from 'kysely';

/**
 * A revocation as the auth server announces it (the shapes of its `RevocationEvent` and of the
 * gateway's): one token by `jti` (with its `exp`, epoch seconds), a session by `sid`, every token
 * of a subject issued at or before `issuedBefore` (epoch seconds), or every token signed by `kid`.
 */
export type RevocationFeedEvent =
  | { readonly jti: string; readonly exp: number | undefined }
  | { readonly sid: string }
  | { readonly sub: string; readonly issuedBefore: number }
  | { readonly kid: string };

/** One row of the feed, as read back. */
export interface RevocationFeedEntry {
  /** Position in the feed: strictly increasing, never reused (gaps are possible). */
  readonly id: number;
  /**
   * The event as JSON text: the same bytes the auth server publishes on the shared-state channel,
   * so a reader parses both sources with one defensive parser.
   */
  readonly message: string;
  /** When it was appended (epoch ms, the appender's clock). */
  readonly createdAt: number;
}

/** The feed's table (kysely). */
export interface RevocationFeedTable {
  id: Generated<number>;
  event: string;
  created_at: number;
}

export interface RevocationFeedDatabase {
  revocation_feed: RevocationFeedTable;
}

/** A bigint column as a number (PostgreSQL pools that do not parse int8 return strings). */
export const toNumber = (value: number | string | bigint): number => Number(value);

/** How long rows are kept by default (24 h): far longer than any access token should live. */
export const REVOCATION_FEED_RETENTION_MS = 24 * 3600 * 1000;
