import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceUrl, startTcpRelay, type TcpRelay } from '@gatehouse/testing';
import pg from 'pg';
import { BIN } from '../../support/demo-stack.js';

/**
 * A deployment of several instances of each component as separate `gatehouse` processes on one
 * PostgreSQL schema and one Redis key prefix, each component behind a round-robin TCP load
 * balancer (docs/deployment.md, "Several machines"). The issuer, the gateway's audience and the
 * BFF's public URL are the balancers' addresses, so any instance may answer any request.
 */

export type Component = 'auth' | 'gateway' | 'bff';

export interface Instance {
  readonly component: Component;
  readonly index: number;
  /** The instance's own listener (bypassing its balancer). */
  url: string;
  /** Its admin listener (auth server and gateway). */
  admin: string;
  child: ChildProcess;
  output(): string;
  /** Resolves when the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ClusterClient {
  readonly client_id: string;
  readonly client_secret: string;
}

export interface Cluster {
  readonly schema: string;
  readonly redisPrefix: string;
  readonly databaseUrl: string;
  readonly adminToken: string;
  /** Balancer addresses: `issuer` (auth servers), `gateway`, `bff`. */
  readonly issuer: string;
  readonly gateway: string;
  readonly bff: string;
  /** The gateway's external audience (its balancer URL) and the echo service's internal audience. */
  readonly apiAudience: string;
  readonly serviceAudience: string;
  readonly instances: Record<Component, Instance[]>;
  readonly balancers: Record<Component, TcpRelay>;
  /** Requests the echo service received: `METHOD path` with the `authorization` it saw. */
  readonly upstreamReceived: { line: string; authorization: string | undefined }[];
  readonly clients: {
    readonly jwt: ClusterClient;
    readonly opaque: ClusterClient;
    readonly web: ClusterClient;
    /** The gateway's own client: may introspect (RFC 7662) and exchange tokens. */
    readonly gateway: ClusterClient;
  };
  readonly users: { readonly alice: { username: string; password: string; sub: string } };
  /** A query on the cluster's schema. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<T[]>;
  /** Starts (or restarts after a kill) instance `index` of `component`, and re-balances. */
  start(component: Component, index: number): Promise<Instance>;
  /** SIGKILL of one instance; the balancer stops sending it new connections. */
  kill(component: Component, index: number): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterOptions {
  readonly auth?: number;
  readonly gateway?: number;
  readonly bff?: number;
  /** Extra keys of `authServer` (e.g. `{ keys: { rotationIntervalSec: 5 } }`). */
  readonly authServer?: Record<string, unknown>;
  /** Extra keys of `gateway`. */
  readonly gatewayExtra?: Record<string, unknown>;
  /** Rate limits of the `/limited` route. */
  readonly limitedRateLimits?: readonly Record<string, unknown>[];
}

const SCOPES = ['echo:read', 'echo:write'];
const SERVICE_AUDIENCE = 'https://echo.internal';
const BFF_SESSION_KEY = randomBytes(32).toString('base64url');

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A plain HTTP service that answers every request with what it received. */
async function startEcho(received: Cluster['upstreamReceived']): Promise<{ url: string; server: Server }> {
  const server = createServer((req: IncomingMessage, res) => {
    received.push({ line: `${req.method ?? ''} ${req.url ?? ''}`, authorization: req.headers.authorization });
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, path: req.url }));
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const READY: Record<Component, (text: string) => { url: string; admin: string } | undefined> = {
  auth: (text) => {
    const url = /\n {2}listening on (https?:\/\/\S+)/.exec(text)?.[1];
    const admin = /admin API on (https?:\/\/\S+)\/admin,/.exec(text)?.[1];
    return url === undefined || admin === undefined ? undefined : { url, admin };
  },
  gateway: (text) => {
    const url = /gatehouse gateway: listening on (https?:\/\/\S+)/.exec(text)?.[1];
    const admin = /admin API on (https?:\/\/\S+)\/admin\/gateway/.exec(text)?.[1];
    return url === undefined || admin === undefined ? undefined : { url, admin };
  },
  bff: (text) => {
    const url = /gatehouse bff: listening on (https?:\/\/\S+)/.exec(text)?.[1];
    return url === undefined ? undefined : { url, admin: url };
  },
};

const COMMAND: Record<Component, string> = { auth: 'auth-server', gateway: 'gateway', bff: 'bff' };

function spawnInstance(
  component: Component,
  index: number,
  configFile: string,
  env: NodeJS.ProcessEnv,
): Promise<Instance> {
  const child = spawn(process.execPath, [BIN, COMMAND[component], '--config', configFile], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  // Standard output carries the JSON log; kept (bounded) for failure messages.
  const append = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${component} ${index} did not start:\n${text.slice(-4000)}`));
    }, 30_000);
    const check = (): void => {
      const urls = READY[component](text);
      if (urls === undefined) return;
      clearTimeout(timer);
      child.stderr.off('data', check);
      resolve({ component, index, ...urls, child, output: () => text, exited });
    };
    child.stderr.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`${component} ${index} exited (${code ?? signal}):\n${text.slice(-4000)}`));
    });
  });
}

function targetOf(instance: Instance): { host: string; port: number } {
  const url = new URL(instance.url);
  return { host: url.hostname, port: Number(url.port) };
}

/** An HTTP JSON call that resolves status and parsed body (text when not JSON). */
export async function call(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, headers: response.headers, body };
}

export const basic = (client: ClusterClient): string =>
  `Basic ${Buffer.from(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`).toString('base64')}`;

/** A client-credentials token from one auth server (`base`: an instance URL or the issuer). */
export async function tokenFrom(
  base: string,
  client: ClusterClient,
  resource: string,
  scope = 'echo:read echo:write',
): Promise<string> {
  const answer = await call(`${base}/token`, {
    method: 'POST',
    headers: { authorization: basic(client), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope }).toString(),
  });
  const token = (answer.body as { access_token?: string }).access_token;
  if (answer.status !== 200 || token === undefined) {
    throw new Error(`token from ${base}: ${answer.status} ${JSON.stringify(answer.body)}`);
  }
  return token;
}

/**
 * Boots the cluster: schema and prefix, balancers (their ports fix the issuer and public URLs), the
 * auth servers started together on the empty schema, clients and a user through auth server 0's
 * admin API, then the gateways and BFFs.
 */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const counts: Record<Component, number> = {
    auth: options.auth ?? 2,
    gateway: options.gateway ?? 2,
    bff: options.bff ?? 2,
  };
  const id = randomBytes(5).toString('hex');
  const schema = `cluster_${id}`;
  const redisPrefix = `test:cluster:${id}:`;
  const baseUrl = serviceUrl('postgres');
  await withClient(baseUrl, (client) => client.query(`CREATE SCHEMA ${schema}`));
  const databaseUrl = (() => {
    const url = new URL(baseUrl);
    url.searchParams.set('options', `-c search_path=${schema}`);
    return url.toString();
  })();
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-cluster-'));
  const adminToken = randomBytes(32).toString('base64url');
  const received: Cluster['upstreamReceived'] = [];
  const echo = await startEcho(received);
  const balancers: Record<Component, TcpRelay> = {
    auth: await startTcpRelay([]),
    gateway: await startTcpRelay([]),
    bff: await startTcpRelay([]),
  };
  const issuer = balancers.auth.url('http');
  const gateway = balancers.gateway.url('http');
  const bff = balancers.bff.url('http');
  const secrets: Record<string, string> = {};
  const baseEnv = (): NodeJS.ProcessEnv => ({
    PATH: process.env['PATH'],
    DATABASE_URL: databaseUrl,
    REDIS_URL: serviceUrl('redis'),
    GATEHOUSE_KEK: Buffer.alloc(32, 7).toString('base64'),
    GATEHOUSE_ADMIN_TOKEN: adminToken,
    ...secrets,
  });
  const common = (component: Component, index: number): Record<string, unknown> => {
    const dataDir = join(root, `${component}-${index}`);
    mkdirSync(dataDir, { recursive: true });
    return {
      dataDir,
      log: { level: 'warn' },
      sharedState: { prefix: redisPrefix },
      admin: { token: '${GATEHOUSE_ADMIN_TOKEN}', listen: { port: 0 } },
    };
  };
  const authServer = {
    issuer,
    listen: { port: 0 },
    resources: [
      { id: gateway, scopes: SCOPES },
      { id: SERVICE_AUDIENCE, scopes: SCOPES },
    ],
    login: { delayStepMs: 0 },
    ...options.authServer,
  };
  const configs: Record<Component, (index: number) => Record<string, unknown>> = {
    auth: (index) => ({ ...common('auth', index), authServer }),
    gateway: (index) => ({
      ...common('gateway', index),
      authServer: { issuer, listen: { port: 0 } },
      gateway: {
        listen: { port: 0 },
        admin: { listen: { port: 0 } },
        auth: {
          issuer,
          audience: [gateway],
          clientId: '${GATEWAY_CLIENT_ID}',
          clientSecret: '${GATEWAY_CLIENT_SECRET}',
        },
        rateLimit: { store: 'redis', onStoreFailure: 'closed' },
        upstreams: { echo: { targets: [echo.url] } },
        routes: [
          {
            id: 'api',
            match: { pathPrefix: '/api' },
            upstream: 'echo',
            auth: 'any',
            audience: SERVICE_AUDIENCE,
            scopes: { GET: ['echo:read'], POST: ['echo:write'] },
          },
          {
            id: 'limited',
            match: { pathPrefix: '/limited' },
            upstream: 'echo',
            auth: 'any',
            audience: SERVICE_AUDIENCE,
            scopes: { GET: ['echo:read'] },
            rateLimits: options.limitedRateLimits ?? [
              { id: 'global', limit: 100, windowSec: 1, key: ['route'] },
            ],
          },
        ],
        ...options.gatewayExtra,
      },
    }),
    bff: (index) => ({
      ...common('bff', index),
      authServer: { issuer, listen: { port: 0 } },
      bff: {
        publicUrl: bff,
        listen: { port: 0 },
        oidc: {
          issuer,
          clientId: '${BFF_CLIENT_ID}',
          clientSecret: '${BFF_CLIENT_SECRET}',
          scopes: ['openid', 'echo:read'],
          resource: gateway,
        },
        gateway: { url: gateway },
        session: {
          redisUrl: serviceUrl('redis'),
          redisKeyPrefix: `${redisPrefix}bff:`,
          encryptionKey: BFF_SESSION_KEY,
        },
        admin: { token: '${GATEHOUSE_ADMIN_TOKEN}' },
      },
    }),
  };
  const instances: Record<Component, Instance[]> = { auth: [], gateway: [], bff: [] };
  const rebalance = (component: Component): void =>
    balancers[component].setTargets(
      instances[component]
        .filter((i) => i.child.exitCode === null && i.child.signalCode === null)
        .map(targetOf),
    );
  const start = async (component: Component, index: number): Promise<Instance> => {
    const file = join(root, `${component}-${index}.json`);
    writeFileSync(file, JSON.stringify(configs[component](index), null, 2));
    const instance = await spawnInstance(component, index, file, baseEnv());
    instances[component][index] = instance;
    rebalance(component);
    return instance;
  };
  const kill = async (component: Component, index: number): Promise<void> => {
    const instance = instances[component][index];
    if (instance === undefined) return;
    instance.child.kill('SIGKILL');
    await instance.exited;
    rebalance(component);
  };

  const query = <T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> =>
    withClient(databaseUrl, async (client) => (await client.query<T>(text, values)).rows);

  const close = async (): Promise<void> => {
    const all = Object.values(instances).flat();
    for (const instance of all) instance.child.kill('SIGTERM');
    await Promise.race([
      Promise.all(all.map((instance) => instance.exited)),
      new Promise((resolve) => setTimeout(resolve, 10_000)),
    ]);
    for (const instance of all) instance.child.kill('SIGKILL');
    await Promise.all(Object.values(balancers).map((relay) => relay.close()));
    await new Promise<void>((resolve) => {
      echo.server.closeAllConnections();
      echo.server.close(() => resolve());
    });
    await withClient(baseUrl, (client) => client.query(`DROP SCHEMA ${schema} CASCADE`)).catch(
      () => undefined,
    );
    rmSync(root, { recursive: true, force: true });
  };

  try {
    // Together on the empty schema: migrations and the first signing key race (issue 7).
    await Promise.all(Array.from({ length: counts.auth }, (_, i) => start('auth', i)));
    const adminApi = instances.auth[0]!.admin;
    const create = async (path: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
      const answer = await call(`${adminApi}/admin/${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      if (answer.status !== 201 && answer.status !== 200)
        throw new Error(`admin ${path}: ${answer.status} ${JSON.stringify(answer.body)}`);
      return answer.body as Record<string, unknown>;
    };
    const client = async (body: Record<string, unknown>): Promise<ClusterClient> => {
      const created = await create('clients', body);
      const { client_id: clientId, client_secret: secret } = created as {
        client_id: string;
        client_secret?: string;
      };
      return { client_id: clientId, client_secret: secret ?? '' };
    };
    const resources = [gateway, SERVICE_AUDIENCE];
    const gatewayClient = await client({
      client_name: 'cluster gateway',
      grant_types: ['urn:ietf:params:oauth:grant-type:token-exchange'],
      can_introspect: true,
    });
    const bffClient = await client({
      client_name: 'cluster BFF',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [`${bff}/auth/callback`],
      post_logout_redirect_uris: [`${bff}/`],
      scope: 'openid echo:read',
      resources,
      token_format: 'opaque',
      first_party: true,
    });
    const jwt = await client({
      client_name: 'cluster jwt caller',
      grant_types: ['client_credentials'],
      scope: SCOPES.join(' '),
      resources,
      token_format: 'jwt',
    });
    const opaque = await client({
      client_name: 'cluster opaque caller',
      grant_types: ['client_credentials'],
      scope: SCOPES.join(' '),
      resources,
      token_format: 'opaque',
    });
    const web = await client({
      client_name: 'cluster web app',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1:8765/callback'],
      scope: 'openid offline_access echo:read',
      resources,
      token_format: 'opaque',
      first_party: true,
    });
    const password = randomBytes(12).toString('base64url');
    const alice = (await create('users', { username: 'alice', password, name: 'Alice' })) as { sub: string };
    Object.assign(secrets, {
      GATEWAY_CLIENT_ID: gatewayClient.client_id,
      GATEWAY_CLIENT_SECRET: gatewayClient.client_secret,
      BFF_CLIENT_ID: bffClient.client_id,
      BFF_CLIENT_SECRET: bffClient.client_secret,
    });
    await Promise.all(Array.from({ length: counts.gateway }, (_, i) => start('gateway', i)));
    await Promise.all(Array.from({ length: counts.bff }, (_, i) => start('bff', i)));
    return {
      schema,
      redisPrefix,
      databaseUrl,
      adminToken,
      issuer,
      gateway,
      bff,
      apiAudience: gateway,
      serviceAudience: SERVICE_AUDIENCE,
      instances,
      balancers,
      upstreamReceived: received,
      clients: { jwt, opaque, web, gateway: gatewayClient },
      users: { alice: { username: 'alice', password, sub: alice.sub } },
      query,
      start,
      kill,
      close,
    };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * One request on its own connection (no pooling, so a balancer picks a target per request), from
 * `localAddress` when given (a distinct 127.0.0.N client), with an explicit `Host` when given.
 */
export function rawRequest(
  url: string,
  init: {
    readonly method?: string;
    readonly headers?: Record<string, string>;
    readonly body?: string;
    readonly localAddress?: string;
  } = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: Number(target.port),
        path: `${target.pathname}${target.search}`,
        method: init.method ?? 'GET',
        headers: {
          connection: 'close',
          ...(init.body === undefined ? {} : { 'content-length': String(Buffer.byteLength(init.body)) }),
          ...init.headers,
        },
        agent: false,
        ...(init.localAddress === undefined ? {} : { localAddress: init.localAddress }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
    req.on('error', reject);
    req.end(init.body);
  });
}
