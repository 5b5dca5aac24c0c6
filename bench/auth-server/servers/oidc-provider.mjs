/**
 * Contender: oidc-provider, configured like @gatehouse/auth-server in the benchmark: ES256 signing
 * key, RFC 9068 JWT access tokens for one resource (RFC 8707), client_secret_basic, client
 * credentials and introspection. Its default (in-memory) adapter stores state; JWT access tokens are
 * not stored at all by oidc-provider. Started by ../run.mjs in a child process.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import Provider, { errors } from 'oidc-provider';
import { ACCESS_TOKEN_TTL_SEC, AUDIENCE, CLIENT_IDS, RESOURCE_SCOPES, newSecret } from '../fixtures.mjs';
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

const provider = new Provider(issuer, {
  clients: [
    client(CLIENT_IDS.jwt, secrets.jwt, RESOURCE_SCOPES.join(' ')),
    client(CLIENT_IDS.opaque, secrets.opaque, RESOURCE_SCOPES.join(' ')),
    client(CLIENT_IDS.resourceServer, secrets.resourceServer),
  ],
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
    ClientCredentials: (
      /** @type {unknown} */ _ctx,
      /** @type {{ resourceServer?: { accessTokenTTL?: number } }} */ token,
    ) => token.resourceServer?.accessTokenTTL ?? ACCESS_TOKEN_TTL_SEC,
  },
});
server.on('request', provider.callback());

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
);
