/**
 * Contender: @gatehouse/auth-server (the built package, packages/auth-server/dist), configured like
 * oidc-provider in the benchmark: ES256 signing key, RFC 9068 JWT access tokens for one resource
 * (RFC 8707), client_secret_basic, client credentials, introspection and the authorization-code
 * grant. Its embedded defaults: a SQLite file (WAL) in a temporary directory and in-memory shared
 * state; every issued token is recorded in the database (so JWTs can be revoked and introspected).
 * Authorization codes are minted on the benchmark's request with the store the authorization
 * endpoint uses (`createAuthorizationCode`, not exported by the package: imported from its built
 * module). Started by ../run.mjs in a child process.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildAuthServerConfig, createAuthServer } from '@gatehouse/auth-server';
import { createLogger, createMemorySharedState, openSqlDatabase } from '@gatehouse/core';
import {
  ACCESS_TOKEN_TTL_SEC,
  AUDIENCE,
  CLIENT_IDS,
  CODE_FLOW,
  RESOURCE_SCOPES,
  newPkcePair,
} from '../fixtures.mjs';
import { serveParent } from './child.mjs';

const require = createRequire(import.meta.url);
/** Resolves from the auth-server package: the fastify it really runs on. */
const serverRequire = createRequire(require.resolve('@gatehouse/auth-server'));

/**
 * The authorization endpoint's code store (packages/auth-server/src/grants/authorization-code-store.ts),
 * from the built package next to its entry point: the package exports no way to mint a code
 * without a login.
 * @type {{ createAuthorizationCode: (deps: unknown, input: Record<string, unknown>) => Promise<string> }}
 */
const codeStore = await import(
  pathToFileURL(
    path.join(
      path.dirname(require.resolve('@gatehouse/auth-server')),
      'grants',
      'authorization-code-store.js',
    ),
  ).href
);

/** @param {NodeJS.Require} from @param {string} name */
function packageVersion(from, name) {
  // Walk up from the entry point: some packages do not export ./package.json.
  let dir = path.dirname(from.resolve(name));
  for (;;) {
    try {
      const pkg = /** @type {{ name?: string, version: string }} */ (
        JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'))
      );
      if (pkg.name === name) return pkg.version;
    } catch {
      // no package.json here: keep walking
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

// The issuer must be the URL the server answers on: take a free port first (as the test harness does).
const port = await new Promise((resolve) => {
  import('node:net').then(({ createServer }) => {
    const probe = createServer();
    probe.listen(0, '127.0.0.1', () => {
      const { port: free } = /** @type {import('node:net').AddressInfo} */ (probe.address());
      probe.close(() => resolve(free));
    });
  });
});
const issuer = `http://127.0.0.1:${String(port)}`;

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-bench-'));
const sql = openSqlDatabase({ sqliteFile: path.join(dataDir, 'auth.db') });
const state = createMemorySharedState();
let auditEvents = 0;

const server = await createAuthServer({
  config: buildAuthServerConfig({
    issuer,
    listen: { host: '127.0.0.1', port: /** @type {number} */ (port) },
    keys: { algorithm: 'ES256' },
    resources: [{ id: AUDIENCE, scopes: RESOURCE_SCOPES, accessTokenTtlSec: ACCESS_TOKEN_TTL_SEC }],
    tokens: { codeTtlSec: CODE_FLOW.codeTtlSec, idTokenTtlSec: CODE_FLOW.idTokenTtlSec },
  }),
  db: sql.db,
  engine: sql.engine,
  state,
  kek: randomBytes(32),
  now: Date.now,
  // Audit events are counted and dropped: the benchmark measures the server, not a sink.
  audit: () => {
    auditEvents++;
  },
  // Warnings and errors only, to stderr (forwarded by the benchmark); nothing is logged per request.
  logger: createLogger({ component: 'auth-server', level: 'warn', destination: process.stderr }),
});

/**
 * @param {string} clientId
 * @param {{ tokenFormat?: 'jwt' | 'opaque', canIntrospect?: boolean, resource?: boolean, codeFlow?: boolean }} options
 */
async function createClient(clientId, options) {
  const created = await server.services.clients.create({
    name: clientId,
    clientId,
    authMethod: 'client_secret_basic',
    ...(options.codeFlow === true
      ? { grantTypes: ['authorization_code'], redirectUris: [CODE_FLOW.redirectUri] }
      : { grantTypes: ['client_credentials'] }),
    scopes:
      options.resource === false
        ? []
        : options.codeFlow === true
          ? ['openid', ...RESOURCE_SCOPES]
          : RESOURCE_SCOPES,
    resources: options.resource === false ? [] : [AUDIENCE],
    tokenFormat: options.tokenFormat ?? 'jwt',
    canIntrospect: options.canIntrospect ?? false,
  });
  if (created.clientSecret === undefined) throw new Error(`${clientId}: no secret issued`);
  return { id: created.client.clientId, secret: created.clientSecret };
}

const clients = {
  jwt: await createClient(CLIENT_IDS.jwt, { tokenFormat: 'jwt' }),
  opaque: await createClient(CLIENT_IDS.opaque, { tokenFormat: 'opaque' }),
  resourceServer: await createClient(CLIENT_IDS.resourceServer, { canIntrospect: true, resource: false }),
  code: await createClient(CLIENT_IDS.code, { codeFlow: true }),
};

/**
 * `count` codes as the authorization endpoint issues them after a login and consent
 * (interaction/flow.ts `issueCode`): each with its own PKCE S256 challenge (RFC 7636 §4.2) and its
 * own login session id, for CODE_FLOW.scope and the resource AUDIENCE (RFC 8707 §2.1).
 * @type {import('./child.mjs').MintCodes}
 */
async function mintCodes(count) {
  const client = await server.services.clients.get(CLIENT_IDS.code);
  if (client === undefined) throw new Error(`${CLIENT_IDS.code} is missing`);
  /** @type {import('../fixtures.mjs').MintedCode[]} */
  const codes = [];
  for (let i = 0; i < count; i++) {
    const { codeVerifier, codeChallenge } = newPkcePair();
    const code = await codeStore.createAuthorizationCode(server.services.deps, {
      client,
      sub: CODE_FLOW.sub,
      redirectUri: CODE_FLOW.redirectUri,
      scopes: CODE_FLOW.scope.split(' '),
      resource: AUDIENCE,
      codeChallenge,
      nonce: null,
      sid: randomBytes(16).toString('base64url'),
      authTime: Date.now(),
      dpopJkt: null,
    });
    codes.push({ code, codeVerifier });
  }
  return codes;
}

const url = await server.listen();

serveParent(
  {
    type: 'ready',
    url,
    tokenPath: new URL(server.services.endpoints.token).pathname,
    introspectionPath: new URL(server.services.endpoints.introspection).pathname,
    clients,
    versions: {
      '@gatehouse/auth-server': packageVersion(require, '@gatehouse/auth-server'),
      fastify: packageVersion(serverRequire, 'fastify'),
      'better-sqlite3': packageVersion(createRequire(require.resolve('@gatehouse/core')), 'better-sqlite3'),
    },
  },
  async () => {
    await server.close();
    await Promise.all([sql.close(), state.close()]);
    rmSync(dataDir, { recursive: true, force: true });
  },
  () => ({ auditEvents }),
  mintCodes,
);
