import { randomUUID } from 'node:crypto';
import {
  emitAuditEvent,
  type AuditEvent,
  type AuditSink,
  type Logger,
  type SharedState,
} from '@gatehouse/core';
import type { Kysely, Selectable } from 'kysely';
import type { RouteConfig } from '../config/schema.js';
import { createSyncedTableView } from '../db/create-synced-table-view.js';
import type { GatewayDatabase, GatewayRerouteTable } from '../db/schema.js';

/**
 * The shared-state channel on which every instance hears that the reroutes changed. A message
 * carries no data: it only makes the instance reread the table, so a stray publisher can cause a
 * read, never a reroute.
 */
export const REROUTES_CHANNEL = 'gateway:reroutes';

export const REROUTE_SOURCES = ['alertmanager'] as const;
export type RerouteSource = (typeof REROUTE_SOURCES)[number];

/** One alert's request that a route be served by its `fallbackUpstream`. */
export interface Reroute {
  readonly id: string;
  readonly route: string;
  readonly alertname: string;
  readonly fingerprint: string | undefined;
  readonly source: RerouteSource;
  readonly createdAt: number;
  /** Last time a (repeat) notification renewed it. */
  readonly renewedAt: number;
  readonly expiresAt: number;
}

export interface RerouteInput {
  /** A route id of the configuration. */
  readonly route: string;
  readonly alertname: string;
  /** Alertmanager's fingerprint of the alert (its identity across notifications). */
  readonly fingerprint?: string | undefined;
  readonly durationSec: number;
  readonly source: RerouteSource;
  readonly actor?: string;
}

export type RerouteResult =
  | {
      readonly ok: true;
      readonly reroute: Reroute;
      /** The fallback upstream the route now goes to. */
      readonly upstream: string;
      /** True when the alert's reroute was in force already (a repeat notification). */
      readonly renewed: boolean;
    }
  | { readonly ok: false; readonly reason: 'unknown_route' | 'no_fallback' };

/** Which reroutes `lift` removes: all of a route's, or the one a resolved alert had set. */
export interface LiftOptions {
  /** The resolved alert: its reroute goes, matched by fingerprint, else by alertname. */
  readonly alert?: { readonly alertname: string; readonly fingerprint?: string | undefined };
  readonly actor?: string;
}

export interface RerouteListOptions {
  readonly db: Kysely<GatewayDatabase>;
  readonly state: SharedState;
  /**
   * The routes in force (a reroute needs one with a `fallbackUpstream`). Absent (the CLI): `set`
   * refuses every route and `prune` keeps everything.
   */
  readonly routes?: () => readonly RouteConfig[];
  readonly now?: () => number;
  readonly logger: Logger;
  readonly audit?: AuditSink | undefined;
  /** How often the view is reread from the database and expiries swept (default 1000 ms). */
  readonly syncIntervalMs?: number;
}

export interface RerouteList {
  /** Subscribes to the channel, drops reroutes of routes without a fallback, loads the rest. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Whether a route is rerouted now, from the in-memory view (synchronous: the hot path). */
  isRerouted(route: string): boolean;
  /** Reroutes (or renews the reroute of) a route for an alert; durable and shared by every instance. */
  set(input: RerouteInput): Promise<RerouteResult>;
  /** Lifts a route's reroutes (or the one of a resolved alert); how many were in force. */
  lift(route: string, options?: LiftOptions): Promise<number>;
  /** The reroutes in force, from the database, by route then age. */
  list(): Promise<readonly Reroute[]>;
  /**
   * Drops the reroutes of routes that no longer have a fallback (after a configuration reload),
   * each with a log line and an audit event.
   */
  prune(): Promise<void>;
}

function toReroute(row: Selectable<GatewayRerouteTable>): Reroute {
  return {
    id: row.id,
    route: row.route,
    alertname: row.alertname,
    fingerprint: row.fingerprint ?? undefined,
    source: 'alertmanager',
    createdAt: row.created_at,
    renewedAt: row.renewed_at,
    expiresAt: row.expires_at,
  };
}

/**
 * Alert-driven failover of routes to their `fallbackUpstream`. As with bans, the database is the
 * record (reroutes survive restarts and reloads); a message on the shared-state channel makes
 * every instance reread it at once, and a resync every `syncIntervalMs` catches a lost message.
 * A reroute expires unless renewed, since the resolved notification that would lift it can be
 * lost; expired rows are swept by whichever instance sees them first, which audits the expiry.
 */
export function createRerouteList(options: RerouteListOptions): RerouteList {
  const { db, logger, audit } = options;
  const now = options.now ?? Date.now;
  const routes = options.routes ?? ((): readonly RouteConfig[] => []);

  // The view: the latest expiry per rerouted route.
  let until = new Map<string, number>();

  const emit = (event: Omit<AuditEvent, 'time' | 'component' | 'action'>): void => {
    emitAuditEvent(
      audit,
      { time: new Date(now()).toISOString(), component: 'gateway', action: 'gateway.reroute', ...event },
      (err: unknown) => logger.warn({ err }, 'audit sink failed'),
    );
  };
  const emitChange = (
    change: 'set' | 'renewed' | 'lifted' | 'expired' | 'dropped',
    reroute: Reroute,
    actor: string | undefined,
    upstream?: string,
  ): void => {
    emit({
      outcome: 'success',
      reason: change,
      ...(actor === undefined ? {} : { actor: { sub: actor } }),
      target: { type: 'route', id: reroute.route },
      details: {
        alertname: reroute.alertname,
        ...(reroute.fingerprint === undefined ? {} : { fingerprint: reroute.fingerprint }),
        ...(upstream === undefined ? {} : { upstream }),
        source: reroute.source,
        expiresAt: new Date(reroute.expiresAt).toISOString(),
      },
    });
  };

  const readActive = async (t: number): Promise<Reroute[]> => {
    const rows = await db
      .selectFrom('gateway_reroutes')
      .selectAll()
      .where('expires_at', '>', t)
      .orderBy('route')
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(toReroute);
  };

  /** Deletes expired rows; the instance whose delete returns a row audits its expiry (once). */
  const sweep = async (t: number): Promise<void> => {
    // A read first: on SQLite every instance deleting once a second would queue for the write lock.
    const expired = await db
      .selectFrom('gateway_reroutes')
      .select('id')
      .where('expires_at', '<=', t)
      .execute();
    if (expired.length === 0) return;
    const deleted = await db
      .deleteFrom('gateway_reroutes')
      .where(
        'id',
        'in',
        expired.map((row) => row.id),
      )
      .where('expires_at', '<=', t)
      .returningAll()
      .execute();
    for (const reroute of deleted.map(toReroute)) {
      logger.info(
        { route: reroute.route, alertname: reroute.alertname },
        'reroute expired: the route is back on its upstream unless another alert reroutes it',
      );
      emitChange('expired', reroute, undefined);
    }
  };

  // One sync at a time; a change heard during one runs another after it (its read may predate it).
  let syncing: Promise<void> | undefined;
  let requested = 0;
  const runSync = async (): Promise<void> => {
    let done: number;
    do {
      done = requested;
      const t = now();
      await sweep(t);
      const next = new Map<string, number>();
      for (const reroute of await readActive(t))
        next.set(reroute.route, Math.max(next.get(reroute.route) ?? 0, reroute.expiresAt));
      until = next;
    } while (requested !== done);
  };
  const sync = (): Promise<void> => {
    requested++;
    if (syncing !== undefined) return syncing;
    syncing = runSync().finally(() => {
      syncing = undefined;
    });
    return syncing;
  };

  const fallbackOf = (route: string): { known: boolean; fallback: string | undefined } => {
    const config = routes().find((candidate) => candidate.id === route);
    return { known: config !== undefined, fallback: config?.fallbackUpstream };
  };

  const view = createSyncedTableView(options, {
    channel: REROUTES_CHANNEL,
    names: ['reroute', 'reroutes'],
    sync,
    runningSync: () => syncing,
    onMessage: () => {
      sync().catch((err: unknown) => logger.warn({ err }, 'reroute resync failed'));
    },
    beforeFirstSync: () => list.prune(),
  });
  const publish = (route: string): Promise<void> => view.publish(route);

  const list: RerouteList = {
    start: () => view.start(),
    stop: () => view.stop(),

    isRerouted(route) {
      const expiresAt = until.get(route);
      return expiresAt !== undefined && expiresAt > now();
    },

    async set(input) {
      const { known, fallback } = fallbackOf(input.route);
      if (!known) return { ok: false, reason: 'unknown_route' };
      if (fallback === undefined) return { ok: false, reason: 'no_fallback' };
      if (!(Number.isFinite(input.durationSec) && input.durationSec > 0))
        throw new RangeError('durationSec must be a positive number of seconds');
      const t = now();
      const expiresAt = t + Math.ceil(input.durationSec * 1000);
      const alertKey = input.fingerprint ?? `alertname:${input.alertname}`;
      const fingerprint = input.fingerprint ?? null;
      const current = await db
        .selectFrom('gateway_reroutes')
        .selectAll()
        .where('route', '=', input.route)
        .where('alert_key', '=', alertKey)
        .executeTakeFirst();
      let reroute: Reroute;
      const renewed = current !== undefined && current.expires_at > t;
      if (renewed) {
        // A repeat notification: the same reroute, pushed further.
        await db
          .updateTable('gateway_reroutes')
          .set({ alertname: input.alertname, renewed_at: t, expires_at: expiresAt })
          .where('id', '=', current.id)
          .execute();
        reroute = toReroute({ ...current, alertname: input.alertname, renewed_at: t, expires_at: expiresAt });
      } else {
        const row = {
          id: randomUUID(),
          route: input.route,
          alert_key: alertKey,
          alertname: input.alertname,
          fingerprint,
          source: input.source,
          created_at: t,
          renewed_at: t,
          expires_at: expiresAt,
        };
        // An expired row of the same alert not swept yet is replaced.
        await db
          .insertInto('gateway_reroutes')
          .values(row)
          .onConflict((conflict) =>
            conflict.columns(['route', 'alert_key']).doUpdateSet({
              id: row.id,
              alertname: row.alertname,
              fingerprint: row.fingerprint,
              source: row.source,
              created_at: row.created_at,
              renewed_at: row.renewed_at,
              expires_at: row.expires_at,
            }),
          )
          .execute();
        reroute = toReroute(row);
        logger.warn(
          { route: input.route, upstream: fallback, alertname: input.alertname },
          'route rerouted to its fallback upstream',
        );
      }
      await sync();
      await publish(input.route);
      emitChange(renewed ? 'renewed' : 'set', reroute, input.actor, fallback);
      return { ok: true, reroute, upstream: fallback, renewed };
    },

    async lift(route, liftOptions = {}) {
      const { alert, actor } = liftOptions;
      let query = db.deleteFrom('gateway_reroutes').where('route', '=', route);
      if (alert !== undefined) {
        const fingerprint = alert.fingerprint;
        // Same fingerprint, or same alertname for a reroute that was set without one.
        query =
          fingerprint === undefined
            ? query.where('alertname', '=', alert.alertname)
            : query.where((eb) =>
                eb.or([
                  eb('fingerprint', '=', fingerprint),
                  eb.and([eb('fingerprint', 'is', null), eb('alertname', '=', alert.alertname)]),
                ]),
              );
      }
      const deleted = (await query.returningAll().execute()).map(toReroute);
      const t = now();
      // An expired row goes too, but only a reroute still in force counts as lifted.
      const lifted = deleted.filter((reroute) => reroute.expiresAt > t);
      await sync();
      if (deleted.length > 0) await publish(route);
      for (const reroute of lifted) emitChange('lifted', reroute, actor);
      if (lifted.length === 0 && alert === undefined) {
        emit({
          outcome: 'failure',
          reason: 'not_rerouted',
          ...(actor === undefined ? {} : { actor: { sub: actor } }),
          target: { type: 'route', id: route },
        });
      }
      if (lifted.length > 0 && !list.isRerouted(route))
        logger.info({ route }, 'reroute lifted: the route is back on its upstream');
      return lifted.length;
    },

    list: () => readActive(now()),

    async prune() {
      // Without the configuration (the CLI), nothing says which routes have a fallback.
      if (options.routes === undefined) return;
      const withFallback = new Set(
        routes()
          .filter((route) => route.fallbackUpstream !== undefined)
          .map((route) => route.id),
      );
      const rows = await db.selectFrom('gateway_reroutes').select(['id', 'route']).execute();
      const orphans = rows.filter((row) => !withFallback.has(row.route)).map((row) => row.id);
      if (orphans.length === 0) return;
      const deleted = await db
        .deleteFrom('gateway_reroutes')
        .where('id', 'in', orphans)
        .returningAll()
        .execute();
      const t = now();
      for (const reroute of deleted.map(toReroute)) {
        if (reroute.expiresAt <= t) continue;
        logger.warn(
          { route: reroute.route, alertname: reroute.alertname },
          'reroute dropped: the route no longer exists or has no fallbackUpstream',
        );
        emitChange('dropped', reroute, undefined);
      }
      await sync();
      await publish(deleted[0]?.route ?? '');
    },
  };
  return list;
}
