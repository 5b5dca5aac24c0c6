import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createLogger,
  createMemorySharedState,
  openSqlDatabase,
  type AuditEvent,
  type SharedState,
} from '@gatehouse/core';
import { Writable } from 'node:stream';
import { buildGatewayConfig, createGateway, type Gateway, type GatewayConfigInput } from '../../src/index.js';

export interface StartedGateway {
  readonly gateway: Gateway;
  readonly url: string;
  readonly port: number;
  readonly state: SharedState;
  readonly audit: AuditEvent[];
  /** Access-log and other log lines written so far (parsed JSON). */
  readonly logs: Record<string, unknown>[];
  close(): Promise<void>;
}

export interface StartGatewayOptions {
  readonly state?: SharedState;
  readonly sqliteFile?: string;
  readonly baseDir?: string;
  readonly redisUrl?: string;
  /** Key prefix in Redis (`sharedState.prefix`): a unique one per suite keeps suites apart. */
  readonly redisPrefix?: string;
  readonly now?: () => number;
}

/** A real gateway on 127.0.0.1 port 0 with a SQLite file and memory shared state (unless given). */
export async function startGateway(
  input: Omit<GatewayConfigInput, 'listen'> & { listen?: GatewayConfigInput['listen'] },
  options: StartGatewayOptions = {},
): Promise<StartedGateway> {
  const config = buildGatewayConfig({ listen: { host: '127.0.0.1', port: 0 }, ...input });
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gateway-'));
  const database = openSqlDatabase<unknown>({ sqliteFile: options.sqliteFile ?? join(dir, 'gateway.db') });
  const ownState = options.state === undefined;
  const state = options.state ?? createMemorySharedState();
  const logs: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n'))
        if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>);
      callback();
    },
  });
  const logger = createLogger({ component: 'test', level: 'info', destination });
  const audit: AuditEvent[] = [];
  const gateway = await createGateway({
    config,
    baseDir: options.baseDir ?? process.cwd(),
    db: database.db,
    state,
    logger,
    audit: (event) => {
      audit.push(event);
    },
    ...(options.redisUrl === undefined ? {} : { redisUrl: options.redisUrl }),
    ...(options.redisPrefix === undefined ? {} : { redisPrefix: options.redisPrefix }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
  const url = await gateway.listen();
  return {
    gateway,
    url,
    port: Number(new URL(url).port),
    state,
    audit,
    logs,
    async close() {
      await gateway.close(1000);
      if (ownState) await state.close();
      await database.close();
    },
  };
}
