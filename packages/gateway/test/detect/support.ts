import { fileURLToPath } from 'node:url';
import { createLogger, type AuditEvent } from '@gatehouse/core';
import type { FastifyInstance } from 'fastify';
import { createGatewayAdminApp, type GatewayConfigInput } from '../../src/index.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway, type StartGatewayOptions } from '../support/start-gateway.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const ADMIN_TOKEN = 'admin-token-for-detect-tests-0123456789';

/** A frozen clock tests move by hand, shared by the gateway (and the auth server when there is one). */
export class Clock {
  ms = Date.UTC(2026, 0, 1);
  readonly now = (): number => this.ms;
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/**
 * A real upstream answering each path with the status `answer` decides (default 200), so a test
 * scripts the 403/404/5xx answers an attack meets.
 */
export interface ScriptedUpstream extends RecordingUpstream {
  answer: (path: string) => number;
}

export async function startScriptedUpstream(): Promise<ScriptedUpstream> {
  const scripted = { answer: (): number => 200 } as unknown as ScriptedUpstream;
  const upstream = await startRecordingUpstream({
    handler(req, res) {
      const status = scripted.answer(req.url ?? '/');
      const body = JSON.stringify({ status });
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    },
  });
  return Object.assign(scripted, upstream);
}

/** Detectors all off: each test file switches on the ones it is about. */
export const ALL_DETECTORS_OFF = {
  enumeration: { enabled: false },
  fuzzing: { enabled: false },
  bulkScraping: { enabled: false },
  rateLimitEvasion: { enabled: false },
} as const;

export interface DetectStack {
  readonly gw: StartedGateway;
  readonly upstream: ScriptedUpstream;
  /** Admin API base URL (authenticated with ADMIN_TOKEN). */
  readonly adminUrl: string;
  /** GET through the gateway as client `ip` (the gateway trusts the test client as a proxy). */
  send(
    path: string,
    options?: { ip?: string; token?: string; method?: string; body?: string },
  ): Promise<{ status: number; code: string | undefined }>;
  /** Authenticated GET on the admin API. */
  admin(path: string): Promise<{ status: number; body: unknown }>;
  /** The audit events of one action. */
  audited(action: string): AuditEvent[];
  close(): Promise<void>;
}

/**
 * A real gateway behind which the test client poses as many clients: it is a trusted proxy, so
 * X-Forwarded-For names the client IP (as in the XFF tests), and the admin API on its own listener.
 */
export async function startDetectStack(
  config: Omit<GatewayConfigInput, 'listen' | 'upstreams' | 'trustedProxies'>,
  options: StartGatewayOptions & { upstream?: ScriptedUpstream } = {},
): Promise<DetectStack> {
  const upstream = options.upstream ?? (await startScriptedUpstream());
  const gw = await startGateway(
    {
      trustedProxies: ['127.0.0.1'],
      // Scripted 5xx answers are the test, not a reason to open the circuit.
      upstreams: { app: { targets: [upstream.url], circuitBreaker: { failureThreshold: 1_000_000 } } },
      ...config,
    },
    { baseDir: FIXTURES, ...options },
  );
  const app: FastifyInstance = createGatewayAdminApp({
    gateway: gw.gateway,
    adminToken: ADMIN_TOKEN,
    logger: createLogger({ component: 'test', level: 'silent' }),
    reload: () => Promise.resolve(),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const adminUrl = `http://127.0.0.1:${String((app.server.address() as { port: number }).port)}`;
  return {
    gw,
    upstream,
    adminUrl,
    async send(path, { ip = '198.51.100.1', token, method = 'GET', body } = {}) {
      const res = await fetch(`${gw.url}${path}`, {
        method,
        headers: {
          'x-forwarded-for': ip,
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body }),
      });
      const text = await res.text();
      let code: string | undefined;
      try {
        code = (JSON.parse(text) as { code?: string }).code;
      } catch {
        code = undefined;
      }
      return { status: res.status, code };
    },
    async admin(path) {
      const res = await fetch(`${adminUrl}${path}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      return { status: res.status, body: (await res.json()) as unknown };
    },
    audited: (action) => gw.audit.filter((event) => event.action === action),
    async close() {
      await app.close();
      await gw.close();
      if (options.upstream === undefined) await upstream.close();
    },
  };
}

/** The value of one series in the Prometheus text of the gateway's registry (undefined: absent). */
export function metricValue(stack: DetectStack, series: string): number | undefined {
  for (const line of stack.gw.gateway.metrics.render().split('\n'))
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}
