/**
 * Gateway benchmark (issues 4 and 8): the Gatehouse gateway side by side with the proxies a user
 * would pick instead, in one run, in front of the same upstream (a minimal node:http server
 * answering a small JSON body, in its own process). Rows:
 *
 * 1. direct: the upstream itself, no proxy;
 * 2. nginx (Debian package), plain reverse proxy, one worker, keep-alive to the upstream;
 * 3. @fastify/http-proxy with its defaults;
 * 4. @fastify/http-proxy + @fastify/jwt: the same access token as the full chain, verified against
 *    the auth server's public key (ES256, iss, aud, exp, typ), and the same scope check;
 * 5. node:http + undici `dispatch`, no features (informative: a bare Node.js proxy on undici);
 * 6. gateway, full chain: JWT (ES256, cached verification), scope check, rate limit, access log, metrics;
 * 7. gateway, phantom-token path: opaque token, introspection + token exchange (both cached);
 * 8. gateway without authentication (informative);
 * 9. nginx `auth_request` to the gateway's external-authorization endpoint (the shipped
 *    deploy/nginx/gatehouse-auth-request.conf), same token and route as the full chain; its CPU and
 *    memory are nginx's and that gateway process's together.
 *
 * autocannon drives every contender from this process at 50 connections; contenders are warmed up,
 * then alternate in rounds (order rotated); medians over the rounds (req/s, p50/p90/p99, CPU). Then
 * the latency the gateway adds below saturation: at half of the full chain's median req/s, a
 * fixed-rate (open-loop) load alternates between the direct upstream and the full chain, and the
 * difference of their p99 is reported. Then each contender holds 1,000 idle keep-alive connections and
 * its resident memory is read. Prints the tables and the targets of issues 4 and 8 (informative, never
 * asserted), writes bench/results/gateway-<date>.json and the "Gateway" section of docs/performance.md.
 *
 * Run: `npm run bench:gateway` at the repository root (builds first), or `node bench/gateway/run.mjs`
 * after `npm run build`.
 * Environment: BENCH_ROUNDS (3), BENCH_SLICE_MS (10000), BENCH_WARMUP_MS (5000), BENCH_CONNECTIONS
 * (50), BENCH_HALF_RATE_ROUNDS (3) and BENCH_HALF_RATE_MS (5000) for the fixed-rate alternations,
 * BENCH_IDLE_CONNECTIONS (1000), BENCH_CPU_PROF (`1`: gateway processes and the bare proxy run with --cpu-prof,
 * their profiles are summarised, docs/performance.md is left alone), BENCH_ONLY (comma-separated
 * contender ids, for development; the docs are then not updated), BENCH_KEEP_LOGS (`1`: the gateway
 * logs to a file in the kept temporary directory instead of /dev/null), BENCH_GATEWAY_NODE_ARGS (Node.js
 * options for the gateway processes; the docs are then not updated), BENCH_BASELINE_CLI (another built
 * checkout's packages/cli/bin/gatehouse.js: every gateway row also runs on that build, as `<id>Baseline`, in
 * the same rounds; the docs are then not updated), BENCH_BASELINE_NODE_ARGS (Node.js options of the
 * baseline rows instead of BENCH_GATEWAY_NODE_ARGS; alone, the baseline rows run this build: a Node.js
 * option measured against its absence in the same rounds).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { profileTables, summarizeProfile } from '../auth-server/profile.mjs';
import { envInt, latencySummary, median, rotate } from '../lib/harness.mjs';
import {
  REPO_ROOT,
  fmt,
  machineInfo,
  machineLine,
  markdownTable,
  textTable,
  today,
  updateMarkedSection,
  writeJson,
} from '../lib/report.mjs';
import { openIdleConnections } from './idle-connections.mjs';
import { runPacedLoad } from './paced-load.mjs';
import { treeUsage, sampleTreeRss } from './proc.mjs';
import { freePort, progress, startCommand, startScript, waitForPort } from './processes.mjs';
import {
  ACCESS_TOKEN_TTL_SEC,
  AUDIENCE,
  CLI,
  GATEWAY_NODE_ARGS,
  BASELINE_CLI,
  BASELINE_NODE_ARGS,
  GATEWAY_PATHS,
  RATE_LIMIT,
  SCOPE,
  requestAccessToken,
  startAuthServer,
  startGateway,
  writeGatewayConfig,
} from './servers/gatehouse.mjs';
import {
  AUTH_REQUEST_SITE,
  findNginx,
  writeNginxAuthRequestConfig,
  writeNginxConfig,
} from './servers/nginx.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const PARAMETERS = {
  connections: envInt('BENCH_CONNECTIONS', 50),
  rounds: envInt('BENCH_ROUNDS', 3),
  sliceMs: envInt('BENCH_SLICE_MS', 10_000),
  warmupMs: envInt('BENCH_WARMUP_MS', 5000),
  /** Fixed-rate load at half of the full chain's throughput: alternations, and length of each. */
  halfRateRounds: envInt('BENCH_HALF_RATE_ROUNDS', 3),
  halfRateMs: envInt('BENCH_HALF_RATE_MS', 5000),
  idleConnections: envInt('BENCH_IDLE_CONNECTIONS', 1000),
  /** Pause between the load and the idle measurement. */
  idleSettleMs: 2000,
  /** How long the idle connections are held before the memory is read. */
  idleHoldMs: 3000,
  pipelining: 1,
};
const PROFILE = process.env['BENCH_CPU_PROF'] === '1';
/** Keep the temporary directory, with the gateway's log in it instead of /dev/null (debugging). */
const KEEP_LOGS = process.env['BENCH_KEEP_LOGS'] === '1';
const ONLY = (process.env['BENCH_ONLY'] ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);

/** Targets of issues 4 and 8 (informative, never asserted). */
const TARGETS = {
  fullChainVsFastify: 1.3,
  fullChainVsNginx: 0.5,
  phantomVsJwt: 0.9,
  idleRssBytes: 150 * 2 ** 20,
  // Issue 8.
  fullChainVsNginxIssue8: 0.8,
  fullChainVsFastifyJwt: 2,
  addedP99AtHalfRateMs: 1,
};

/** The path every load request asks for (the upstream path after the proxy). */
const ITEMS = '/items';
/** Every load response must contain this (the upstream's body). */
const EXPECT = '"ok":true';

/**
 * @typedef {object} Contender
 * @property {string} id
 * @property {string} label
 * @property {string} description
 * @property {import('./processes.mjs').Running} process The contender's own process (tree), the one
 *   the load is sent to.
 * @property {import('./processes.mjs').Running[]} [also] Other processes doing the contender's work
 *   (nginx `auth_request`: the gateway it asks), counted in its CPU and memory.
 * @property {string} prefix Path prefix of the contender's route ('' for the plain proxies).
 * @property {Record<string, string>} headers
 * @property {Record<string, unknown>} [checked] What the checked request showed.
 * @property {() => Promise<import('./processes.mjs').Running>} [startFresh] Starts another process of
 *   the same contender (the gateway), for the idle-connection measurement without load history.
 */

/**
 * The processes whose CPU and memory are the contender's.
 * @param {Contender} contender
 */
const pidsOf = (contender) => [contender.process.pid, ...(contender.also ?? []).map((p) => p.pid)];

/**
 * @typedef {object} LoadResult
 * @property {number} requests
 * @property {number} durationSec
 * @property {number} reqPerSec
 * @property {{ mean: number, p50: number, p90: number, p99: number, max: number }} latencyMs
 * @property {number} non2xx
 * @property {number} errors
 * @property {number} timeouts
 * @property {number} mismatches
 * @property {Record<string, number>} statusCodes
 * @property {number} cpuSec CPU time of the contender's process tree during the slice.
 * @property {number} cpuSecPer10k
 * @property {number} upstreamCpuPct The upstream's CPU, % of one core (0 for the direct row: it is the contender).
 * @property {number} generatorCpuPct This process (autocannon), % of one core.
 */

/**
 * One load slice on a contender.
 * @param {Contender} contender
 * @param {import('./processes.mjs').Running} upstream
 * @param {number} ms
 * @returns {Promise<LoadResult>}
 */
async function runLoad(contender, upstream, ms) {
  /** @type {number[]} */
  const latencies = [];
  const before = treeUsage(pidsOf(contender));
  const upstreamBefore = treeUsage(upstream.pid);
  const generatorBefore = process.cpuUsage();
  const wallBefore = process.hrtime.bigint();
  const instance = autocannon({
    url: `${contender.process.url}${contender.prefix}${ITEMS}`,
    method: 'GET',
    headers: contender.headers,
    connections: PARAMETERS.connections,
    pipelining: PARAMETERS.pipelining,
    duration: ms / 1000,
    verifyBody: (/** @type {string} */ body) => body.includes(EXPECT),
  });
  instance.on(
    'response',
    (
      /** @type {unknown} */ _client,
      /** @type {number} */ status,
      /** @type {number} */ _bytes,
      /** @type {number} */ time,
    ) => {
      if (status >= 200 && status < 300) latencies.push(time);
    },
  );
  const result = await instance;
  const wallSec = Number(process.hrtime.bigint() - wallBefore) / 1e9;
  const generator = process.cpuUsage(generatorBefore);
  const after = treeUsage(pidsOf(contender));
  const upstreamAfter = treeUsage(upstream.pid);
  const cpuSec = after.cpuSec - before.cpuSec;
  const sorted = Float64Array.from(latencies).sort();
  const requests = result.requests.total;
  /** @type {Record<string, number>} */
  const statusCodes = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count;
  return {
    requests,
    durationSec: result.duration,
    reqPerSec: requests / result.duration,
    latencyMs: latencySummary(sorted),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes,
    cpuSec,
    cpuSecPer10k: requests === 0 ? Number.NaN : (cpuSec / requests) * 10_000,
    upstreamCpuPct:
      contender.process === upstream ? 0 : ((upstreamAfter.cpuSec - upstreamBefore.cpuSec) / wallSec) * 100,
    generatorCpuPct: ((generator.user + generator.system) / 1e6 / wallSec) * 100,
  };
}

/** @param {LoadResult} r */
const failures = (r) => r.non2xx + r.errors;

/**
 * One checked request per contender before any load: the load path answers 200 with the upstream's
 * body, and `/check` shows what the upstream received (header names; for a Bearer JWT its `typ`,
 * `aud` and `scope`, never the token). A contender that authenticates must refuse the same request
 * without its token (401, RFC 6750 §3.1), or it would be measured without its checks.
 * @param {Contender} contender
 */
async function checkContender(contender) {
  const base = `${contender.process.url}${contender.prefix}`;
  const items = await fetch(`${base}${ITEMS}`, { headers: contender.headers });
  const itemsBody = await items.text();
  if (items.status !== 200 || !itemsBody.includes(EXPECT)) {
    throw new Error(
      `${contender.label}: GET ${contender.prefix}${ITEMS} answered ${items.status}: ${itemsBody.slice(0, 300)}`,
    );
  }
  const check = await fetch(`${base}/check`, { headers: contender.headers });
  const seen = /** @type {{ headers: string[], authorization: Record<string, unknown>, path: string }} */ (
    await check.json()
  );
  let withoutToken;
  if (contender.headers['authorization'] !== undefined) {
    const refused = await fetch(`${base}${ITEMS}`);
    await refused.arrayBuffer();
    withoutToken = refused.status;
    if (withoutToken !== 401) {
      throw new Error(
        `${contender.label}: GET ${contender.prefix}${ITEMS} without a token answered ${withoutToken}`,
      );
    }
  }
  return {
    status: items.status,
    responseHeaders: [...items.headers.keys()].sort(),
    upstreamSaw: seen,
    ...(withoutToken === undefined ? {} : { withoutToken }),
  };
}

/**
 * Opens the idle connections on a contender and reads the memory of its process tree(s).
 * @param {Contender} contender
 * @param {import('./processes.mjs').Running} [fresh] Another process of the contender (fresh).
 */
async function measureIdle(contender, fresh) {
  const server = fresh ?? contender.process;
  const pids = fresh === undefined ? pidsOf(contender) : [fresh.pid];
  await new Promise((resolve) => setTimeout(resolve, PARAMETERS.idleSettleMs));
  const before = treeUsage(pids);
  const sampler = sampleTreeRss(pids, 50);
  const startedAt = performance.now();
  const idle = await openIdleConnections({
    url: server.url,
    path: `${contender.prefix}${ITEMS}`,
    headers: contender.headers,
    count: PARAMETERS.idleConnections,
    concurrency: PARAMETERS.connections,
  });
  const openMs = performance.now() - startedAt;
  await new Promise((resolve) => setTimeout(resolve, PARAMETERS.idleHoldMs));
  const held = treeUsage(pids);
  const stillOpen = idle.open;
  const peak = sampler.stop();
  idle.close();
  // Let the server notice the closed sockets before the next contender is measured.
  await new Promise((resolve) => setTimeout(resolve, 500));
  return {
    connections: idle.opened,
    stillOpen,
    openMs,
    rssBeforeBytes: before.rssBytes,
    rssHeldBytes: held.rssBytes,
    peakRssBytes: peak,
    // Approximate: the garbage collector may run between the two readings.
    rssDeltaBytes: held.rssBytes - before.rssBytes,
  };
}

/** The command that reproduces this run, as the docs should show it. */
function reproduceCommand() {
  const event = process.env['npm_lifecycle_event'];
  const command =
    event === 'gateway'
      ? 'npm run bench:gateway'
      : event === 'bench'
        ? 'npm run bench'
        : 'node bench/gateway/run.mjs';
  const overrides = Object.entries(process.env)
    .filter(([name, value]) => name.startsWith('BENCH_') && value !== undefined && value !== '')
    .map(([name, value]) => `${name}=${String(value)}`)
    .sort();
  return [...overrides, command].join(' ');
}

/** @param {string} name */
function packageVersion(name) {
  try {
    return /** @type {{ version: string }} */ (require(`${name}/package.json`)).version;
  } catch {
    return 'unknown';
  }
}

/**
 * Version of a workspace package (their exports do not include package.json).
 * @param {string} folder
 */
function workspaceVersion(folder) {
  const file = path.join(REPO_ROOT, 'packages', folder, 'package.json');
  return /** @type {{ version: string }} */ (JSON.parse(readFileSync(file, 'utf8'))).version;
}

/**
 * Starts nginx on a generated configuration and waits until its port answers.
 * @param {{ binary: string }} nginx
 * @param {{ label: string, prefix: string, config: string, url: string }} options
 */
function startNginx(nginx, { label, prefix, config, url }) {
  return startCommand({
    label,
    command: nginx.binary,
    // -e: the error log before the configuration is read (never the system's /var/log).
    args: ['-p', prefix, '-c', config, '-e', path.join(prefix, 'logs', 'error.log'), '-g', 'daemon off;'],
    // nginx prints nothing once it runs: it is ready when its port answers.
    ready: () => waitForPort(url),
    url,
    // Graceful shutdown (SIGTERM is nginx's fast shutdown).
    stopSignal: 'SIGQUIT',
  });
}

/**
 * Starts every process: upstream, the authorization server (when a row needs a token), nginx,
 * @fastify/http-proxy (plain and with @fastify/jwt), and one gateway process per gateway contender
 * (the nginx `auth_request` row: nginx and a gateway with the ext-authz listener). A contender that
 * cannot start leaves its row out, with the reason, instead of failing the run.
 * @param {string} dir
 * @param {string | undefined} profileDir
 */
async function startContenders(dir, profileDir) {
  /** @type {import('./processes.mjs').Running[]} */
  const processes = [];
  /** @type {Record<string, string>} */
  const skipped = {};
  /** @type {Record<string, string>} */
  const versions = { node: process.version };
  const wanted = (/** @type {string} */ id) => ONLY.length === 0 || ONLY.includes(id);
  /** @param {unknown} err */
  const reasonOf = (err) => (err instanceof Error ? err.message : String(err));

  const upstream = await startScript({
    label: 'upstream',
    script: path.join(HERE, 'servers', 'upstream.mjs'),
  });
  processes.push(upstream);
  /** @type {Contender[]} */
  const contenders = [];
  if (wanted('direct')) {
    contenders.push({
      id: 'direct',
      label: 'direct upstream (no proxy)',
      description: 'The upstream itself: node:http answering a 68-byte JSON body.',
      process: upstream,
      prefix: '',
      headers: {},
    });
  }

  // The authorization server and the tokens, for every row that authenticates.
  const gatewayIds = ['gatewayJwt', 'gatewayPhantom', 'gatewayOpen'].filter(wanted);
  const authIds = [...gatewayIds, 'fastifyJwt', 'nginxExtAuthz'].filter(wanted);
  /** @type {{ auth: import('./servers/gatehouse.mjs').AuthServerHandle, jwt: string, opaque: string } | undefined} */
  let tokens;
  if (authIds.length > 0) {
    try {
      const auth = await startAuthServer(dir);
      processes.push(auth.process);
      const jwt = await requestAccessToken(auth, auth.clients.jwt);
      const opaque = await requestAccessToken(auth, auth.clients.opaque);
      if (jwt.split('.').length !== 3) throw new Error('the JWT client did not get a JWT');
      if (opaque.split('.').length === 3) throw new Error('the opaque client got a JWT');
      versions['@gatehouse/gateway'] = workspaceVersion('gateway');
      versions['@gatehouse/auth-server'] = workspaceVersion('auth-server');
      tokens = { auth, jwt, opaque };
    } catch (err) {
      const reason = reasonOf(err);
      progress(
        `The authorization server could not be started; the rows that need a token are left out:\n  ${reason.split('\n').join('\n  ')}`,
      );
      for (const id of authIds) skipped[id] = reason.split('\n')[0] ?? reason;
    }
  }

  const nginx = findNginx();
  if (nginx !== undefined && (wanted('nginx') || wanted('nginxExtAuthz'))) versions['nginx'] = nginx.version;
  const nginxMissing = 'nginx is not installed (apt-get install -y --no-install-recommends nginx)';
  if (!wanted('nginx')) {
    // left out on purpose
  } else if (nginx === undefined) {
    skipped['nginx'] = nginxMissing;
  } else {
    const prefix = path.join(dir, 'nginx');
    const port = await freePort();
    const config = writeNginxConfig({
      prefix,
      port,
      upstreamUrl: upstream.url,
      workerConnections: PARAMETERS.idleConnections * 2 + 1024,
    });
    const running = await startNginx(nginx, {
      label: 'nginx',
      prefix,
      config,
      url: `http://127.0.0.1:${String(port)}`,
    });
    processes.push(running);
    contenders.push({
      id: 'nginx',
      label: `nginx ${nginx.version} (1 worker)`,
      description:
        'nginx as a plain reverse proxy: `worker_processes 1`, `proxy_http_version 1.1` with `keepalive 128` ' +
        'idle connections to the upstream, `access_log off`.',
      process: running,
      prefix: '',
      headers: {},
    });
  }

  if (wanted('fastify') || wanted('fastifyJwt')) {
    versions['@fastify/http-proxy'] = packageVersion('@fastify/http-proxy');
    versions['fastify'] = packageVersion('fastify');
  }
  if (wanted('fastify')) {
    const fastify = await startScript({
      label: '@fastify/http-proxy',
      script: path.join(HERE, 'servers', 'fastify-proxy.mjs'),
      env: { UPSTREAM_URL: upstream.url },
    });
    processes.push(fastify);
    contenders.push({
      id: 'fastify',
      label: '@fastify/http-proxy (plain)',
      description:
        '`@fastify/http-proxy` with its defaults (undici pool to the upstream), no auth, no logging.',
      process: fastify,
      prefix: '',
      headers: {},
    });
  }

  if (wanted('fastifyJwt') && tokens !== undefined) {
    try {
      const fastifyJwt = await startScript({
        label: '@fastify/http-proxy + @fastify/jwt',
        script: path.join(HERE, 'servers', 'fastify-jwt-proxy.mjs'),
        env: { UPSTREAM_URL: upstream.url, ISSUER: tokens.auth.issuer, AUDIENCE, SCOPE },
      });
      processes.push(fastifyJwt);
      versions['@fastify/jwt'] = packageVersion('@fastify/jwt');
      contenders.push({
        id: 'fastifyJwt',
        label: '@fastify/http-proxy + @fastify/jwt',
        description:
          "`@fastify/http-proxy` (defaults) behind `@fastify/jwt` (defaults otherwise): the full chain's ES256 " +
          "RFC 9068 access token verified with the authorization server's public key (its JWKS fetched once at " +
          'start, converted to PEM) in an `onRequest` hook: `algorithms: [ES256]`, `iss`, `aud`, `exp`, ' +
          '`typ` `at+jwt`, claims `iss aud exp iat sub` required, 30 s clock tolerance, as guard checks; ' +
          `verification cache off (fast-jwt's default, \`cache: false\`): every request verifies the signature. ` +
          `Scope \`${SCOPE}\` checked in a \`preHandler\` (401/403 otherwise); the token forwarded as received. ` +
          'No rate limit, no logging.',
        process: fastifyJwt,
        prefix: '',
        headers: { authorization: `Bearer ${tokens.jwt}` },
      });
    } catch (err) {
      skipped['fastifyJwt'] = reasonOf(err).split('\n')[0] ?? '';
      progress(`  @fastify/http-proxy + @fastify/jwt could not be started: ${reasonOf(err)}`);
    }
  }

  const minimalRows = [
    {
      id: 'minimal',
      label: 'node:http + undici (informative)',
      env: {},
      description:
        'Informative, a yardstick: the least a Node.js proxy does, `node:http` and an undici `Pool` (the ' +
        'HTTP client the gateway used for its upstreams before its own) with `dispatch` writing the answer straight into the response; hop-by-hop headers ' +
        'dropped, nothing else (no routing, validation, auth or log). Not part of any target.',
    },
    {
      id: 'minimalHeaders',
      label: 'node:http + undici + gateway headers (informative)',
      env: { MINIMAL_GATEWAY_HEADERS: '1' },
      description:
        'Informative, a yardstick: the row above, also setting the fields the gateway must set, with values of ' +
        'the same shape (upstream `Forwarded`, `X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Request-Id`, a new ' +
        '`traceparent`; on the answer `X-Request-Id`, `X-Content-Type-Options`, `Strict-Transport-Security`). ' +
        'The difference between the two rows is what those fields cost a Node.js proxy. Not part of any target.',
    },
    {
      id: 'minimalRawClient',
      label: 'node:http + hand-written client (informative)',
      script: 'raw-client-proxy.mjs',
      env: {},
      description:
        'Informative, an experiment: the first bare row with undici replaced by a hand-written HTTP/1.1 ' +
        'keep-alive client on `node:net`: what goes up checked as undici checks it, the answer head parsed ' +
        'strictly and read by `Content-Length` only; no timeouts, retries, chunked bodies or TLS (not a usable ' +
        "client). The difference to the first bare row is what undici's layer costs a Node.js proxy. Not part of " +
        'any target.',
    },
  ];
  for (const row of minimalRows) {
    if (!wanted(row.id)) continue;
    const minimal = await startScript({
      label: row.label,
      script: path.join(HERE, 'servers', row.script ?? 'minimal-proxy.mjs'),
      env: { UPSTREAM_URL: upstream.url, ...row.env },
      // Profiled too: the yardstick the gateway's profile is read against.
      ...(profileDir === undefined
        ? {}
        : {
            execArgv: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${row.id}.cpuprofile`],
          }),
    });
    processes.push(minimal);
    contenders.push({
      id: row.id,
      label: row.label,
      description: row.description,
      process: minimal,
      prefix: '',
      headers: {},
    });
  }

  if (tokens !== undefined && gatewayIds.length > 0) {
    const { auth, jwt, opaque } = tokens;
    try {
      const configFile = writeGatewayConfig(dir, {
        issuer: auth.issuer,
        upstreamUrl: upstream.url,
        clientId: auth.clients.gateway.id,
      });
      /** @type {Record<string, { label: string, description: string, prefix: string, token: string | undefined }>} */
      const defs = {
        gatewayJwt: {
          label: 'gateway: full chain (JWT)',
          description:
            `Route \`${GATEWAY_PATHS.jwt}\`, auth \`jwt\`: ES256 RFC 9068 access token from client credentials ` +
            `(verified through the JWKS, verification cached), scope \`${SCOPE}\` required for GET, a GCRA rate ` +
            `limit per client_id (${fmt(RATE_LIMIT.limit)}/s, never reached), access log (JSON line at info), metrics.`,
          prefix: GATEWAY_PATHS.jwt,
          token: jwt,
        },
        gatewayPhantom: {
          label: 'gateway: phantom token (opaque)',
          description:
            `Route \`${GATEWAY_PATHS.phantom}\`, auth \`opaque\`: opaque access token, introspected at the ` +
            'authorization server and exchanged (RFC 8693) for an internal JWT for the audience, both results ' +
            'cached; same scope check, rate limit, access log and metrics as the full chain.',
          prefix: GATEWAY_PATHS.phantom,
          token: opaque,
        },
        gatewayOpen: {
          label: 'gateway: no auth (informative)',
          description:
            `Route \`${GATEWAY_PATHS.open}\`, auth \`none\`: the pipeline without authentication, scopes or rate ` +
            'limit (canonical path, routing, header rewriting, access log, metrics). Not part of any target.',
          prefix: GATEWAY_PATHS.open,
          token: undefined,
        },
      };
      const builds = BASELINE_CLI === '' && BASELINE_NODE_ARGS === undefined ? [''] : ['', 'Baseline'];
      /** What a baseline row runs on: the other build, or this one with other Node.js options. */
      const baseline = {
        cli: BASELINE_CLI === '' ? CLI : BASELINE_CLI,
        ...(BASELINE_NODE_ARGS === undefined ? {} : { nodeArgs: BASELINE_NODE_ARGS }),
      };
      for (const [id, build] of gatewayIds.flatMap((gatewayId) => builds.map((b) => [gatewayId, b]))) {
        const def = /** @type {(typeof defs)[string]} */ (defs[/** @type {string} */ (id)]);
        const rowId = `${String(id)}${String(build)}`;
        const label = build === '' ? def.label : `${def.label} [baseline build]`;
        const running = await startGateway({
          label,
          configFile,
          dataDir: path.join(dir, `gateway-data-${rowId}`),
          env: auth.env,
          ...(KEEP_LOGS ? { logFile: path.join(dir, `${rowId}.log`) } : {}),
          ...(profileDir === undefined ? {} : { profile: { dir: profileDir, name: `${rowId}.cpuprofile` } }),
          ...(build === '' ? {} : baseline),
        });
        processes.push(running);
        contenders.push({
          id: rowId,
          label,
          description: def.description,
          process: running,
          prefix: def.prefix,
          headers: def.token === undefined ? {} : { authorization: `Bearer ${def.token}` },
          startFresh: () =>
            startGateway({
              label: `${label} (fresh)`,
              configFile,
              dataDir: path.join(dir, `gateway-data-${rowId}-fresh`),
              env: auth.env,
              ...(build === '' ? {} : baseline),
            }),
        });
      }
    } catch (err) {
      const reason = reasonOf(err);
      progress(
        `The gateway could not be started; its rows are left out:\n  ${reason.split('\n').join('\n  ')}`,
      );
      for (const id of gatewayIds) {
        if (!contenders.some((c) => c.id === id)) skipped[id] = reason.split('\n')[0] ?? reason;
      }
    }
  }

  if (!wanted('nginxExtAuthz') || tokens === undefined) {
    // left out on purpose, or no token (the reason is recorded above)
  } else if (nginx === undefined) {
    skipped['nginxExtAuthz'] = nginxMissing;
  } else if (!nginx.authRequest) {
    skipped['nginxExtAuthz'] = `${nginx.binary} was built without ngx_http_auth_request_module`;
  } else {
    const { auth, jwt } = tokens;
    try {
      const extAuthzUrl = `http://127.0.0.1:${String(await freePort())}`;
      const configFile = writeGatewayConfig(dir, {
        issuer: auth.issuer,
        upstreamUrl: upstream.url,
        clientId: auth.clients.gateway.id,
        extAuthzPort: Number(new URL(extAuthzUrl).port),
      });
      const gateway = await startGateway({
        label: 'gateway (ext-authz for nginx)',
        configFile,
        dataDir: path.join(dir, 'gateway-data-nginxExtAuthz'),
        env: auth.env,
        ...(KEEP_LOGS ? { logFile: path.join(dir, 'nginxExtAuthz.log') } : {}),
        ...(profileDir === undefined
          ? {}
          : { profile: { dir: profileDir, name: 'nginxExtAuthz.cpuprofile' } }),
      });
      processes.push(gateway);
      await waitForPort(extAuthzUrl);
      const prefix = path.join(dir, 'nginx-ext-authz');
      const port = await freePort();
      const config = writeNginxAuthRequestConfig({
        prefix,
        port,
        upstreamUrl: upstream.url,
        extAuthzUrl,
        workerConnections: PARAMETERS.idleConnections * 2 + 1024,
      });
      const running = await startNginx(nginx, {
        label: 'nginx (auth_request)',
        prefix,
        config,
        url: `http://127.0.0.1:${String(port)}`,
      });
      processes.push(running);
      contenders.push({
        id: 'nginxExtAuthz',
        label: 'nginx auth_request -> gateway ext-authz',
        description:
          `nginx (1 worker) with the shipped \`${path.relative(REPO_ROOT, AUTH_REQUEST_SITE)}\` (its two ` +
          'upstream pools at `keepalive 128` as in the plain row, instead of 16): for every request an ' +
          "`auth_request` subrequest to a gateway process's external-authorization listener (`extAuthz`, " +
          `style nginx), which runs the full chain's route \`${GATEWAY_PATHS.jwt}\` (the same token, JWT ` +
          'verification cached, scope, rate limit, access log, metrics) and answers 200 with the token and ' +
          'the rewritten path; nginx then proxies to the upstream itself. CPU and memory: nginx and that ' +
          'gateway process together.',
        process: running,
        also: [gateway],
        prefix: GATEWAY_PATHS.jwt,
        headers: { authorization: `Bearer ${jwt}` },
      });
    } catch (err) {
      const reason = reasonOf(err);
      progress(`  nginx auth_request could not be started:\n  ${reason.split('\n').join('\n  ')}`);
      skipped['nginxExtAuthz'] = reason.split('\n')[0] ?? reason;
    }
  }
  return { upstream, processes, contenders, skipped, versions };
}

/**
 * @param {Contender} contender
 * @param {LoadResult[]} rounds
 * @param {LoadResult} warmup
 */
function summarize(contender, rounds, warmup) {
  const all = [warmup, ...rounds];
  return {
    id: contender.id,
    label: contender.label,
    description: contender.description,
    pid: contender.process.pid,
    /** Every process counted in CPU and memory (more than one for nginx `auth_request`). */
    pids: pidsOf(contender),
    checked: contender.checked,
    median: {
      reqPerSec: median(rounds.map((r) => r.reqPerSec)),
      p50Ms: median(rounds.map((r) => r.latencyMs.p50)),
      p90Ms: median(rounds.map((r) => r.latencyMs.p90)),
      p99Ms: median(rounds.map((r) => r.latencyMs.p99)),
      cpuSecPer10k: median(rounds.map((r) => r.cpuSecPer10k)),
      upstreamCpuPct: median(rounds.map((r) => r.upstreamCpuPct)),
      generatorCpuPct: median(rounds.map((r) => r.generatorCpuPct)),
    },
    totals: {
      requests: all.reduce((n, r) => n + r.requests, 0),
      non2xx: all.reduce((n, r) => n + r.non2xx, 0),
      errors: all.reduce((n, r) => n + r.errors, 0),
      timeouts: all.reduce((n, r) => n + r.timeouts, 0),
      mismatches: all.reduce((n, r) => n + r.mismatches, 0),
    },
    valid: all.every((r) => failures(r) === 0),
    /** Filled in after the load: RSS after the checked request, before any load; peak under load. */
    startRssBytes: Number.NaN,
    peakRssBytes: Number.NaN,
    idle: /** @type {Awaited<ReturnType<typeof measureIdle>> | { error: string } | undefined} */ (undefined),
    /** The same measurement on a freshly started process (gateway rows). */
    freshIdle: /** @type {Awaited<ReturnType<typeof measureIdle>> | { error: string } | undefined} */ (
      undefined
    ),
    warmup,
    rounds,
  };
}

/** @typedef {ReturnType<typeof summarize>} ContenderResult */

/**
 * Ratios of medians, and the median of the per-round ratios (rounds are paired: both contenders ran
 * in the same round, a few seconds apart).
 * @param {ContenderResult | undefined} a
 * @param {ContenderResult | undefined} b
 */
function ratio(a, b) {
  if (a === undefined || b === undefined) return undefined;
  const perRound = a.rounds.map((r, i) => r.reqPerSec / (b.rounds[i]?.reqPerSec ?? Number.NaN));
  return {
    ofMedians: a.median.reqPerSec / b.median.reqPerSec,
    medianOfRounds: median(perRound),
    perRound,
    valid: a.valid && b.valid,
  };
}

/**
 * Every target of issues 4 and 8 with its measured value and verdict; `id` is stable (a summary
 * script reads them), `issue` says where the target comes from.
 * @param {ContenderResult[]} results
 * @param {HalfRateResult | undefined} halfRate
 */
function evaluateTargets(results, halfRate) {
  const find = (/** @type {string} */ id) => results.find((r) => r.id === id);
  const jwt = find('gatewayJwt');
  const phantom = find('gatewayPhantom');
  /**
   * @param {string} id
   * @param {number} issue
   * @param {string} target
   * @param {ReturnType<typeof ratio>} r
   * @param {number} min
   */
  const ratioTarget = (id, issue, target, r, min) => ({
    id,
    issue,
    target,
    threshold: min,
    measured: r === undefined ? 'n/a' : `${fmt(r.medianOfRounds, 2)}x`,
    value: r?.medianOfRounds ?? Number.NaN,
    verdict: r === undefined ? 'NOT RUN' : !r.valid ? 'INVALID' : r.medianOfRounds >= min ? 'PASS' : 'FAIL',
  });
  /**
   * @param {ContenderResult | undefined} c
   * @param {'idle' | 'freshIdle'} which
   */
  const idleTarget = (c, which) => {
    const idle = c?.[which];
    const held = idle !== undefined && 'rssHeldBytes' in idle ? idle.rssHeldBytes : undefined;
    const when = which === 'idle' ? 'after the load' : 'fresh process';
    return {
      id: `issue4.idleRss.${c?.id ?? 'gateway'}.${which === 'idle' ? 'afterLoad' : 'fresh'}`,
      issue: 4,
      target: `${c?.label ?? 'gateway'}, ${when}: RSS with ${fmt(PARAMETERS.idleConnections)} idle connections < ${fmt(TARGETS.idleRssBytes / 2 ** 20)} MiB`,
      threshold: TARGETS.idleRssBytes,
      measured: held === undefined ? 'n/a' : `${fmt(held / 2 ** 20, 1)} MiB`,
      value: held ?? Number.NaN,
      verdict: held === undefined ? 'NOT RUN' : held < TARGETS.idleRssBytes ? 'PASS' : 'FAIL',
    };
  };
  const added = halfRate?.addedP99Ms.medianOfRounds;
  return [
    ratioTarget(
      'issue4.fullChainVsFastify',
      4,
      `full chain >= ${TARGETS.fullChainVsFastify}x @fastify/http-proxy (plain)`,
      ratio(jwt, find('fastify')),
      TARGETS.fullChainVsFastify,
    ),
    ratioTarget(
      'issue4.fullChainVsNginx',
      4,
      `full chain >= ${TARGETS.fullChainVsNginx}x nginx`,
      ratio(jwt, find('nginx')),
      TARGETS.fullChainVsNginx,
    ),
    ratioTarget(
      'issue4.phantomVsJwt',
      4,
      `phantom path >= ${TARGETS.phantomVsJwt}x full chain (JWT)`,
      ratio(phantom, jwt),
      TARGETS.phantomVsJwt,
    ),
    idleTarget(jwt, 'freshIdle'),
    idleTarget(jwt, 'idle'),
    ...(phantom === undefined ? [] : [idleTarget(phantom, 'freshIdle'), idleTarget(phantom, 'idle')]),
    ratioTarget(
      'issue8.fullChainVsNginx',
      8,
      `full chain >= ${TARGETS.fullChainVsNginxIssue8}x nginx`,
      ratio(jwt, find('nginx')),
      TARGETS.fullChainVsNginxIssue8,
    ),
    ratioTarget(
      'issue8.fullChainVsFastifyJwt',
      8,
      `full chain >= ${TARGETS.fullChainVsFastifyJwt}x @fastify/http-proxy + @fastify/jwt`,
      ratio(jwt, find('fastifyJwt')),
      TARGETS.fullChainVsFastifyJwt,
    ),
    {
      id: 'issue8.addedP99AtHalfRate',
      issue: 8,
      target: `gateway-added p99 <= ${fmt(TARGETS.addedP99AtHalfRateMs, 1)} ms at half of the full chain's maximum throughput`,
      threshold: TARGETS.addedP99AtHalfRateMs,
      measured: added === undefined ? 'n/a' : `${fmt(added, 2)} ms`,
      value: added ?? Number.NaN,
      verdict:
        halfRate === undefined || added === undefined
          ? 'NOT RUN'
          : !halfRate.valid
            ? 'INVALID'
            : added <= TARGETS.addedP99AtHalfRateMs
              ? 'PASS'
              : 'FAIL',
    },
  ];
}

/** @type {import('../lib/report.mjs').Column[]} */
const RESULT_COLUMNS = [
  { title: 'Contender' },
  { title: 'req/s (median)', align: 'right' },
  { title: 'p50 ms', align: 'right' },
  { title: 'p90 ms', align: 'right' },
  { title: 'p99 ms', align: 'right' },
  { title: 'CPU s/10k req', align: 'right' },
  { title: 'RSS at start', align: 'right' },
  { title: 'Peak RSS', align: 'right' },
  { title: `RSS, ${fmt(PARAMETERS.idleConnections)} idle conns`, align: 'right' },
  { title: `Same, fresh process`, align: 'right' },
  { title: 'Non-2xx/errors', align: 'right' },
  { title: 'vs nginx', align: 'right' },
  { title: 'vs @fastify/http-proxy', align: 'right' },
];

/** @param {number} bytes */
const mib = (bytes) => `${fmt(bytes / 2 ** 20, 1)} MiB`;

/** @param {ContenderResult[]} results */
function resultRows(results) {
  const nginx = results.find((r) => r.id === 'nginx');
  const fastify = results.find((r) => r.id === 'fastify');
  /** @param {ContenderResult} r @param {ContenderResult | undefined} base */
  const versus = (r, base) => {
    const value = ratio(r, base)?.medianOfRounds;
    return value === undefined ? 'n/a' : `${fmt(value, 2)}x`;
  };
  return results.map((r) => {
    /** @param {ContenderResult['idle']} idle */
    const idleCell = (idle) =>
      idle === undefined
        ? 'n/a'
        : 'error' in idle
          ? 'failed'
          : `${mib(idle.rssHeldBytes)}${idle.stillOpen < idle.connections ? ` (${fmt(idle.stillOpen)} open)` : ''}`;
    return [
      r.label,
      fmt(r.median.reqPerSec),
      fmt(r.median.p50Ms, 2),
      fmt(r.median.p90Ms, 2),
      fmt(r.median.p99Ms, 2),
      fmt(r.median.cpuSecPer10k, 2),
      mib(r.startRssBytes),
      mib(r.peakRssBytes),
      idleCell(r.idle),
      idleCell(r.freshIdle),
      `${fmt(r.totals.non2xx + r.totals.errors)}${r.valid ? '' : ' INVALID'}`,
      versus(r, nginx),
      versus(r, fastify),
    ];
  });
}

/**
 * The latency the gateway adds below saturation (issue 8): a fixed-rate load at half of the full
 * chain's median req/s of the rounds, alternating between the direct upstream and the full chain
 * (order rotated), after a short warm-up of each at that rate. Every answer is checked as in the
 * rounds. Undefined when either row did not run.
 * @param {Contender[]} contenders
 * @param {ContenderResult[]} results
 */
async function measureHalfRate(contenders, results) {
  const pair = ['direct', 'gatewayJwt'].map((id) => contenders.find((c) => c.id === id));
  const jwt = results.find((r) => r.id === 'gatewayJwt');
  if (pair.some((c) => c === undefined) || jwt === undefined || !(jwt.median.reqPerSec > 0)) return undefined;
  const both = /** @type {Contender[]} */ (pair);
  const rate = Math.max(1, Math.round(jwt.median.reqPerSec / 2));
  /**
   * @param {Contender} c
   * @param {number} ms
   */
  const paced = (c, ms) =>
    runPacedLoad({
      url: `${c.process.url}${c.prefix}${ITEMS}`,
      headers: c.headers,
      rate,
      ms,
      connections: PARAMETERS.connections,
      expect: EXPECT,
    });
  /** @param {import('./paced-load.mjs').PacedResult} r */
  const bad = (r) => r.non2xx + r.errors + r.mismatches;
  progress(`Fixed rate ${fmt(rate)} req/s (half of the full chain's ${fmt(jwt.median.reqPerSec)} req/s):`);
  /** @type {Map<string, import('./paced-load.mjs').PacedResult>} */
  const warmups = new Map();
  for (const c of both)
    warmups.set(c.id, await paced(c, Math.min(PARAMETERS.warmupMs, PARAMETERS.halfRateMs)));
  /** @type {Map<string, import('./paced-load.mjs').PacedResult[]>} */
  const runs = new Map(both.map((c) => [c.id, []]));
  for (let round = 0; round < PARAMETERS.halfRateRounds; round++) {
    for (const c of rotate(both, round)) {
      const r = await paced(c, PARAMETERS.halfRateMs);
      runs.get(c.id)?.push(r);
      progress(
        `  fixed rate ${round + 1}/${PARAMETERS.halfRateRounds} ${c.label.padEnd(28)} ${fmt(r.reqPerSec).padStart(7)} req/s  ` +
          `p50 ${fmt(r.latencyMs.p50, 2)}  p90 ${fmt(r.latencyMs.p90, 2)}  p99 ${fmt(r.latencyMs.p99, 2)} ms  ` +
          `timer lag p99 ${fmt(r.lagMs.p99, 2)} ms${bad(r) === 0 ? '' : `  ${fmt(bad(r))} FAILED ${JSON.stringify(r.statusCodes)}`}`,
      );
    }
  }
  const rows = both.map((c) => {
    const list = runs.get(c.id) ?? [];
    const warmup = /** @type {import('./paced-load.mjs').PacedResult} */ (warmups.get(c.id));
    const all = [warmup, ...list];
    return {
      id: c.id,
      label: c.label,
      median: {
        reqPerSec: median(list.map((r) => r.reqPerSec)),
        p50Ms: median(list.map((r) => r.latencyMs.p50)),
        p90Ms: median(list.map((r) => r.latencyMs.p90)),
        p99Ms: median(list.map((r) => r.latencyMs.p99)),
        wireP99Ms: median(list.map((r) => r.wireLatencyMs.p99)),
        lagP99Ms: median(list.map((r) => r.lagMs.p99)),
      },
      failures: all.reduce((n, r) => n + bad(r), 0),
      valid: all.every((r) => bad(r) === 0),
      warmup,
      rounds: list,
    };
  });
  const direct = runs.get('direct') ?? [];
  // Paired like the ratios: both ran in the same alternation, seconds apart.
  const perRound = (runs.get('gatewayJwt') ?? []).map(
    (r, i) => r.latencyMs.p99 - (direct[i]?.latencyMs.p99 ?? Number.NaN),
  );
  const [directRow, jwtRow] = /** @type {[(typeof rows)[0], (typeof rows)[0]]} */ (rows);
  return {
    rate,
    ofReqPerSec: jwt.median.reqPerSec,
    ms: PARAMETERS.halfRateMs,
    rounds: PARAMETERS.halfRateRounds,
    contenders: rows,
    addedP99Ms: {
      medianOfRounds: median(perRound),
      ofMedians: jwtRow.median.p99Ms - directRow.median.p99Ms,
      perRound,
    },
    valid: rows.every((r) => r.valid),
  };
}

/** @typedef {NonNullable<Awaited<ReturnType<typeof measureHalfRate>>>} HalfRateResult */

/** @type {import('../lib/report.mjs').Column[]} */
const HALF_RATE_COLUMNS = [
  { title: 'Contender' },
  { title: 'req/s asked', align: 'right' },
  { title: 'req/s answered', align: 'right' },
  { title: 'p50 ms', align: 'right' },
  { title: 'p90 ms', align: 'right' },
  { title: 'p99 ms', align: 'right' },
  { title: 'Generator timer lag p99 ms', align: 'right' },
  { title: 'Non-2xx/errors', align: 'right' },
];

/** @param {HalfRateResult} halfRate */
function halfRateRows(halfRate) {
  return [
    ...halfRate.contenders.map((r) => [
      r.label,
      fmt(halfRate.rate),
      fmt(r.median.reqPerSec),
      fmt(r.median.p50Ms, 2),
      fmt(r.median.p90Ms, 2),
      fmt(r.median.p99Ms, 2),
      fmt(r.median.lagP99Ms, 2),
      `${fmt(r.failures)}${r.valid ? '' : ' INVALID'}`,
    ]),
    [
      'gateway-added p99 (full chain - direct)',
      '',
      '',
      '',
      '',
      fmt(halfRate.addedP99Ms.medianOfRounds, 2),
      '',
      '',
    ],
  ];
}

/** @type {import('../lib/report.mjs').Column[]} */
const TARGET_COLUMNS = [{ title: 'Target' }, { title: 'Measured', align: 'right' }, { title: 'Verdict' }];

/**
 * Where each profiled gateway process spent its time.
 * @param {string} profileDir
 * @param {ContenderResult[]} results
 */
async function profileReport(profileDir, results) {
  const summaries = [];
  const lines = ['', `CPU profiles (node --cpu-prof) in ${profileDir}:`];
  for (const r of results.filter(
    (c) => c.id.startsWith('gateway') || c.id === 'nginxExtAuthz' || c.id.startsWith('minimal'),
  )) {
    const summary = await summarizeProfile(path.join(profileDir, `${r.id}.cpuprofile`), { top: 25 });
    const perRequest = (/** @type {number} */ ms) => (ms * 1000) / r.totals.requests;
    summaries.push({ id: r.id, requests: r.totals.requests, ...summary });
    lines.push(
      '',
      `${r.label}: main thread busy ${fmt(summary.busyMs / 1000, 1)} s, idle ${fmt(summary.idleMs / 1000, 1)} s; ` +
        `${fmt(r.totals.requests)} requests (this row), ${fmt(perRequest(summary.busyMs), 1)} µs busy per request`,
      ...profileTables(summary),
    );
  }
  return { summaries, text: lines.join('\n') };
}

async function main() {
  const machine = machineInfo();
  const date = today();
  const startedAt = new Date().toISOString();
  const loadStart = os.loadavg()[0] ?? Number.NaN;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-gateway-'));
  const profileDir = PROFILE ? mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-profiles-')) : undefined;
  const rounds = `${PARAMETERS.rounds} round${PARAMETERS.rounds === 1 ? '' : 's'}`;
  progress(`Gateway benchmark: ${machineLine(machine)}`);
  progress(
    `${rounds} x ${PARAMETERS.sliceMs} ms per contender (warm-up ${PARAMETERS.warmupMs} ms), ` +
      `${PARAMETERS.connections} connections, then ${fmt(PARAMETERS.idleConnections)} idle connections each` +
      `${PROFILE ? '; gateway processes profiled with --cpu-prof' : ''}`,
  );

  const { upstream, processes, contenders, skipped, versions } = await startContenders(dir, profileDir);
  /** @type {ContenderResult[]} */
  let results = [];
  /** @type {HalfRateResult | undefined} */
  let halfRate;
  /** @type {Map<string, ReturnType<typeof sampleTreeRss>>} */
  const samplers = new Map();
  try {
    for (const c of contenders) {
      c.checked = await checkContender(c);
      const saw = /** @type {{ upstreamSaw: { authorization: Record<string, unknown> } }} */ (c.checked)
        .upstreamSaw.authorization;
      progress(`  checked ${c.label.padEnd(40)} upstream saw authorization: ${JSON.stringify(saw)}`);
      const authenticated = ['gatewayJwt', 'gatewayPhantom', 'fastifyJwt', 'nginxExtAuthz'].includes(c.id);
      if (authenticated && (saw['kind'] !== 'jwt' || saw['aud'] !== AUDIENCE)) {
        throw new Error(`${c.label}: the upstream did not receive a JWT for ${AUDIENCE}`);
      }
    }
    /** @type {Map<string, number>} */
    const startRss = new Map();
    for (const c of contenders) {
      startRss.set(c.id, treeUsage(pidsOf(c)).rssBytes);
      samplers.set(c.id, sampleTreeRss(pidsOf(c)));
    }

    /** @type {Map<string, LoadResult>} */
    const warmups = new Map();
    for (const c of contenders) {
      const r = await runLoad(c, upstream, PARAMETERS.warmupMs);
      warmups.set(c.id, r);
      progress(
        `  warm-up ${c.label.padEnd(40)} ${fmt(r.reqPerSec).padStart(8)} req/s${failures(r) === 0 ? '' : `  ${fmt(failures(r))} FAILED`}`,
      );
    }
    /** @type {Map<string, LoadResult[]>} */
    const slices = new Map(contenders.map((c) => [c.id, []]));
    for (let round = 0; round < PARAMETERS.rounds; round++) {
      for (const c of rotate(contenders, round)) {
        const r = await runLoad(c, upstream, PARAMETERS.sliceMs);
        slices.get(c.id)?.push(r);
        const bad = failures(r) === 0 ? '' : `  ${fmt(failures(r))} FAILED ${JSON.stringify(r.statusCodes)}`;
        progress(
          `  round ${round + 1}/${PARAMETERS.rounds} ${c.label.padEnd(40)} ${fmt(r.reqPerSec).padStart(8)} req/s  ` +
            `p99 ${fmt(r.latencyMs.p99, 2).padStart(6)} ms  CPU ${fmt(r.cpuSecPer10k, 2)} s/10k  ` +
            `upstream ${fmt(r.upstreamCpuPct)}%  autocannon ${fmt(r.generatorCpuPct)}%${bad}`,
        );
      }
    }
    results = contenders.map((c) =>
      summarize(c, slices.get(c.id) ?? [], /** @type {LoadResult} */ (warmups.get(c.id))),
    );
    for (const r of results) {
      r.startRssBytes = startRss.get(r.id) ?? Number.NaN;
      r.peakRssBytes = samplers.get(r.id)?.stop() ?? Number.NaN;
    }

    halfRate = await measureHalfRate(contenders, results);

    for (const c of contenders) {
      const r = /** @type {ContenderResult} */ (results.find((x) => x.id === c.id));
      try {
        r.idle = await measureIdle(c);
        progress(
          `  idle ${c.label.padEnd(40)} ${fmt(r.idle.connections)} connections: RSS ${mib(r.idle.rssBeforeBytes)} -> ` +
            `${mib(r.idle.rssHeldBytes)}, ${fmt(r.idle.stillOpen)} still open`,
        );
      } catch (err) {
        r.idle = { error: err instanceof Error ? err.message : String(err) };
        progress(`  idle ${c.label}: failed: ${r.idle.error}`);
      }
    }
    // Without load history: a new process, the same connections (its first request of a token
    // pays the cache misses, as in production).
    for (const c of contenders) {
      if (c.startFresh === undefined) continue;
      const r = /** @type {ContenderResult} */ (results.find((x) => x.id === c.id));
      const fresh = await c.startFresh();
      try {
        r.freshIdle = await measureIdle(c, fresh);
        progress(
          `  idle ${`${c.label} (fresh)`.padEnd(40)} ${fmt(r.freshIdle.connections)} connections: RSS ` +
            `${mib(r.freshIdle.rssBeforeBytes)} -> ${mib(r.freshIdle.rssHeldBytes)}, ${fmt(r.freshIdle.stillOpen)} still open`,
        );
      } catch (err) {
        r.freshIdle = { error: err instanceof Error ? err.message : String(err) };
        progress(`  idle ${c.label} (fresh): failed: ${r.freshIdle.error}`);
      } finally {
        await fresh.stop();
      }
    }
  } finally {
    for (const sampler of samplers.values()) sampler.stop();
    for (const p of [...processes].reverse()) {
      const code = await p.stop();
      if (code !== 0 && code !== null) progress(`  ${p.label} exited with code ${String(code)}`);
    }
    if (KEEP_LOGS) progress(`Kept ${dir} (BENCH_KEEP_LOGS=1).`);
    else rmSync(dir, { recursive: true, force: true });
  }

  const targets = evaluateTargets(results, halfRate);
  const comparisons = {
    fullChainVsFastify: ratio(
      results.find((r) => r.id === 'gatewayJwt'),
      results.find((r) => r.id === 'fastify'),
    ),
    fullChainVsNginx: ratio(
      results.find((r) => r.id === 'gatewayJwt'),
      results.find((r) => r.id === 'nginx'),
    ),
    phantomVsJwt: ratio(
      results.find((r) => r.id === 'gatewayPhantom'),
      results.find((r) => r.id === 'gatewayJwt'),
    ),
    fastifyVsNginx: ratio(
      results.find((r) => r.id === 'fastify'),
      results.find((r) => r.id === 'nginx'),
    ),
    fullChainVsFastifyJwt: ratio(
      results.find((r) => r.id === 'gatewayJwt'),
      results.find((r) => r.id === 'fastifyJwt'),
    ),
    fastifyJwtVsFastify: ratio(
      results.find((r) => r.id === 'fastifyJwt'),
      results.find((r) => r.id === 'fastify'),
    ),
    nginxExtAuthzVsNginx: ratio(
      results.find((r) => r.id === 'nginxExtAuthz'),
      results.find((r) => r.id === 'nginx'),
    ),
    fullChainVsNginxExtAuthz: ratio(
      results.find((r) => r.id === 'gatewayJwt'),
      results.find((r) => r.id === 'nginxExtAuthz'),
    ),
  };
  const command = reproduceCommand();
  const autocannonVersion = packageVersion('autocannon');
  const versionLine = Object.entries({ ...versions, autocannon: autocannonVersion })
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  const valid = results.every((r) => r.valid) && (halfRate?.valid ?? true);
  // Runs with other gateway runtime options are experiments: they leave the docs alone.
  const complete =
    Object.keys(skipped).length === 0 &&
    ONLY.length === 0 &&
    GATEWAY_NODE_ARGS.length === 0 &&
    BASELINE_CLI === '' &&
    BASELINE_NODE_ARGS === undefined;
  const generatorCpu = Math.max(...results.map((r) => r.median.generatorCpuPct));
  const load = `Load average (1 min) ${fmt(loadStart, 2)} at start, ${fmt(os.loadavg()[0] ?? Number.NaN, 2)} at end`;
  const method =
    `Every contender runs in its own process on 127.0.0.1 (Node processes with NODE_ENV=production) in front of ` +
    `the same upstream, a minimal node:http server in another process answering a 68-byte JSON body. ` +
    `autocannon ${autocannonVersion} drives each contender from the parent process with ${PARAMETERS.connections} ` +
    `keep-alive connections, one request in flight per connection (\`GET ${ITEMS}\` behind the contender's route). ` +
    `Every contender is checked with one request, warmed up for ${PARAMETERS.warmupMs} ms, then the contenders ` +
    `alternate in ${rounds} of ${PARAMETERS.sliceMs} ms, order rotated every round; req/s, p50, p90 and p99 (every 2xx ` +
    'response timed) are the medians over the rounds; a ratio is the median of the per-round ratios (both ' +
    'contenders of a round ran within a minute of each other, so a drift of the machine load over the run ' +
    'cancels out). CPU s/10k req: user + ' +
    "system CPU of the contender's process tree (/proc) per 10 000 requests. RSS at start: after the checked " +
    'request, before any load. Peak RSS: the largest resident set of ' +
    "the contender's process tree (nginx: master + worker; nginx auth_request: its master + worker and the " +
    'gateway process it asks; sampled every 100 ms from /proc) during warm-up and ' +
    `rounds. Idle connections: ${PARAMETERS.idleSettleMs} ms after the rounds and the fixed-rate load (and, for ` +
    'the gateway, also in a ' +
    'freshly started process of the same configuration, without load history), ' +
    `${fmt(PARAMETERS.idleConnections)} new keep-alive connections each send one request and stay open; the RSS ` +
    `of the process tree is read after ${PARAMETERS.idleHoldMs} ms. Every ` +
    'response must be a 200 with the upstream body: anything else marks the row INVALID. nginx runs with ' +
    '`worker_processes 1`, since each Node contender runs its requests on one event-loop thread; a real nginx ' +
    'deployment would use one worker per core. The gateway is the built CLI (`gatehouse gateway --config FILE`), ' +
    'its JSON log (one access-log line per request at `info`) on standard output redirected to /dev/null; ' +
    '`gatehouse auth-server` issues the tokens (ES256, RFC 9068) and answers introspection and token exchange for ' +
    'the phantom path (a cache miss only on the first request of a token and when the internal JWT, valid 60 s, is ' +
    `renewed). Client idle keep-alive timeouts are 120 s on nginx and the gateway (\`limits.keepAliveTimeoutMs\`), ` +
    '72 s on fastify (its default), so the idle connections stay open while they are measured.';
  const halfRateMethod =
    halfRate === undefined
      ? ''
      : `Latency below saturation: after the rounds, a fixed-rate (open-loop) load of ${fmt(halfRate.rate)} req/s, ` +
        `half of the full chain's median ${fmt(halfRate.ofReqPerSec)} req/s, on the direct upstream and on the ` +
        `full chain, alternating ${halfRate.rounds} times for ${halfRate.ms} ms each (order rotated, after a warm-up ` +
        `of each at that rate). Requests leave on schedule whatever the answers (a 1 ms timer sends those due), ` +
        `over ${PARAMETERS.connections} keep-alive connections (opened before the timing) of an undici \`Pool\` in ` +
        'the parent process; a request waiting for a free connection counts that wait in its latency, from the ' +
        'moment it is dispatched to the end of its answer; the timer lag (how late requests left) is shown ' +
        'apart. Every answer must be a ' +
        '200 with the upstream body. The gateway-added p99 is the median of the per-alternation differences ' +
        "(full chain p99 - direct p99). autocannon's `overallRate` is not used: it spends each connection's budget " +
        'of the second back to back, so half the rate on average is full load for half of every second.';
  const generatorNote =
    `The machine's ${machine.cores} cores are shared by autocannon (up to ${fmt(generatorCpu)}% of a core), the ` +
    'contender and the upstream: the absolute numbers are low, compare the ratios.';

  let profile;
  if (profileDir !== undefined) profile = await profileReport(profileDir, results);

  const skippedLines = Object.entries(skipped).map(([id, reason]) => `Not run: ${id}: ${reason}`);
  const out = [
    '',
    `Gateway, ${date}${PROFILE ? ' (gateway profiled: its timings include profiler overhead)' : ''}`,
    `Machine: ${machineLine(machine)}`,
    load,
    `Versions: ${versionLine}`,
    `Median of ${rounds} x ${PARAMETERS.sliceMs} ms, warm-up ${PARAMETERS.warmupMs} ms, ${PARAMETERS.connections} connections`,
    valid
      ? 'Every response was a 200 with the upstream body.'
      : 'INVALID: some responses failed (see Non-2xx/errors).',
    generatorNote,
    ...skippedLines,
    '',
    textTable(RESULT_COLUMNS, resultRows(results)),
    '',
    ...(halfRate === undefined
      ? ['Latency at half of the maximum throughput: not run (needs the direct and full-chain rows).']
      : [
          `Latency at half of the full chain's maximum throughput (fixed rate ${fmt(halfRate.rate)} req/s, ` +
            `median of ${halfRate.rounds} x ${halfRate.ms} ms):`,
          textTable(HALF_RATE_COLUMNS, halfRateRows(halfRate)),
        ]),
    '',
    'Targets (informative, never fail the run):',
    textTable(
      TARGET_COLUMNS,
      targets.map((t) => [`${t.target} (issue ${t.issue})`, t.measured, t.verdict]),
    ),
    profile?.text ?? '',
    '',
  ];
  process.stdout.write(out.join('\n'));

  const suffix = PROFILE ? '-cpu-prof' : complete ? '' : '-partial';
  const resultFile = path.join(REPO_ROOT, 'bench', 'results', `gateway-${date}${suffix}.json`);
  await writeJson(resultFile, {
    benchmark: 'gateway',
    date,
    startedAt,
    finishedAt: new Date().toISOString(),
    command,
    machine,
    loadAverage1m: { start: loadStart, end: os.loadavg()[0] ?? Number.NaN },
    versions: { ...versions, autocannon: autocannonVersion },
    parameters: {
      ...PARAMETERS,
      profiled: PROFILE,
      only: ONLY,
      gatewayNodeArgs: GATEWAY_NODE_ARGS,
      targets: TARGETS,
      audience: AUDIENCE,
      scope: SCOPE,
      rateLimit: RATE_LIMIT,
      accessTokenTtlSec: ACCESS_TOKEN_TTL_SEC,
      cli: path.relative(REPO_ROOT, CLI),
    },
    method,
    valid,
    skipped,
    results,
    comparisons,
    halfRate: halfRate ?? null,
    targets,
    ...(profile === undefined ? {} : { profiles: profile.summaries }),
  });
  if (PROFILE || !complete) {
    progress(
      `Wrote ${path.relative(REPO_ROOT, resultFile)} (${PROFILE ? 'profiled' : 'partial'} run: docs/performance.md left as is).`,
    );
    return;
  }
  const doc = path.join(REPO_ROOT, 'docs', 'performance.md');
  await updateMarkedSection(
    doc,
    'gateway',
    [
      '## Gateway',
      '',
      `Generated by \`${command}\` on ${date}; raw numbers in \`bench/results/gateway-${date}.json\`.`,
      '',
      `Machine: ${machineLine(machine)}. ${load}. Versions: ${versionLine}.`,
      '',
      method,
      '',
      ...results.map((r) => `- **${r.label}**: ${r.description}`),
      '',
      markdownTable(RESULT_COLUMNS, resultRows(results)),
      '',
      ...(halfRate === undefined
        ? []
        : [
            `Latency at half of the full chain's maximum throughput (fixed rate ${fmt(halfRate.rate)} req/s):`,
            '',
            markdownTable(HALF_RATE_COLUMNS, halfRateRows(halfRate)),
            '',
            halfRateMethod,
            '',
          ]),
      `${valid ? 'Every response was a 200 with the upstream body.' : '**INVALID run**: some responses failed.'} ${generatorNote}`,
      '',
      'Targets (informative, never asserted in CI):',
      '',
      markdownTable(
        TARGET_COLUMNS,
        targets.map((t) => [`${t.target} (issue ${t.issue})`, t.measured, t.verdict]),
      ),
    ].join('\n'),
  );
  progress(
    `Wrote ${path.relative(REPO_ROOT, resultFile)} and ${path.relative(REPO_ROOT, doc)} (section bench:gateway).`,
  );
}

await main();
