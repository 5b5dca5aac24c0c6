import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { Browser, passOpLogin, type Page } from '../../packages/bff/test/support/browser.js';

export { Browser, type Page };

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'packages/cli/bin/gatehouse.js');
/** What `gatehouse up` runs: the built CLI and the built demo services (`npm test` builds first). */
export const BUILT = [
  join(ROOT, 'packages/cli/dist/main.js'),
  join(ROOT, 'packages/bff/dist/index.js'),
  join(ROOT, 'examples/accounts/dist/main.js'),
  join(ROOT, 'examples/orders/dist/main.js'),
];

/** `<dataDir>/demo.json` (docs/architecture.md, "Contract: the demo stack"). */
export interface DemoJson {
  issuer: string;
  gateway: string;
  bff: string;
  admin: string;
  adminToken: string;
  clients: {
    partner: { client_id: string; client_secret: string; token_format: string; scope: string };
    internal: { client_id: string; client_secret: string; token_format: string; scope: string };
    cli: { client_id: string; redirect_uri: string; token_format: string; scope: string };
  };
  users: Record<'alice' | 'bob' | 'admin', DemoUser>;
}

export interface DemoUser {
  username: string;
  password: string;
  sub: string;
  roles?: string[];
}

export interface DemoStack {
  readonly dataDir: string;
  readonly portBase: number;
  readonly demo: DemoJson;
  readonly child: ChildProcess;
  /** Everything `gatehouse up` printed so far (both streams). */
  output(): string;
  /** Ctrl-C: resolves the exit code. */
  stop(): Promise<number | null>;
}

const PORTS = 8;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A base below the ephemeral range with 8 free ports after it (tests never share a port). */
export async function freePortBase(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 1_800) * 10;
    const free = await Promise.all(Array.from({ length: PORTS }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error('no free port range');
}

export function missingBuild(): string[] {
  return BUILT.filter((file) => !existsSync(file));
}

/** Environment of the child: none of the machine's store URLs (the stack is embedded). */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] };
  return env;
}

/** The demo's stack file, which `npm start` runs. */
export const DEMO_STACK_FILE = join(ROOT, 'examples/demo/gatehouse.yaml');

/**
 * A stack file for `gatehouse up --config`: the demo's, with its paths made absolute (so it can
 * live anywhere) and `extra` top-level sections set on it, e.g. `{ gateway: { detection: … } }`.
 * Written to `<dir>/stack.yaml` (JSON is YAML); returns its path.
 */
export function writeStackFile(dir: string, extra: Record<string, unknown>): string {
  const demo = parseYaml(readFileSync(DEMO_STACK_FILE, 'utf8')) as {
    app?: string;
    openapi?: string;
    services: Record<string, { main: string }>;
  };
  const folder = dirname(DEMO_STACK_FILE);
  const stack = {
    ...demo,
    app: resolve(folder, demo.app ?? 'app'),
    openapi: resolve(folder, demo.openapi ?? 'openapi.yaml'),
    services: Object.fromEntries(
      Object.entries(demo.services).map(([name, service]) => [
        name,
        { ...service, main: resolve(folder, service.main) },
      ]),
    ),
    ...extra,
  };
  const file = join(dir, 'stack.yaml');
  writeFileSync(file, JSON.stringify(stack, null, 2));
  return file;
}

/**
 * `gatehouse up --data-dir <temp> --port-base <free>` from the repository root, as `npm start`
 * does (`config`: another stack file, `--config`): resolves once it prints that every health
 * check passed.
 */
export async function startDemoStack(
  options: { dataDir?: string; timeoutMs?: number; tls?: boolean; config?: string } = {},
): Promise<DemoStack> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'gatehouse-demo-'));
  const portBase = await freePortBase();
  const args = [
    'up',
    ...(options.config === undefined ? [] : ['--config', options.config]),
    '--data-dir',
    dataDir,
    '--port-base',
    String(portBase),
    ...(options.tls === true ? ['--tls'] : []),
  ];
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const timeoutMs = options.timeoutMs ?? 60_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`gatehouse up was not ready in ${timeoutMs} ms:\n${output.slice(-4000)}`));
    }, timeoutMs);
    const check = (): void => {
      if (output.includes('gatehouse up: ready')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gatehouse up exited (${String(code)}) before ready:\n${output.slice(-4000)}`));
    });
  });
  const demo = JSON.parse(readFileSync(join(dataDir, 'demo.json'), 'utf8')) as DemoJson;
  return {
    dataDir,
    portBase,
    demo,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return exited;
    },
  };
}

/**
 * The authorization code flow through the BFF as a scripted browser (no JavaScript): the BFF's
 * login, the auth server's login form, consent if asked, and back to the BFF's callback.
 */
export async function loginThroughBff(browser: Browser, demo: DemoJson, user: DemoUser): Promise<Page> {
  const started = await browser.get(`${demo.bff}/auth/login?returnTo=%2F`);
  const page = await passOpLogin(browser, started, { issuer: demo.issuer, ...user });
  if (page.location?.startsWith(`${demo.bff}/auth/callback`) !== true) {
    throw new Error(`the auth server did not come back to the BFF (status ${page.status})`);
  }
  return browser.get(page.location);
}

/** A client-credentials token for one of the demo's clients, for the gateway's audience. */
export async function clientToken(
  demo: DemoJson,
  client: 'partner' | 'internal',
  scope?: string,
): Promise<string> {
  const { client_id: id, client_secret: secret } = demo.clients[client];
  // Endpoints are whatever discovery says (docs/architecture.md: discovery is the contract).
  const metadata = (await (await fetch(`${demo.issuer}/.well-known/openid-configuration`)).json()) as {
    token_endpoint: string;
  };
  const response = await fetch(metadata.token_endpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      resource: demo.gateway,
      ...(scope === undefined ? {} : { scope }),
    }).toString(),
  });
  const body = (await response.json()) as { access_token?: string };
  if (response.status !== 200 || body.access_token === undefined)
    throw new Error(`token: ${response.status}`);
  return body.access_token;
}
