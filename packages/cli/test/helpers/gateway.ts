import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { run } from '../../src/index.js';
import { TEST_ADMIN_TOKEN } from './cli.js';

/** A real upstream on port 0 that answers every request with what it received, as JSON. */
export interface TestUpstream {
  readonly url: string;
  /** `METHOD path` of every request that reached it, in order. */
  readonly received: string[];
  close(): Promise<void>;
}

/** `?delay=MS` holds the answer that long (a request in flight during a reload or shutdown). */
export async function startUpstream(): Promise<TestUpstream> {
  const received: string[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    received.push(`${req.method ?? ''} ${req.url ?? ''}`);
    const delay = Number(new URL(req.url ?? '/', 'http://upstream').searchParams.get('delay') ?? 0);
    const answer = (): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, path: req.url, headers: req.headers }));
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A route as the configuration spells it (`gateway.routes[]`). */
export type RouteInput = Record<string, unknown> & { readonly id: string };

export interface GatewayYamlOptions {
  /** Base URL of the upstream every route goes to (upstream id `echo`). */
  readonly upstream: string;
  readonly routes: readonly RouteInput[];
  /** Extra keys of the `gateway` section, e.g. `{ trustedProxies: ['127.0.0.1'] }`. */
  readonly gateway?: Record<string, unknown>;
  /** Top-level lines appended as they are (e.g. `sharedState:\n  url: redis://…`). */
  readonly extra?: string;
  readonly logLevel?: 'info' | 'warn';
  /** `tls` blocks of the gateway listener and of its admin listener. */
  readonly tls?: { readonly listen?: Record<string, unknown>; readonly admin?: Record<string, unknown> };
}

/**
 * A deployment file with an authorization-server section (the schema requires one), the admin
 * token from the environment, and a gateway section on port 0. Routes and extra gateway keys are
 * written as YAML flow mappings (JSON), which keeps the builder small and the file valid YAML.
 */
export function buildGatewayYaml(options: GatewayYamlOptions): string {
  const extraGateway = Object.entries(options.gateway ?? {}).map(
    ([key, value]) => `  ${key}: ${JSON.stringify(value)}`,
  );
  return [
    '# gateway test deployment',
    'log:',
    `  level: ${options.logLevel ?? 'info'}`,
    'admin:',
    '  token: ${GATEHOUSE_ADMIN_TOKEN}',
    'authServer:',
    '  issuer: http://127.0.0.1:4000',
    '  listen:',
    '    port: 0',
    'gateway:',
    '  listen:',
    '    port: 0',
    ...(options.tls?.listen === undefined ? [] : [`    tls: ${JSON.stringify(options.tls.listen)}`]),
    '  admin:',
    '    listen:',
    '      port: 0',
    ...(options.tls?.admin === undefined ? [] : [`      tls: ${JSON.stringify(options.tls.admin)}`]),
    ...extraGateway,
    '  upstreams:',
    '    echo:',
    `      targets: [${JSON.stringify(options.upstream)}]`,
    '  routes:',
    ...options.routes.map((route) => `    - ${JSON.stringify(route)}`),
    ...(options.extra === undefined ? [] : [options.extra]),
    '',
  ].join('\n');
}

/** A public route on `prefix` (no credential: auth none is an explicit choice, never a default). */
export function publicRoute(id: string, prefix: string, extra: Record<string, unknown> = {}): RouteInput {
  return { id, match: { pathPrefix: prefix }, upstream: 'echo', auth: 'none', ...extra };
}

/** Where `gatehouse gateway` said it listens (its two lines on standard error). */
export function parseGatewayUrls(stderr: string): { url: string; admin: string } | undefined {
  const url = /gatehouse gateway: listening on (https?:\/\/\S+)/.exec(stderr)?.[1];
  const admin = /admin API on (https?:\/\/\S+)\/admin\/gateway/.exec(stderr)?.[1];
  return url === undefined || admin === undefined ? undefined : { url, admin };
}

export const ADMIN_AUTH = { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } as const;

export interface InProcessGateway {
  readonly url: string;
  /** Origin of the admin listener (`/healthz`, `/metrics`, `/admin/gateway/...`). */
  readonly admin: string;
  /** Calls the listener the command registered through `io.onReload` (what SIGHUP does). */
  reload(): void;
  /** Whether a reload listener is registered now. */
  reloadListening(): boolean;
  stdout(): string;
  stderr(): string;
  /** Aborts the command's signal and resolves its exit code and output. */
  stop(): Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Runs `gatehouse gateway --config gatehouse.yaml` in-process in `cwd`, with an `io.onReload`
 * that the test triggers; resolves once both listeners are announced.
 */
export async function startGatewayInProcess(
  cwd: string,
  env: Readonly<Record<string, string>>,
): Promise<InProcessGateway> {
  const controller = new AbortController();
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  let announce: ((urls: { url: string; admin: string }) => void) | undefined;
  const announced = new Promise<{ url: string; admin: string }>((resolve) => (announce = resolve));
  const done = run(['gateway', '--config', 'gatehouse.yaml'], {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: {
      write: (text: string) => {
        stderr += text;
        const urls = parseGatewayUrls(stderr);
        if (urls !== undefined) announce?.(urls);
      },
    },
    stdin: Readable.from([]),
    env,
    cwd,
    signal: controller.signal,
    onReload: (listener) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  });
  const urls = await Promise.race([
    announced,
    done.then((code): never => {
      throw new Error(`gateway exited early (${code}): ${stderr}`);
    }),
  ]);
  return {
    ...urls,
    reload: () => {
      for (const listener of listeners) listener();
    },
    reloadListening: () => listeners.size > 0,
    stdout: () => stdout,
    stderr: () => stderr,
    stop: async () => {
      controller.abort();
      const code = await done;
      return { code, stdout, stderr };
    },
  };
}

/**
 * Calls `probe` until `accept` holds for its result or `timeoutMs` passes; resolves the last
 * result either way, so the assertion that follows shows what was seen.
 */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value) || Date.now() >= deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** GET `url` and answer its status (the body is consumed so the connection is reused). */
export async function statusOf(url: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(url, init);
  await response.arrayBuffer();
  return response.status;
}
