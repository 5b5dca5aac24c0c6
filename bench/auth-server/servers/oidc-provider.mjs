/**
 * Contender: oidc-provider, configured like @gatehouse/auth-server in the benchmark: ES256 signing
 * key, RFC 9068 JWT access tokens for one resource (RFC 8707), client_secret_basic, client
 * credentials, introspection and the authorization-code grant. Its own in-memory adapter stores
 * state (JWT access tokens are not stored at all by oidc-provider), with a larger LRU than its
 * default 1,000 entries so the authorization codes minted for a load slice are all kept.
 * Authorization codes are minted on the benchmark's request with oidc-provider's models
 * (`Grant`, `AuthorizationCode`), as its own tests do. Started by ../run.mjs in a child process.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import Provider, { errors } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';
import {
  ACCESS_TOKEN_TTL_SEC,
  AUDIENCE,
  CLIENT_IDS,
  CODE_FLOW,
  RESOURCE_SCOPES,
  newPkcePair,
  newSecret,
} from '../fixtures.mjs';
import { serveParent } from './child.mjs';

const require = createRequire(import.meta.url);
/** Resolves from oidc-provider's own directory: the koa and jose it really runs on. */
const providerRequire = createRequire(require.resolve('oidc-provider/package.json'));

/** @param {string} name */
function packageVersion(name) {
  const file = providerRequire.resolve(`${name}/package.json`);
  return /** @type {{ version: string }} */ (JSON.parse(readFileSync(file, 'utf8'))).version;
}

/** An ES256 (P-256) private JWK, as oidc-provider's `jwks` option takes it. */
function es256Jwk() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    ...privateKey.export({ format: 'jwk' }),
    kid: `bench-es256-${randomBytes(4).toString('hex')}`,
    alg: 'ES256',
    use: 'sig',
  };
}

const server = createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
const issuer = `http://127.0.0.1:${port}`;

const secrets = {
  jwt: newSecret(),
  opaque: newSecret(),
  resourceServer: newSecret(),
  code: newSecret(),
};

/** @param {string} clientId @param {string} secret @param {string} [scope] */
const client = (clientId, secret, scope) => ({
  client_id: clientId,
  client_secret: secret,
  token_endpoint_auth_method: 'client_secret_basic',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  ...(scope === undefined ? {} : { scope }),
});

/**
 * Entries oidc-provider's memory adapter keeps per minted code: the Grant, the grant's member
 * index and the AuthorizationCode.
 */
const ENTRIES_PER_CODE = 3;
/**
 * The adapter's store: oidc-provider's LRU, 1,000 entries like its default adapter's until codes are
 * minted. Each batch of codes gets a fresh store (the codes of earlier slices are spent or abandoned,
 * as if expired), twice the batch's entries: a store rotates when `maxSize` entries were inserted
 * (reads of rotated entries insert them again), so no code of the batch is evicted during its slice.
 */
let store = new LRU({ maxSize: 1000 });

/** oidc-provider's memory adapter, reading the current store. */
class BenchMemoryAdapter extends MemoryAdapter {
  get storage() {
    return store;
  }
}

/**
 * @param {unknown} _ctx
 * @param {{ resourceServer?: { accessTokenTTL?: number } }} token
 */
const resourceTokenTtl = (_ctx, token) => token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL_SEC;

const provider = new Provider(issuer, {
  clients: [
    client(CLIENT_IDS.jwt, secrets.jwt, RESOURCE_SCOPES.join(' ')),
    client(CLIENT_IDS.opaque, secrets.opaque, RESOURCE_SCOPES.join(' ')),
    client(CLIENT_IDS.resourceServer, secrets.resourceServer),
    {
      ...client(CLIENT_IDS.code, secrets.code, ['openid', ...RESOURCE_SCOPES].join(' ')),
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [CODE_FLOW.redirectUri],
    },
  ],
  // Its own memory adapter, on a store sized for the minted codes.
  adapter: BenchMemoryAdapter,
  findAccount: (/** @type {unknown} */ _ctx, /** @type {string} */ sub) =>
    sub === CODE_FLOW.sub ? { accountId: sub, claims: () => ({ sub }) } : undefined,
  scopes: RESOURCE_SCOPES,
  routes: { token: '/token', introspection: '/token/introspection' },
  jwks: { keys: [es256Jwk()] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  clientDefaults: { id_token_signed_response_alg: 'ES256' },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // Only the resource server may introspect, as `canIntrospect` does at @gatehouse/auth-server.
    introspection: {
      enabled: true,
      allowedPolicy: (/** @type {unknown} */ _ctx, /** @type {{ clientId: string }} */ caller) =>
        caller.clientId === CLIENT_IDS.resourceServer,
    },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      // The token format is chosen per client, as @gatehouse/auth-server does (`tokenFormat`).
      getResourceServerInfo: (
        /** @type {unknown} */ _ctx,
        /** @type {string} */ resourceIndicator,
        /** @type {{ clientId: string }} */ oidcClient,
      ) => {
        if (resourceIndicator !== AUDIENCE) throw new errors.InvalidTarget();
        const opaque = oidcClient.clientId === CLIENT_IDS.opaque;
        return {
          scope: RESOURCE_SCOPES.join(' '),
          audience: AUDIENCE,
          accessTokenTTL: ACCESS_TOKEN_TTL_SEC,
          ...(opaque
            ? { accessTokenFormat: 'opaque' }
            : { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
        };
      },
    },
  },
  ttl: {
    ClientCredentials: resourceTokenTtl,
    AccessToken: resourceTokenTtl,
    AuthorizationCode: CODE_FLOW.codeTtlSec,
    IdToken: CODE_FLOW.idTokenTtlSec,
    // @gatehouse/auth-server's grant (refresh-token family) lifetime: 30 days.
    Grant: 30 * 86_400,
  },
});
server.on('request', provider.callback());

/**
 * `count` codes as oidc-provider's authorization endpoint leaves them after a login and consent:
 * a Grant of CODE_FLOW.scope (the OpenID scopes and the resource's scopes, RFC 8707) and an
 * AuthorizationCode bound to it, each with its own PKCE S256 challenge (RFC 7636 §4.2) and its own
 * session id.
 * @type {import('./child.mjs').MintCodes}
 */
async function mintCodes(count) {
  store = new LRU({ maxSize: Math.max(1000, 2 * ENTRIES_PER_CODE * count) });
  const oidcClient = await provider.Client.find(CLIENT_IDS.code);
  if (oidcClient === undefined) throw new Error(`${CLIENT_IDS.code} is missing`);
  const resourceScopes = CODE_FLOW.scope.split(' ').filter((scope) => RESOURCE_SCOPES.includes(scope));
  /** @type {import('../fixtures.mjs').MintedCode[]} */
  const codes = [];
  for (let i = 0; i < count; i++) {
    const grant = new provider.Grant({ accountId: CODE_FLOW.sub, clientId: CLIENT_IDS.code });
    grant.addOIDCScope('openid');
    grant.addResourceScope(AUDIENCE, resourceScopes.join(' '));
    const grantId = await grant.save();
    const { codeVerifier, codeChallenge } = newPkcePair();
    const code = await new provider.AuthorizationCode({
      accountId: CODE_FLOW.sub,
      client: oidcClient,
      grantId,
      redirectUri: CODE_FLOW.redirectUri,
      scope: CODE_FLOW.scope,
      resource: AUDIENCE,
      codeChallenge,
      codeChallengeMethod: 'S256',
      authTime: Math.floor(Date.now() / 1000),
      sid: randomBytes(16).toString('base64url'),
    }).save();
    codes.push({ code, codeVerifier });
  }
  return codes;
}

serveParent(
  {
    type: 'ready',
    url: issuer,
    tokenPath: '/token',
    introspectionPath: '/token/introspection',
    clients: {
      jwt: { id: CLIENT_IDS.jwt, secret: secrets.jwt },
      opaque: { id: CLIENT_IDS.opaque, secret: secrets.opaque },
      resourceServer: { id: CLIENT_IDS.resourceServer, secret: secrets.resourceServer },
      code: { id: CLIENT_IDS.code, secret: secrets.code },
    },
    versions: {
      'oidc-provider': packageVersion('oidc-provider'),
      koa: packageVersion('koa'),
      jose: packageVersion('jose'),
    },
  },
  () =>
    new Promise((resolve, reject) => {
      server.close((err) => (err === undefined ? resolve() : reject(err)));
      server.closeAllConnections();
    }),
  undefined,
  mintCodes,
);
