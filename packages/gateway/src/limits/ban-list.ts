import { randomUUID } from 'node:crypto';
import { isIPv6 } from 'node:net';
import {
  emitAuditEvent,
  type AuditEvent,
  type AuditSink,
  type Logger,
  type SharedState,
} from '@gatehouse/core';
import type { Kysely, Selectable } from 'kysely';
import { createSyncedTableView } from '../db/create-synced-table-view.js';
import type { GatewayBanTable, GatewayDatabase } from '../db/schema.js';
import { buildIpSet, normalizeIp, type IpSet } from '../net/ip-set.js';

export const BAN_SOURCES = ['admin', 'cli', 'brute-force', 'detector', 'alertmanager'] as const;
export type BanSource = (typeof BAN_SOURCES)[number];

/** The shared-state channel on which every instance hears of bans added and lifted. */
export const BANS_CHANNEL = 'gateway:bans';

export interface Ban {
  readonly id: string;
  /** Normalized IP address or CIDR block. */
  readonly subject: string;
  readonly reason: string;
  readonly source: BanSource;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly createdBy: string | undefined;
  /** 1 for a first ban; the brute-force detector counts repeated offences. */
  readonly offence: number;
}

export interface BanInput {
  /** An IP address or CIDR block (IPv4 or IPv6). */
  readonly subject: string;
  readonly durationSec: number;
  readonly reason: string;
  readonly source: BanSource;
  /** Who bans (admin token name, CLI user, detector). */
  readonly actor?: string;
  readonly offence?: number;
}

export interface BanListOptions {
  readonly db: Kysely<GatewayDatabase>;
  readonly state: SharedState;
  readonly now?: () => number;
  readonly logger: Logger;
  readonly audit?: AuditSink;
  /** How often the view is reread from the database (default 1000 ms). */
  readonly syncIntervalMs?: number;
}

export interface BanList {
  /** Subscribes to ban events, loads the bans, and rereads them every `syncIntervalMs`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /**
   * The ban applying to `ip` now, from the in-memory view (synchronous: the hot path). `ip` may also
   * be a CIDR block in canonical form (a client's IPv6 network): then a ban of that block or of one
   * around it.
   */
  isBanned(ip: string): Ban | undefined;
  /** Bans `subject` (replacing its current ban); durable, and in force on every instance at once. */
  add(input: BanInput): Promise<Ban>;
  /** Lifts the ban of exactly `subject`; false when it had none. */
  remove(subject: string, actor?: string): Promise<boolean>;
  /** The bans in force, from the database, oldest first. */
  list(): Promise<readonly Ban[]>;
  /** Bans in force in the in-memory view (`gatehouse_bans_active`). */
  activeCount(): number;
}

/**
 * The canonical form of a ban subject: `::ffff:192.0.2.1` → `192.0.2.1`, IPv6 compressed and
 * lower-case (as sockets report addresses), prefix lengths without leading zeros. One address has
 * one spelling, so a subject is unique in the table and found by exact lookup.
 * Throws a TypeError for anything but an IP address or CIDR block.
 */
export function normalizeBanSubject(subject: string): string {
  const trimmed = subject.trim();
  // A zone index (fe80::1%eth0) names an interface of this host, not a client.
  if (trimmed.includes('%')) throw new TypeError(`not an IP address: ${subject}`);
  buildIpSet([trimmed]);
  const [address = '', prefix] = trimmed.split('/');
  let ip = normalizeIp(address);
  // WHATWG URL serializes IPv6 hosts in the RFC 5952 form (zeros compressed, lower case).
  if (isIPv6(ip)) ip = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  return prefix === undefined ? ip : `${ip}/${Number(prefix)}`;
}

type BanEvent =
  { readonly type: 'add'; readonly ban: Ban } | { readonly type: 'remove'; readonly subject: string };

function toBan(row: Selectable<GatewayBanTable>): Ban {
  return {
    id: row.id,
    subject: row.subject,
    reason: row.reason,
    source: (BAN_SOURCES as readonly string[]).includes(row.source) ? (row.source as BanSource) : 'admin',
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    createdBy: row.created_by ?? undefined,
    offence: row.offence,
  };
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value);

/**
 * Reads an event from the channel. Whoever can publish there can ban, so it is Redis-trust only,
 * but a malformed message (another version, a stray publisher) is dropped, never half-applied.
 */
function parseEvent(message: string): BanEvent | undefined {
  try {
    const data = JSON.parse(message) as Record<string, unknown>;
    if (data['type'] === 'remove' && isString(data['subject'])) {
      return { type: 'remove', subject: normalizeBanSubject(data['subject']) };
    }
    const ban: unknown = data['ban'];
    if (data['type'] !== 'add' || typeof ban !== 'object' || ban === null) return undefined;
    const { id, subject, reason, source, createdAt, expiresAt, createdBy, offence } = ban as Record<
      string,
      unknown
    >;
    if (
      !isString(id) ||
      !isString(subject) ||
      !isString(reason) ||
      !isString(source) ||
      !(BAN_SOURCES as readonly string[]).includes(source) ||
      !isTime(createdAt) ||
      !isTime(expiresAt) ||
      !(createdBy === undefined || isString(createdBy)) ||
      !isTime(offence)
    ) {
      return undefined;
    }
    return {
      type: 'add',
      ban: {
        id,
        subject: normalizeBanSubject(subject),
        reason,
        source: source as BanSource,
        createdAt,
        expiresAt,
        createdBy,
        offence,
      },
    };
  } catch {
    return undefined;
  }
}

/**
 * Dynamic bans. The database is the record (bans survive restarts, and `gatehouse bans` writes
 * the same table with no gateway running); the shared-state channel makes a ban bite on every
 * instance at once; a resync from the database every `syncIntervalMs` catches what no event
 * announced (a CLI write without Redis, a lost message). Lookups read an in-memory view only.
 */
export function createBanList(options: BanListOptions): BanList {
  const { db, logger, audit } = options;
  const now = options.now ?? Date.now;

  // The view: bans by subject, and what lookups need, rebuilt on every change.
  let bans = new Map<string, Ban>();
  let matcher: IpSet = buildIpSet([]);
  let blocks: { readonly ban: Ban; readonly set: IpSet }[] = [];
  let nextExpiry = Number.POSITIVE_INFINITY;
  let active = 0;

  const rebuild = (t: number): void => {
    const live = new Map<string, Ban>();
    nextExpiry = Number.POSITIVE_INFINITY;
    for (const [subject, ban] of bans) {
      if (ban.expiresAt <= t) continue;
      live.set(subject, ban);
      if (ban.expiresAt < nextExpiry) nextExpiry = ban.expiresAt;
    }
    bans = live;
    active = live.size;
    matcher = buildIpSet([...live.keys()]);
    blocks = [...live.values()]
      .filter((ban) => ban.subject.includes('/'))
      .map((ban) => ({ ban, set: buildIpSet([ban.subject]) }));
  };

  // A block (a client's IPv6 network) is banned by its own ban or by a ban of a block around it;
  // bans of single addresses inside it do not cover the rest of it.
  const banOfBlock = (block: string): Ban | undefined => {
    const exact = bans.get(block);
    if (exact !== undefined) return exact;
    const [base = '', length = ''] = block.split('/');
    for (const { ban, set } of blocks) {
      if (Number(ban.subject.slice(ban.subject.indexOf('/') + 1)) <= Number(length) && set.contains(base))
        return ban;
    }
    return undefined;
  };

  const applyTo = (view: Map<string, Ban>, event: BanEvent): void => {
    if (event.type === 'add') view.set(event.ban.subject, event.ban);
    else view.delete(event.subject);
  };

  // Events heard while a resync is reading the database are replayed over its snapshot, which
  // may predate them.
  let heardDuringSync: BanEvent[] | undefined;
  const apply = (event: BanEvent): void => {
    applyTo(bans, event);
    heardDuringSync?.push(event);
    rebuild(now());
  };

  let syncing: Promise<void> | undefined;
  const readActive = async (t: number): Promise<Ban[]> => {
    const rows = await db
      .selectFrom('gateway_bans')
      .selectAll()
      .where('expires_at', '>', t)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toBan);
  };
  const sync = (): Promise<void> => {
    syncing ??= (async () => {
      const heard: BanEvent[] = [];
      heardDuringSync = heard;
      try {
        const snapshot = new Map<string, Ban>();
        for (const ban of await readActive(now())) snapshot.set(ban.subject, ban);
        for (const event of heard) applyTo(snapshot, event);
        bans = snapshot;
        rebuild(now());
      } finally {
        heardDuringSync = undefined;
        syncing = undefined;
      }
    })();
    return syncing;
  };

  const view = createSyncedTableView(options, {
    channel: BANS_CHANNEL,
    names: ['ban', 'bans'],
    sync,
    runningSync: () => syncing,
    onMessage: (message) => {
      const event = parseEvent(message);
      if (event === undefined) logger.warn('malformed ban event ignored');
      else apply(event);
    },
  });
  const publish = (event: BanEvent): Promise<void> => view.publish(JSON.stringify(event));

  const emit = (event: Omit<AuditEvent, 'time' | 'component'>): void => {
    emitAuditEvent(
      audit,
      { time: new Date(now()).toISOString(), component: 'gateway', ...event },
      (err: unknown) => {
        logger.warn({ err }, 'audit sink failed');
      },
    );
  };

  return {
    start: () => view.start(),
    stop: () => view.stop(),

    isBanned(ip) {
      if (active === 0) return undefined;
      const t = now();
      if (t >= nextExpiry) {
        rebuild(t);
        if (active === 0) return undefined;
      }
      if (ip.includes('/')) return banOfBlock(ip);
      if (!matcher.contains(ip)) return undefined;
      const exact = bans.get(normalizeIp(ip));
      if (exact !== undefined) return exact;
      for (const block of blocks) if (block.set.contains(ip)) return block.ban;
      // An address spelled another way than its subject (an IPv4-embedding IPv6 form).
      for (const ban of bans.values()) if (buildIpSet([ban.subject]).contains(ip)) return ban;
      return undefined;
    },

    async add(input) {
      const subject = normalizeBanSubject(input.subject);
      if (!(Number.isFinite(input.durationSec) && input.durationSec > 0)) {
        throw new RangeError('durationSec must be a positive number of seconds');
      }
      const offence = input.offence ?? 1;
      if (!(Number.isSafeInteger(offence) && offence >= 1))
        throw new RangeError('offence must be a positive integer');
      const createdAt = now();
      const ban: Ban = {
        id: randomUUID(),
        subject,
        reason: input.reason,
        source: input.source,
        createdAt,
        expiresAt: createdAt + Math.ceil(input.durationSec * 1000),
        createdBy: input.actor,
        offence,
      };
      const row = {
        id: ban.id,
        subject,
        reason: ban.reason,
        source: ban.source,
        created_at: ban.createdAt,
        expires_at: ban.expiresAt,
        created_by: ban.createdBy ?? null,
        offence,
      };
      await db
        .insertInto('gateway_bans')
        .values(row)
        .onConflict((conflict) =>
          conflict.column('subject').doUpdateSet({
            id: row.id,
            reason: row.reason,
            source: row.source,
            created_at: row.created_at,
            expires_at: row.expires_at,
            created_by: row.created_by,
            offence: row.offence,
          }),
        )
        .execute();
      const event: BanEvent = { type: 'add', ban };
      apply(event);
      await publish(event);
      emit({
        action: 'gateway.ban.add',
        outcome: 'success',
        ...(input.actor === undefined ? {} : { actor: { sub: input.actor } }),
        target: { type: subject.includes('/') ? 'cidr' : 'ip', id: subject },
        reason: input.source,
        details: {
          reason: ban.reason,
          durationSec: input.durationSec,
          expiresAt: new Date(ban.expiresAt).toISOString(),
          offence,
        },
      });
      return ban;
    },

    async remove(subject, actor) {
      const normalized = normalizeBanSubject(subject);
      const deleted = await db
        .deleteFrom('gateway_bans')
        .where('subject', '=', normalized)
        .returning('expires_at')
        .execute();
      // An expired row goes too, but only a ban still in force counts as lifted.
      const t = now();
      const removed = deleted.some((row) => row.expires_at > t);
      const event: BanEvent = { type: 'remove', subject: normalized };
      apply(event);
      if (removed) await publish(event);
      emit({
        action: 'gateway.ban.remove',
        outcome: removed ? 'success' : 'failure',
        ...(actor === undefined ? {} : { actor: { sub: actor } }),
        target: { type: normalized.includes('/') ? 'cidr' : 'ip', id: normalized },
        ...(removed ? {} : { reason: 'not_banned' }),
      });
      return removed;
    },

    list: () => readActive(now()),

    activeCount() {
      const t = now();
      if (t >= nextExpiry) rebuild(t);
      return active;
    },
  };
}
