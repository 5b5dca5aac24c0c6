import { constants, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { GatehouseError, openSecret, sealSecret } from '@gatehouse/core';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely';
import { audit, auditDurably } from '../audit.js';
import type { AuthServerDeps } from '../context.js';
import type { AuthDatabase, SigningKeyTable } from '../db/schema.js';
import { revokeAndAnnounce } from '../tokens/revocation-events.js';
import { signOffThread, type SigningKey } from './sign-off-thread.js';

export type SigningAlgorithm = 'ES256' | 'EdDSA' | 'RS256' | 'PS256';
export type KeyStatus = 'pending' | 'active' | 'retiring' | 'retired' | 'revoked';

/** A signing key as operators see it (`gatehouse keys list`); never the private part. */
export interface KeyInfo {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly status: KeyStatus;
  readonly generation: number;
  readonly createdAt: number;
  readonly activatesAt: number;
  readonly activatedAt: number | null;
  readonly rotatesAt: number | null;
  readonly retiringAt: number | null;
  readonly unpublishAt: number | null;
  readonly retiredAt: number | null;
}

export interface EmergencyRotation {
  readonly revokedKid: string;
  readonly newKid: string;
  /** Unexpired access tokens signed by the revoked key: they die now. */
  readonly tokensInvalidated: number;
  /** When the last of them would have expired (epoch ms), or null when none. */
  readonly latestExpiry: number | null;
}

/** One problem `gatehouse keys check` reports; never a secret in `message`. */
export interface KeyFinding {
  readonly severity: 'high' | 'medium';
  readonly code:
    | 'no_active_key'
    | 'jwks_missing_active_key'
    | 'active_key_expiring'
    | 'stale_published_key'
    | 'pending_key_overdue';
  readonly message: string;
  readonly kid?: string;
}

export interface KeyCheck {
  /** No high-severity finding (`keys check` exits non-zero otherwise). */
  readonly ok: boolean;
  readonly findings: readonly KeyFinding[];
}

export interface KeyService {
  /** Creates the first key, then advances the lifecycle; safe to run on many instances at once. */
  tick(): Promise<void>;
  /** The published key set (pending, active and retiring keys), as served at the JWKS endpoint. */
  jwks(): Promise<{ keys: JWK[] }>;
  /**
   * The public JWK of any key that ever signed, retired and revoked ones included (to verify old
   * signatures such as audit checkpoints); undefined for an unknown kid.
   */
  publicJwk(kid: string): Promise<JWK | undefined>;
  /** Signs a JWS with the active key: `typ` in the header (RFC 8725 §3.11), `kid` set. */
  sign(payload: Readonly<Record<string, unknown>>, typ: string): Promise<{ jwt: string; kid: string }>;
  list(): Promise<KeyInfo[]>;
  /** Starts the next rotation now (the new key is still pre-published before it signs). */
  rotate(): Promise<KeyInfo>;
  /** A compromised key: unpublished and replaced at once; its tokens are revoked. */
  rotateEmergency(kid?: string): Promise<EmergencyRotation>;
  /** The health of the key set, for `gatehouse keys check`. */
  check(): Promise<KeyCheck>;
  /**
   * How many keys are in each status, as of this instance's last load (start, every tick, every
   * key event): read synchronously at scrape time for `gatehouse_auth_signing_keys{state}`.
   */
  statusCounts(): Readonly<Record<KeyStatus, number>>;
  /** Runs `tick` every `checkIntervalSec` and reloads on key events from other instances. */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A key as a verifier of old signatures needs it: public part, and whether it was revoked. */
export interface VerificationKey {
  readonly kid: string;
  readonly jwk: JWK;
  readonly status: KeyStatus;
  /** When it was revoked as compromised (epoch ms); null unless `status` is `revoked`. */
  readonly revokedAt: number | null;
}

/**
 * Reads the public JWK of any signing key, whatever its status (no key-encryption key needed:
 * `gatehouse audit verify` runs without one). A revoked key's `retired_at` is its revocation time.
 */
export async function readVerificationKey(
  db: Kysely<AuthDatabase>,
  kid: string,
): Promise<VerificationKey | undefined> {
  const row = await db
    .selectFrom('signing_keys')
    .select(['kid', 'status', 'public_jwk', 'retired_at'])
    .where('kid', '=', kid)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const status = row.status as KeyStatus;
  return {
    kid: row.kid,
    jwk: JSON.parse(row.public_jwk) as JWK,
    status,
    revokedAt: status === 'revoked' ? row.retired_at : null,
  };
}

const KEY_STATUSES: readonly KeyStatus[] = ['pending', 'active', 'retiring', 'retired', 'revoked'];

/** Keys per status, every status present (0 when none). */
function countByStatus(keys: readonly { readonly status: string }[]): Record<KeyStatus, number> {
  const counts = Object.fromEntries(KEY_STATUSES.map((status) => [status, 0])) as Record<KeyStatus, number>;
  for (const key of keys) if (Object.hasOwn(counts, key.status)) counts[key.status as KeyStatus] += 1;
  return counts;
}

/** Shared-state channel telling every instance to reload its keys at once (every transition). */
export const KEY_CHANNEL = 'keys';

/** What is published on KEY_CHANNEL: the event and the key it concerns (never key material). */
export interface KeyEvent {
  readonly event: 'created' | 'promoted' | 'retired' | 'revoked' | 'rescheduled';
  readonly kid: string;
}

/**
 * Kept published beyond the longest token lifetime: verifiers accept a token up to their clock
 * tolerance after `exp` (guard: 30 s), and clocks of instances and verifiers drift.
 */
const UNPUBLISH_MARGIN_SEC = 60;

const generate = promisify(generateKeyPair);

async function generateKey(alg: SigningAlgorithm): Promise<KeyObject> {
  switch (alg) {
    case 'ES256':
      return (await generate('ec', { namedCurve: 'P-256' })).privateKey;
    case 'EdDSA':
      return (await generate('ed25519')).privateKey;
    case 'RS256':
    case 'PS256':
      return (await generate('rsa', { modulusLength: 2048 })).privateKey;
  }
}

/** node:crypto signature options per JWS algorithm (RFC 7518 §3). */
function signOptions(alg: SigningAlgorithm, key: KeyObject): { algorithm: string | null; key: SigningKey } {
  switch (alg) {
    case 'ES256':
      return { algorithm: 'sha256', key: { key, dsaEncoding: 'ieee-p1363' } };
    case 'EdDSA':
      return { algorithm: null, key };
    case 'RS256':
      return { algorithm: 'sha256', key };
    case 'PS256':
      // RFC 7518 §3.5: salt as long as the hash.
      return { algorithm: 'sha256', key: { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } };
  }
}

function infoFromRow(row: Selectable<SigningKeyTable>): KeyInfo {
  return {
    kid: row.kid,
    alg: row.alg as SigningAlgorithm,
    status: row.status as KeyStatus,
    generation: row.generation,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    activatedAt: row.activated_at,
    rotatesAt: row.rotates_at,
    retiringAt: row.retiring_at,
    unpublishAt: row.unpublish_at,
    retiredAt: row.retired_at,
  };
}

const isUniqueViolation = (err: unknown): boolean =>
  /unique|duplicate key/i.test(err instanceof Error ? err.message : String(err));

const PUBLISHED_ORDER: Readonly<Record<string, number>> = { active: 0, pending: 1, retiring: 2 };
const isPublished = (row: { status: string }): boolean => row.status in PUBLISHED_ORDER;

/** Typed parameters: PostgreSQL cannot infer the type of a bare parameter in a SELECT list. */
const text = (value: string | null): RawBuilder<string> => sql<string>`cast(${value} as text)`;
const int8 = (value: number | null): RawBuilder<number> => sql<number>`cast(${value} as bigint)`;

const iso = (ms: number): string => new Date(ms).toISOString();

interface ActiveKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly privateKey: KeyObject;
  /** When this key is due to stop signing, as last read: past it, `sign` refreshes first. */
  readonly rotatesAt: number | null;
  readonly encodedHeaderByTyp: Map<string, string>;
}

/**
 * Runs `fn` once at a time: a call while it runs queues exactly one more run (whose result is
 * fresh), and concurrent callers share it.
 */
function coalesce(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  let queued: Promise<void> | undefined;
  const run = (): Promise<void> => {
    if (running === undefined) {
      running = fn().finally(() => {
        running = undefined;
      });
      return running;
    }
    queued ??= running
      .catch(() => undefined)
      .then(() => {
        queued = undefined;
        return run();
      });
    return queued;
  };
  return run;
}

/**
 * Signing keys and their lifecycle `pending → active → retiring → retired` (or `revoked`):
 * a successor is created before the active key's rotation and published at once; it signs only
 * once it has been published for the pre-publication time (so every verifier's cached JWKS has
 * it); the demoted key stays published until every token it signed has expired.
 *
 * Multi-instance safety: every transition is ONE guarded SQL statement (its conditions re-checked
 * by the database, not by what this instance read before), so any number of instances can tick
 * together and each change happens exactly once. SQLite runs one write statement at a time; on
 * PostgreSQL the statement runs under a table lock (READ COMMITTED would otherwise evaluate a
 * statement's NOT EXISTS on a snapshot older than a concurrent writer's commit). Single statements
 * also mean no SQLite transaction is held across an await (better-sqlite3 would wait for a lock
 * synchronously, blocking the event loop its holder needs).
 */
export function createKeyService(
  deps: AuthServerDeps,
  maxTokenLifetimeSec: () => Promise<number>,
): KeyService {
  const { db, config, now } = deps;
  const { algorithm, rotationIntervalSec, prePublishSec, jwksMaxAgeSec, checkIntervalSec } = config.keys;
  const rotationMs = rotationIntervalSec * 1000;
  /**
   * A verifier can hold a JWKS fetched from an instance that has not reloaded yet (at most one
   * tick behind) for max-age: the new key signs only after both, whatever prePublishSec says.
   */
  const prePublishMs = Math.max(prePublishSec, jwksMaxAgeSec + checkIntervalSec) * 1000;
  /** An instance that has not seen a transition yet catches up within one tick. */
  const tickMs = checkIntervalSec * 1000;
  let active: ActiveKey | undefined;
  let published: { keys: JWK[] } | undefined;
  let statusCounts = countByStatus([]);
  let timer: NodeJS.Timeout | undefined;
  let background: Promise<void> | undefined;
  let unsubscribe: (() => Promise<void>) | undefined;
  let eventReload: Promise<void> | undefined;
  /** `sign` refreshes a key past its rotation time at most once a second (the clock's). */
  let refreshAfter = Number.NEGATIVE_INFINITY;

  const aad = (kid: string): string => `gatehouse:signing-key:${kid}`;

  /** Key transitions are durable before the operation returns (see auditDurably). */
  function transitionAudit(
    kid: string,
    reason: string,
    details?: Record<string, number | string>,
  ): Promise<void> {
    return auditDurably(deps, {
      action: 'key.transition',
      outcome: 'success',
      target: { type: 'signing_key', id: kid },
      reason,
      ...(details === undefined ? {} : { details }),
    });
  }

  async function announce(event: KeyEvent): Promise<void> {
    try {
      await deps.state.publish(KEY_CHANNEL, JSON.stringify(event));
    } catch (err) {
      // Other instances still catch up at their next tick.
      deps.logger.error({ err, kid: event.kid }, 'key event could not be published');
    }
  }

  /** Runs one guarded statement (see above) and returns the number of rows it changed. */
  async function guarded(
    statement: (q: Kysely<AuthDatabase>) => Promise<bigint | undefined>,
  ): Promise<number> {
    if (deps.engine !== 'postgres') return Number((await statement(db)) ?? 0n);
    return db.transaction().execute(async (trx) => {
      await sql`lock table signing_keys in share row exclusive mode`.execute(trx);
      return Number((await statement(trx)) ?? 0n);
    });
  }

  async function rows(): Promise<Selectable<SigningKeyTable>[]> {
    return db.selectFrom('signing_keys').selectAll().orderBy('generation').execute();
  }

  async function row(kid: string): Promise<Selectable<SigningKeyTable> | undefined> {
    return db.selectFrom('signing_keys').selectAll().where('kid', '=', kid).executeTakeFirst();
  }

  function openPrivateKey(key: Selectable<SigningKeyTable> & { private_key: string }): KeyObject {
    try {
      return createPrivateKey(openSecret(deps.kek, key.private_key, aad(key.kid)).toString('utf8'));
    } catch (cause) {
      throw new GatehouseError('ERR_STORE_CORRUPT', {
        detail: `signing key ${key.kid} does not open with this key-encryption key (was GATEHOUSE_KEK or the key file changed?)`,
        cause,
      });
    }
  }

  /**
   * Inserts a new key of the configured algorithm with the next generation, only if no key of
   * that status exists (and, for a successor, only while `activeKid` is still the active key).
   */
  async function insertKey(
    status: 'pending' | 'active',
    activatesAt: number,
    activeKid?: string,
  ): Promise<Selectable<SigningKeyTable> | undefined> {
    const privateKey = await generateKey(algorithm);
    const publicJwk = createPublicKey(privateKey).export({ format: 'jwk' }) as JWK;
    // RFC 7638 thumbprint: a kid that names the key material itself.
    const kid = await calculateJwkThumbprint(publicJwk, 'sha256');
    const t = now();
    const sealed = sealSecret(deps.kek, privateKey.export({ format: 'pem', type: 'pkcs8' }), aad(kid));
    const publicJson = JSON.stringify({ ...publicJwk, kid, alg: algorithm, use: 'sig' });
    const isActive = status === 'active';
    let changed: number;
    try {
      changed = await guarded(async (q) => {
        const result = await sql`
          insert into signing_keys (kid, alg, status, generation, public_jwk, private_key, created_at,
            activates_at, activated_at, rotates_at, retiring_at, unpublish_at, retired_at)
          select ${text(kid)}, ${text(algorithm)}, ${text(status)},
            (select coalesce(max(generation), 0) + 1 from signing_keys),
            ${text(publicJson)}, ${text(sealed)}, ${int8(t)}, ${int8(activatesAt)},
            ${int8(isActive ? t : null)}, ${int8(isActive ? t + rotationMs : null)},
            ${int8(null)}, ${int8(null)}, ${int8(null)}
          where not exists (select 1 from signing_keys where status = ${status})
          ${activeKid === undefined ? sql`` : sql`and exists (select 1 from signing_keys where kid = ${activeKid} and status = 'active')`}
        `.execute(q);
        return result.numAffectedRows;
      });
    } catch (err) {
      // The unique (alg, generation) is the last line: another instance created it first.
      if (isUniqueViolation(err)) return undefined;
      throw err;
    }
    if (changed !== 1) return undefined;
    await transitionAudit(kid, `created ${status}`);
    await announce({ event: 'created', kid });
    return row(kid);
  }

  /** With no active key (first start, or the active one revoked): the successor, else a new key. */
  async function ensureActive(keys: readonly Selectable<SigningKeyTable>[]): Promise<void> {
    const t = now();
    const pending = keys.find((k) => k.status === 'pending');
    if (pending === undefined) {
      // Nothing to hand over from (first start, or every key revoked): the new key signs at once;
      // a verifier holding an older JWKS refetches it on the unknown kid.
      await insertKey('active', t);
      return;
    }
    const changed = await guarded(async (q) => {
      const result = await q
        .updateTable('signing_keys')
        .set({ status: 'active', activated_at: t, rotates_at: t + rotationMs })
        .where('kid', '=', pending.kid)
        .where('status', '=', 'pending')
        .where((eb) =>
          eb.not(
            eb.exists(
              eb.selectFrom('signing_keys as other').select('kid').where('other.status', '=', 'active'),
            ),
          ),
        )
        .executeTakeFirst();
      return result.numUpdatedRows;
    });
    if (changed === 1) {
      await transitionAudit(pending.kid, 'pending -> active');
      await announce({ event: 'promoted', kid: pending.kid });
    }
  }

  /** Demotes `current` and promotes `next` in one statement: never two active keys, never none. */
  async function promote(
    current: Selectable<SigningKeyTable>,
    next: Selectable<SigningKeyTable>,
  ): Promise<void> {
    const t = now();
    // Tokens it signed (also by an instance one tick behind) stay verifiable until they expire.
    const unpublishAt = t + ((await maxTokenLifetimeSec()) + checkIntervalSec + UNPUBLISH_MARGIN_SEC) * 1000;
    const ready = t - prePublishMs;
    const changed = await guarded(async (q) => {
      const both = sql`(kid = ${current.kid} and status = 'active')
        or (kid = ${next.kid} and status = 'pending' and activates_at <= ${int8(t)} and created_at <= ${int8(ready)})`;
      const result = await sql`
        update signing_keys set
          status = case when kid = ${current.kid} then 'retiring' else 'active' end,
          private_key = case when kid = ${current.kid} then null else private_key end,
          retiring_at = case when kid = ${current.kid} then ${int8(t)} else retiring_at end,
          unpublish_at = case when kid = ${current.kid} then ${int8(unpublishAt)} else unpublish_at end,
          activated_at = case when kid = ${next.kid} then ${int8(t)} else activated_at end,
          rotates_at = case when kid = ${next.kid} then ${int8(t + rotationMs)} else rotates_at end
        where (${both}) and (select count(*) from signing_keys where ${both}) = 2
      `.execute(q);
      return result.numAffectedRows;
    });
    if (changed === 0) return;
    if (changed !== 2) {
      throw new GatehouseError('ERR_STORE_CORRUPT', { detail: `key promotion changed ${changed} rows` });
    }
    // The demoted key never signs again: its private key goes now, not at retirement.
    await transitionAudit(current.kid, 'active -> retiring', { unpublishAt: iso(unpublishAt) });
    await transitionAudit(next.kid, 'pending -> active');
    await announce({ event: 'promoted', kid: next.kid });
  }

  /** Unpublishes a retiring key once no token it signed can still be accepted. */
  async function retire(key: Selectable<SigningKeyTable>): Promise<void> {
    const t = now();
    const marginMs = UNPUBLISH_MARGIN_SEC * 1000;
    // Access tokens are recorded with their kid: one signed later than planned (an instance that
    // missed the promotion) keeps the key published until it expires.
    const latest = await db
      .selectFrom('access_tokens')
      .select((eb) => eb.fn.max<number | null>('expires_at').as('latest'))
      .where('expires_at', '>', t - marginMs)
      .where('kid', '=', key.kid)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    const keepUntil = latest?.latest == null ? null : latest.latest + marginMs;
    if (keepUntil !== null && keepUntil > t) {
      const changed = await guarded(async (q) => {
        const result = await q
          .updateTable('signing_keys')
          .set({ unpublish_at: keepUntil })
          .where('kid', '=', key.kid)
          .where('status', '=', 'retiring')
          .where('unpublish_at', '<', keepUntil)
          .executeTakeFirst();
        return result.numUpdatedRows;
      });
      if (changed === 1)
        await transitionAudit(key.kid, 'unpublication postponed', { unpublishAt: iso(keepUntil) });
      return;
    }
    const changed = await guarded(async (q) => {
      const result = await q
        .updateTable('signing_keys')
        .set({ status: 'retired', retired_at: t, private_key: null })
        .where('kid', '=', key.kid)
        .where('status', '=', 'retiring')
        .where('unpublish_at', '<=', t)
        .executeTakeFirst();
      return result.numUpdatedRows;
    });
    if (changed === 1) {
      await transitionAudit(key.kid, 'retiring -> retired');
      await announce({ event: 'retired', kid: key.kid });
    }
  }

  /** Revokes the unexpired access tokens of a revoked key; returns how many. */
  async function revokeTokensOf(kid: string, t: number, within: Kysely<AuthDatabase> = db): Promise<number> {
    const result = await within
      .updateTable('access_tokens')
      .set({ revoked_at: t })
      .where('expires_at', '>', t)
      .where('kid', '=', kid)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async function advance(): Promise<void> {
    const t = now();
    let keys = await rows();
    let current = keys.find((k) => k.status === 'active');
    if (current === undefined) {
      await ensureActive(keys);
      keys = await rows();
      current = keys.find((k) => k.status === 'active');
      if (current === undefined) return;
    }
    let pending = keys.find((k) => k.status === 'pending');
    const rotatesAt = current.rotates_at ?? Number.POSITIVE_INFINITY;
    if (pending === undefined && t >= rotatesAt - prePublishMs) {
      // Published from now on; signs from the rotation, and never before pre-publication ends.
      pending = await insertKey('pending', Math.max(rotatesAt, t + prePublishMs), current.kid);
    }
    if (pending !== undefined && t >= pending.activates_at && t >= pending.created_at + prePublishMs) {
      await promote(current, pending);
    }
    for (const key of keys) {
      if (key.status === 'retiring' && key.unpublish_at !== null && t >= key.unpublish_at) await retire(key);
      // An instance that had not heard of a revocation yet may have signed with the key since.
      if (key.status === 'revoked' && key.retired_at !== null && t - key.retired_at <= 2 * tickMs) {
        const late = await revokeTokensOf(key.kid, t);
        if (late > 0) {
          audit(deps, {
            action: 'token.revoke',
            outcome: 'success',
            target: { type: 'signing_key', id: key.kid },
            reason: 'signing_key_revoked',
            details: { count: late },
          });
        }
      }
    }
  }

  async function load(): Promise<void> {
    const keys = await rows();
    statusCounts = countByStatus(keys);
    published = {
      keys: keys
        .filter(isPublished)
        .sort((a, b) => (PUBLISHED_ORDER[a.status] ?? 0) - (PUBLISHED_ORDER[b.status] ?? 0))
        .map((k) => JSON.parse(k.public_jwk) as JWK),
    };
    const current = keys.find((k) => k.status === 'active');
    if (current === undefined || current.private_key === null) {
      active = undefined;
      return;
    }
    if (active?.kid === current.kid) {
      active = { ...active, rotatesAt: current.rotates_at };
      return;
    }
    active = {
      kid: current.kid,
      alg: current.alg as SigningAlgorithm,
      privateKey: openPrivateKey({ ...current, private_key: current.private_key }),
      rotatesAt: current.rotates_at,
      encodedHeaderByTyp: new Map(),
    };
  }

  // Every load goes through one queue: two overlapping loads could otherwise finish out of order
  // and leave the older view cached.
  const reload = coalesce(load);
  const tick = coalesce(async () => {
    await advance();
    await reload();
  });

  function encodedHeader(key: ActiveKey, typ: string): string {
    let header = key.encodedHeaderByTyp.get(typ);
    if (header === undefined) {
      header = Buffer.from(JSON.stringify({ alg: key.alg, typ, kid: key.kid })).toString('base64url');
      key.encodedHeaderByTyp.set(typ, header);
    }
    return header;
  }

  function onKeyEvent(message: string): void {
    let event: Partial<KeyEvent> | undefined;
    try {
      event = JSON.parse(message) as Partial<KeyEvent>;
    } catch {
      event = undefined;
    }
    // A revoked key stops signing here at once, before the reload completes.
    if (event?.event === 'revoked' && event.kid === active?.kid) active = undefined;
    eventReload = reload().catch((err: unknown) => {
      deps.logger.error({ err }, 'key reload failed');
    });
  }

  async function jwks(): Promise<{ keys: JWK[] }> {
    if (published === undefined) await reload();
    return published ?? { keys: [] };
  }

  return {
    tick,
    jwks,
    async publicJwk(kid) {
      return (await readVerificationKey(db, kid))?.jwk;
    },
    async sign(payload, typ) {
      const t = now();
      let key = active;
      if (key === undefined) {
        await tick();
        key = active;
      } else if (key.rotatesAt !== null && t >= key.rotatesAt && t >= refreshAfter) {
        // Due to rotate: promote (or learn of the promotion) before signing with it again.
        refreshAfter = t + 1000;
        try {
          await tick();
        } catch (err) {
          deps.logger.error({ err }, 'key lifecycle tick failed; signing with the current key');
        }
        key = active ?? key;
      }
      if (key === undefined)
        throw new GatehouseError('ERR_STORE_UNAVAILABLE', { detail: 'no active signing key' });
      const input = `${encodedHeader(key, typ)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
      const { algorithm: digest, key: signingKey } = signOptions(key.alg, key.privateKey);
      const signature = await signOffThread(digest, Buffer.from(input), signingKey);
      return { jwt: `${input}.${signature.toString('base64url')}`, kid: key.kid };
    },
    async list() {
      return (await rows()).map(infoFromRow);
    },
    statusCounts: () => statusCounts,
    async rotate() {
      // Not a full advance first: a successor ready now is the rotation asked for, not a reason
      // to start yet another one after it.
      if ((await rows()).every((k) => k.status !== 'active')) await advance();
      const keys = await rows();
      const current = keys.find((k) => k.status === 'active');
      if (current === undefined) throw new GatehouseError('ERR_STORE_CORRUPT', { detail: 'no active key' });
      const t = now();
      let successor = keys.find((k) => k.status === 'pending');
      if (successor === undefined) {
        successor = await insertKey('pending', t + prePublishMs, current.kid);
      } else {
        // Bring it forward, but never before it has been published for the pre-publication time.
        const pendingKid = successor.kid;
        const changed = await guarded(async (q) => {
          const result = await q
            .updateTable('signing_keys')
            .set((eb) => ({ activates_at: eb('created_at', '+', prePublishMs) }))
            .where('kid', '=', pendingKid)
            .where('status', '=', 'pending')
            .where((eb) => eb('activates_at', '>', eb('created_at', '+', prePublishMs)))
            .executeTakeFirst();
          return result.numUpdatedRows;
        });
        if (changed === 1) await transitionAudit(pendingKid, 'activation brought forward');
        successor = await row(pendingKid);
      }
      successor ??= (await rows()).find((k) => k.status === 'pending');
      if (successor === undefined)
        throw new GatehouseError('ERR_STORE_CORRUPT', { detail: 'no successor key' });
      const activatesAt = successor.activates_at;
      const rescheduled = await guarded(async (q) => {
        const result = await q
          .updateTable('signing_keys')
          .set({ rotates_at: activatesAt })
          .where('kid', '=', current.kid)
          .where('status', '=', 'active')
          .where('rotates_at', '>', activatesAt)
          .executeTakeFirst();
        return result.numUpdatedRows;
      });
      if (rescheduled === 1) {
        await transitionAudit(current.kid, 'rotation brought forward', { rotatesAt: iso(activatesAt) });
        await announce({ event: 'rescheduled', kid: current.kid });
      }
      // Promotes at once when the successor has already been published long enough.
      await advance();
      await reload();
      const info = await row(successor.kid);
      return infoFromRow(info ?? successor);
    },
    async rotateEmergency(kid) {
      const keys = await rows();
      const target =
        kid === undefined ? keys.find((k) => k.status === 'active') : keys.find((k) => k.kid === kid);
      const t = now();
      // One transaction: the key is revoked together with its unexpired tokens and the `{kid}`
      // event that makes verifiers drop results cached under it (they also stop finding it in the
      // JWKS), so a crash halfway never leaves a revoked key whose cached results live on.
      const tokensInvalidated =
        target === undefined
          ? undefined
          : await revokeAndAnnounce(deps, async (trx, announceRevocation) => {
              if (deps.engine === 'postgres') {
                await sql`lock table signing_keys in share row exclusive mode`.execute(trx);
              }
              const result = await trx
                .updateTable('signing_keys')
                .set({ status: 'revoked', retired_at: t, private_key: null })
                .where('kid', '=', target.kid)
                .where('status', 'in', ['pending', 'active', 'retiring'])
                .executeTakeFirst();
              if (Number(result.numUpdatedRows) !== 1) return undefined;
              // This instance stops signing with it before anything else can fail (a signer
              // finding no key reloads the committed state: still this key if this rolls back).
              if (active?.kid === target.kid) active = undefined;
              announceRevocation({ kid: target.kid });
              return revokeTokensOf(target.kid, t, trx);
            });
      if (target === undefined || tokensInvalidated === undefined) {
        // Maybe revoked by another instance just now: stop signing with it here too.
        await reload();
        throw new GatehouseError('ERR_CONFIG_INVALID', {
          detail: `no published key ${kid ?? '(active)'}: unknown, retired or already revoked`,
        });
      }
      const latest = await db
        .selectFrom('access_tokens')
        .select((eb) => eb.fn.max<number | null>('expires_at').as('latest'))
        .where('kid', '=', target.kid)
        .where('revoked_at', '=', t)
        .where('expires_at', '>', t)
        .executeTakeFirst();
      const latestExpiry = latest?.latest ?? null;
      await transitionAudit(target.kid, `${target.status} -> revoked`, {
        tokensInvalidated,
        ...(latestExpiry === null ? {} : { latestExpiry: iso(latestExpiry) }),
      });
      if ((await rows()).every((k) => k.status !== 'active')) await ensureActive(await rows());
      await reload();
      await announce({ event: 'revoked', kid: target.kid });
      const next = (await rows()).find((k) => k.status === 'active');
      return { revokedKid: target.kid, newKid: next?.kid ?? '', tokensInvalidated, latestExpiry };
    },
    async check() {
      const t = now();
      const keys = await rows();
      const served = await jwks();
      const servedKids = new Set(served.keys.map((k) => k.kid));
      const findings: KeyFinding[] = [];
      const current = keys.find((k) => k.status === 'active');
      if (current === undefined) {
        findings.push({ severity: 'high', code: 'no_active_key', message: 'no active signing key' });
      } else {
        if (!servedKids.has(current.kid)) {
          findings.push({
            severity: 'high',
            code: 'jwks_missing_active_key',
            message: `the JWKS does not publish the active key ${current.kid}`,
            kid: current.kid,
          });
        }
        const successor = keys.find((k) => k.status === 'pending' && servedKids.has(k.kid));
        const rotatesAt = current.rotates_at;
        // Near its rotation, past the time (plus one tick) its successor should have been published.
        if (
          successor === undefined &&
          rotatesAt !== null &&
          rotatesAt - t <= config.keys.expiryWarningSec * 1000 &&
          t > rotatesAt - prePublishMs + tickMs
        ) {
          findings.push({
            severity: 'high',
            code: 'active_key_expiring',
            message: `the active key ${current.kid} rotates out at ${iso(rotatesAt)} and no successor is published`,
            kid: current.kid,
          });
        }
      }
      for (const key of keys) {
        if (key.status === 'pending' && t > key.activates_at + tickMs) {
          findings.push({
            severity: 'medium',
            code: 'pending_key_overdue',
            message: `pending key ${key.kid} was due to sign from ${iso(key.activates_at)} and is still pending`,
            kid: key.kid,
          });
        }
        if (key.status === 'retiring' && key.unpublish_at !== null && t > key.unpublish_at + tickMs) {
          findings.push({
            severity: 'high',
            code: 'stale_published_key',
            message: `retiring key ${key.kid} was due to leave the JWKS at ${iso(key.unpublish_at)}`,
            kid: key.kid,
          });
        }
        if (!isPublished(key) && servedKids.has(key.kid)) {
          findings.push({
            severity: 'high',
            code: 'stale_published_key',
            message: `the JWKS still publishes ${key.status} key ${key.kid}`,
            kid: key.kid,
          });
        }
      }
      return { ok: findings.every((f) => f.severity !== 'high'), findings };
    },
    async start() {
      // A wrong key-encryption key fails here, before this instance changes anything.
      for (const key of await rows()) {
        if (key.private_key !== null) openPrivateKey({ ...key, private_key: key.private_key });
      }
      unsubscribe = await deps.state.subscribe(KEY_CHANNEL, onKeyEvent);
      await tick();
      timer = setInterval(
        () => {
          background ??= tick()
            .catch((err: unknown) => {
              deps.logger.error({ err }, 'key lifecycle tick failed');
            })
            .finally(() => {
              background = undefined;
            });
          // setInterval holds at most 2^31 - 1 ms (a longer delay fires at once, continually).
        },
        Math.min(tickMs, 2 ** 31 - 1),
      );
      timer.unref();
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await background;
      await unsubscribe?.();
      unsubscribe = undefined;
      // Nothing of this service runs on after stop (the caller closes the database next).
      await eventReload;
    },
  };
}
