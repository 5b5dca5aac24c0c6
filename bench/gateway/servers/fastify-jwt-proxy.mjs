/**
 * Contender: `@fastify/http-proxy` with `@fastify/jwt` in front of it, the nearest Node.js peer of the
 * gateway's full chain (issue 8). The access token is the gateway's (ES256, RFC 9068, from the bench's
 * authorization server), verified with the server's public key, fetched once at start from its JWKS
 * and converted to PEM. The checks are the ones guard makes: ES256 only, `typ` `at+jwt`, `iss`, `aud`,
 * `exp` (claims `iss aud exp iat sub` required), 30 s clock tolerance; then the route's coarse scope.
 * Everything else is @fastify/jwt's default, its verification cache included (off: fast-jwt's
 * `cache: false`). The token goes on to the upstream as received, as @fastify/http-proxy forwards
 * every request header. No logging.
 *
 * Started by ../run.mjs in its own process with `UPSTREAM_URL`, `ISSUER`, `AUDIENCE` and `SCOPE`;
 * sends `{ type: 'ready', url }` once it listens.
 */
import { createPublicKey } from 'node:crypto';
import proxy from '@fastify/http-proxy';
import fastifyJwt from '@fastify/jwt';
import Fastify from 'fastify';
import { listenForBenchmark } from './fastify-ipc.mjs';

/** @param {string} name */
function required(name) {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
}
const upstream = required('UPSTREAM_URL');
const issuer = required('ISSUER');
const audience = required('AUDIENCE');
const scope = required('SCOPE');

/**
 * The authorization server's signing key, once (RFC 8414 §3 metadata, then its `jwks_uri`). One
 * ES256 key is expected: the bench's auth server starts with a single key and never rotates it
 * during a run; @fastify/jwt's static-key path is then its fastest.
 */
async function fetchPublicKey() {
  const metadata = /** @type {{ jwks_uri: string }} */ (
    await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()
  );
  const jwks = /** @type {{ keys: import('node:crypto').JsonWebKey[] }} */ (
    await (await fetch(metadata.jwks_uri)).json()
  );
  const keys = jwks.keys.filter((k) => k.kty === 'EC' && k.crv === 'P-256' && (k['use'] ?? 'sig') === 'sig');
  if (keys.length !== 1) throw new Error(`expected one ES256 key in the JWKS, found ${String(keys.length)}`);
  return createPublicKey({ key: /** @type {import('node:crypto').JsonWebKey} */ (keys[0]), format: 'jwk' })
    .export({ type: 'spki', format: 'pem' })
    .toString();
}

const app = Fastify({ logger: false });
await app.register(fastifyJwt, {
  // Verify-only: a public key and no private key.
  secret: { public: await fetchPublicKey() },
  verify: {
    algorithms: ['ES256'],
    allowedIss: issuer,
    allowedAud: audience,
    // RFC 9068 §4: the resource server checks `typ` is `at+jwt`.
    checkTyp: 'at+jwt',
    // fast-jwt skips the check of a claim the token does not carry unless it is required.
    requiredClaims: ['iss', 'aud', 'exp', 'iat', 'sub'],
    clockTolerance: 30_000,
  },
});

app.addHook('onRequest', async (request, reply) => {
  try {
    await request.jwtVerify();
  } catch {
    // RFC 6750 §3.1: a missing, malformed, expired or otherwise invalid token.
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer error="invalid_token"')
      .send({ error: 'invalid_token' });
  }
  return undefined;
});
app.addHook('preHandler', async (request, reply) => {
  // The coarse scope check of the gateway's route (`scopes: { GET: [api:read] }`).
  const claims = /** @type {{ scope?: unknown }} */ (request.user);
  const granted = typeof claims.scope === 'string' ? claims.scope.split(' ') : [];
  if (!granted.includes(scope)) {
    // RFC 6750 §3.1: insufficient_scope, 403.
    return reply
      .code(403)
      .header('www-authenticate', `Bearer error="insufficient_scope", scope="${scope}"`)
      .send({ error: 'insufficient_scope' });
  }
  return undefined;
});
await app.register(proxy, { upstream, prefix: '/', http2: false });
await listenForBenchmark(app);
