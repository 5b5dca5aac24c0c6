import { once } from 'node:events';
import http, { IncomingMessage } from 'node:http';
import { Socket, type AddressInfo } from 'node:net';
import type { ErrorCode } from '@gatehouse/core';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guardPlugin } from '../../src/adapters/fastify/index.js';
import { fromIncomingMessage } from '../../src/adapters/node/index.js';
import {
  createGuard,
  createVerifier,
  type GuardOptions,
  type Principal,
  type Verifier,
} from '../../src/index.js';
import {
  ADAPTERS,
  RESOURCE_PATH,
  captureAudit,
  captureLogger,
  closeServer,
  startGuardedServer,
  send,
  type AdapterName,
  type Reply,
  type RunningServer,
} from '../helpers/adapter-servers.js';
import { createDpopKey, createProof, dpopBoundToken } from '../helpers/dpop.js';
import { createTestKey } from '../helpers/keys.js';
import { AUDIENCE, ISSUER, NOW, NOW_MS, forge, signToken, validClaims } from '../helpers/tokens.js';

const REALM = 'gatehouse-test';
const ALGS = 'ES256 EdDSA RS256 PS256';
const REQUIRED_SCOPE = 'accounts:read';

// Expected `WWW-Authenticate`, as a client reads it: repeated fields joined with ", " (RFC 9110
// §5.3), which is how Hono's Fetch `Headers` sends them and how Node's client reports the others.
const BEARER = `Bearer realm="${REALM}"`;
const DPOP = `DPoP realm="${REALM}", algs="${ALGS}"`;
const BARE = `${BEARER}, ${DPOP}`;
const bearerError = (error: string, description: string, extra = ''): string =>
  `${BEARER}, error="${error}", error_description="${description}"${extra}, ${DPOP}`;
const dpopError = (error: string, description: string): string =>
  `${BEARER}, DPoP realm="${REALM}", error="${error}", error_description="${description}", algs="${ALGS}"`;

const INVALID_TOKEN_TEXT = 'The access token is invalid';
const INVALID_REQUEST_TEXT = 'The request is malformed';
const INVALID_PROOF_TEXT = 'The DPoP proof is invalid';
/** Refusals that happen after the token verified: their audit events name the actor. */
const TOKEN_VERIFIED_CODES: ReadonlySet<string> = new Set([
  'ERR_INSUFFICIENT_SCOPE',
  'ERR_DPOP_BINDING_REQUIRED',
  'ERR_DPOP_PROOF_MISSING',
  'ERR_DPOP_MULTIPLE_PROOFS',
  'ERR_DPOP_HTU_MISMATCH',
  'ERR_DPOP_TOKEN_NOT_BOUND',
  'ERR_DPOP_JKT_MISMATCH',
  'ERR_MTLS_CERTIFICATE_REQUIRED',
  'ERR_MTLS_CERTIFICATE_MISMATCH',
]);

const issuerKey = createTestKey('ES256');
// Same kid, other private key: a forged signature over well-formed claims.
const forgerKey = createTestKey('ES256', issuerKey.kid);
const dpopKey = await createDpopKey('ES256');

const tokens = {
  valid: signToken(issuerKey),
  expired: signToken(issuerKey, { iat: NOW - 600, exp: NOW - 300 }),
  forged: signToken(forgerKey),
  algNone: forge({ header: { alg: 'none', typ: 'at+jwt', kid: issuerKey.kid }, payload: validClaims() }),
  otherAudience: signToken(issuerKey, { aud: 'https://elsewhere.test.example' }),
  unknownKid: signToken(createTestKey('ES256')),
  notAJwt: 'not-a-jwt',
  lowScope: signToken(issuerKey, { scope: 'orders:read' }),
  dpopBound: dpopBoundToken(issuerKey, dpopKey),
};

type Fields = Array<[string, string]>;

interface AdapterCase {
  readonly name: string;
  readonly source: string;
  /** Header fields of the request; `origin` is the server's (for DPoP `htu`). */
  readonly headers: (origin: string) => Fields;
  readonly path?: string;
  readonly status: number;
  /** Expected `WWW-Authenticate`, or undefined when the response must not carry one. */
  readonly challenge: string | undefined;
  /** `problem` (RFC 9457), `oauth` (RFC 6750 §3 body) or `echo` (the handler ran). */
  readonly body: 'problem' | 'oauth' | 'echo';
  /** Refusal reason logged and audited; undefined for an allowed request. */
  readonly code: ErrorCode | undefined;
}

const bearer = (token: string): Fields => [['Authorization', `Bearer ${token}`]];
const dpopRequest = (origin: string, htu = origin + RESOURCE_PATH): Fields => [
  ['Authorization', `DPoP ${tokens.dpopBound}`],
  ['DPoP', createProof(dpopKey, { htm: 'GET', htu, accessToken: tokens.dpopBound })],
];

const invalidToken = (name: string, source: string, token: string, code: ErrorCode): AdapterCase => ({
  name,
  source,
  headers: () => bearer(token),
  status: 401,
  challenge: bearerError('invalid_token', INVALID_TOKEN_TEXT),
  body: 'oauth',
  code,
});

const malformed = (name: string, source: string, fields: Fields): AdapterCase => ({
  name,
  source,
  headers: () => fields,
  status: 400,
  challenge: bearerError('invalid_request', INVALID_REQUEST_TEXT),
  body: 'oauth',
  code: 'ERR_OAUTH_INVALID_REQUEST',
});

const cases: AdapterCase[] = [
  {
    name: 'no Authorization field: bare challenges, no error attribute',
    source: 'RFC 6750 §3.1, RFC 9449 §7.1',
    headers: () => [],
    status: 401,
    challenge: BARE,
    body: 'problem',
    code: 'ERR_OAUTH_TOKEN_MISSING',
  },
  {
    name: 'unsupported scheme (Basic): bare challenges',
    source: 'RFC 6750 §3.1',
    headers: () => [['Authorization', 'Basic dXNlcjpwYXNz']],
    status: 401,
    challenge: BARE,
    body: 'problem',
    code: 'ERR_OAUTH_TOKEN_MISSING',
  },
  {
    name: 'token only in the query string is ignored',
    source: 'RFC 6750 §2.3, §5.3',
    headers: () => [],
    path: `${RESOURCE_PATH}?access_token=${tokens.valid}`,
    status: 401,
    challenge: BARE,
    body: 'problem',
    code: 'ERR_OAUTH_TOKEN_MISSING',
  },
  malformed('scheme without credentials', 'RFC 6750 §2.1', [['Authorization', 'Bearer']]),
  malformed('two credentials after the scheme', 'RFC 6750 §2.1', [['Authorization', 'Bearer a b']]),
  malformed('a comma after the token', 'RFC 6750 §2.1 b64token', [
    ['Authorization', `Bearer ${tokens.valid},x`],
  ]),
  malformed('two Authorization fields', 'RFC 9110 §5.3, §11.6.2', [
    ['Authorization', `Bearer ${tokens.valid}`],
    ['Authorization', `Bearer ${tokens.valid}`],
  ]),
  invalidToken('expired token', 'RFC 7519 §4.1.4', tokens.expired, 'ERR_JWT_EXPIRED'),
  invalidToken('forged signature', 'RFC 7515 §5.2', tokens.forged, 'ERR_JWT_SIGNATURE_INVALID'),
  invalidToken('alg none', 'RFC 8725 §3.1', tokens.algNone, 'ERR_JWT_ALG_NONE'),
  invalidToken('other audience', 'RFC 9068 §4', tokens.otherAudience, 'ERR_JWT_AUDIENCE_INVALID'),
  invalidToken('unknown kid', 'RFC 7517 §4.5', tokens.unknownKid, 'ERR_JWKS_NO_MATCHING_KEY'),
  invalidToken('not a JWT', 'RFC 7515 §7.1', tokens.notAJwt, 'ERR_JWT_MALFORMED'),
  invalidToken(
    'DPoP-bound token presented as Bearer',
    'RFC 9449 §7.2',
    tokens.dpopBound,
    'ERR_DPOP_BINDING_REQUIRED',
  ),
  {
    name: 'insufficient scope: 403 with the needed scope',
    source: 'RFC 6750 §3.1',
    headers: () => bearer(tokens.lowScope),
    status: 403,
    challenge: bearerError(
      'insufficient_scope',
      'The access token does not grant the required scope',
      `, scope="${REQUIRED_SCOPE}"`,
    ),
    body: 'oauth',
    code: 'ERR_INSUFFICIENT_SCOPE',
  },
  {
    name: 'valid Bearer token: the handler sees the principal',
    source: 'RFC 6750 §2.1',
    headers: () => bearer(tokens.valid),
    status: 200,
    challenge: undefined,
    body: 'echo',
    code: undefined,
  },
  {
    name: 'scheme name is case-insensitive',
    source: 'RFC 9110 §11.1',
    headers: () => [['Authorization', `bearer ${tokens.valid}`]],
    status: 200,
    challenge: undefined,
    body: 'echo',
    code: undefined,
  },
  {
    name: 'valid DPoP proof with a bound token (htu is the full path, also when mounted)',
    source: 'RFC 9449 §7.1, §4.3',
    headers: (origin) => dpopRequest(origin),
    status: 200,
    challenge: undefined,
    body: 'echo',
    code: undefined,
  },
  {
    name: 'DPoP proof for another URI: invalid_dpop_proof on the DPoP challenge',
    source: 'RFC 9449 §4.3 step 9, §7.1',
    headers: (origin) => dpopRequest(origin, `${origin}/api/other`),
    status: 401,
    challenge: dpopError('invalid_dpop_proof', INVALID_PROOF_TEXT),
    body: 'oauth',
    code: 'ERR_DPOP_HTU_MISMATCH',
  },
  {
    name: 'DPoP scheme with a token that is not bound',
    source: 'RFC 9449 §7.1',
    headers: (origin) => [
      ['Authorization', `DPoP ${tokens.valid}`],
      ['DPoP', createProof(dpopKey, { htm: 'GET', htu: origin + RESOURCE_PATH, accessToken: tokens.valid })],
    ],
    status: 401,
    challenge: dpopError('invalid_token', INVALID_TOKEN_TEXT),
    body: 'oauth',
    code: 'ERR_DPOP_TOKEN_NOT_BOUND',
  },
  {
    name: 'two DPoP fields',
    source: 'RFC 9449 §4.3 step 1',
    headers: (origin) => [...dpopRequest(origin), ...dpopRequest(origin).slice(1)],
    status: 400,
    challenge: dpopError('invalid_request', INVALID_REQUEST_TEXT),
    body: 'oauth',
    code: 'ERR_DPOP_MULTIPLE_PROOFS',
  },
];

const EXPECTED_PRINCIPAL = {
  sub: 'user-1',
  clientId: 'client-1',
  scopes: ['accounts:read', 'orders:read'],
};

function expectBody(reply: Reply, kind: AdapterCase['body'], requestId: string): void {
  const body = JSON.parse(reply.body) as Record<string, unknown>;
  switch (kind) {
    case 'echo':
      expect(body).toMatchObject(EXPECTED_PRINCIPAL);
      return;
    case 'problem':
      expect(reply.headers['content-type']).toBe('application/problem+json');
      expect(body).toEqual({
        type: 'about:blank',
        title: reply.status === 401 ? 'Unauthorized' : 'Service Unavailable',
        status: reply.status,
        instance: requestId,
      });
      return;
    case 'oauth': {
      expect(reply.headers['content-type']).toBe('application/json');
      // RFC 6750 §3: the body repeats the challenge's error and its generic description.
      const challenge = reply.headers['www-authenticate'] ?? '';
      const error = /error="([^"]+)"/.exec(challenge)?.[1];
      const description = /error_description="([^"]+)"/.exec(challenge)?.[1];
      expect(body).toEqual({ error, error_description: description });
      return;
    }
  }
}

function makeVerifier(): Verifier {
  return createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys: [issuerKey.publicJwk] },
    now: () => NOW_MS,
  });
}

interface Harness {
  server: RunningServer;
  logs: ReturnType<typeof captureLogger>;
  audit: ReturnType<typeof captureAudit>;
}

async function startHarness(adapter: AdapterName, options: Partial<GuardOptions>): Promise<Harness> {
  const logs = captureLogger();
  const audit = captureAudit();
  const server = await startGuardedServer(adapter, {
    verifier: makeVerifier(),
    realm: REALM,
    logger: logs.logger,
    audit: audit.sink,
    now: () => NOW_MS,
    ...options,
  });
  return { server, logs, audit };
}

let requestCounter = 0;
const nextRequestId = (adapter: AdapterName): string => `${adapter}-req-${++requestCounter}`;

describe.each(ADAPTERS)('%s adapter: one behaviour table for every framework', (adapter) => {
  let harness: Harness;

  beforeAll(async () => {
    harness = await startHarness(adapter, { scopes: [REQUIRED_SCOPE] });
  });
  afterAll(async () => {
    await harness.server.close();
  });

  it.each(cases)('$name ($source)', async (testCase) => {
    const { origin } = harness.server;
    const requestId = nextRequestId(adapter);
    const reply = await send(origin, {
      path: testCase.path ?? RESOURCE_PATH,
      headers: [...testCase.headers(origin), ['X-Request-Id', requestId]],
    });

    expect(reply.status).toBe(testCase.status);
    expect(reply.headers['www-authenticate']).toBe(testCase.challenge);
    expectBody(reply, testCase.body, requestId);
    if (testCase.status !== 200) expect(reply.headers['cache-control']).toBe('no-store');

    const logged = harness.logs.entries.filter((entry) => entry.object['requestId'] === requestId);
    const audited = harness.audit.events.filter((event) => event.requestId === requestId);
    if (testCase.code === undefined) {
      expect(logged).toEqual([]);
      expect(audited).toEqual([
        {
          time: new Date(NOW_MS).toISOString(),
          action: 'token.verify',
          outcome: 'success',
          component: 'guard',
          actor: { sub: 'user-1', clientId: 'client-1' },
          sourceIp: '127.0.0.1',
          requestId,
        },
      ]);
    } else {
      // The reason is in the server log and the audit trail, never in the response.
      expect(logged).toEqual([
        expect.objectContaining({
          level: 'info',
          message: 'request refused',
          object: expect.objectContaining({ code: testCase.code, method: 'GET' }),
        }),
      ]);
      // A refusal after the token itself verified (scope, DPoP, binding) names who was refused.
      const actor = TOKEN_VERIFIED_CODES.has(testCase.code)
        ? { actor: { sub: 'user-1', clientId: 'client-1' } }
        : {};
      expect(audited).toEqual([
        {
          time: new Date(NOW_MS).toISOString(),
          action: 'token.verify',
          outcome: 'failure',
          component: 'guard',
          ...actor,
          sourceIp: '127.0.0.1',
          requestId,
          reason: testCase.code,
        },
      ]);
      expect(reply.body).not.toContain(testCase.code);
      expect(reply.headers['www-authenticate'] ?? '').not.toContain(testCase.code);
    }
    // Tokens never reach logs or audit events.
    const recorded = JSON.stringify([logged, audited]);
    for (const token of Object.values(tokens)) expect(recorded).not.toContain(token);
  });

  it('gives every invalid-token cause the same response, with no detail (RFC 6750 §3.1)', async () => {
    const { origin } = harness.server;
    const causes = [
      tokens.expired,
      tokens.forged,
      tokens.algNone,
      tokens.otherAudience,
      tokens.unknownKid,
      tokens.notAJwt,
      tokens.dpopBound,
    ];
    const replies = await Promise.all(causes.map((token) => send(origin, { headers: bearer(token) })));
    const seen = new Set(
      replies.map((r) => JSON.stringify([r.status, r.headers['www-authenticate'], r.body])),
    );
    expect(seen.size).toBe(1);
    const [reply] = replies;
    const visible = `${reply!.headers['www-authenticate'] ?? ''}\n${reply!.body}`.toLowerCase();
    for (const word of ['err_', 'expired', 'signature', 'audience', 'issuer', 'kid', 'none', 'dpop-bound']) {
      expect(visible).not.toContain(word);
    }
  });
});

describe.each(ADAPTERS)('%s adapter: dependencies down', (adapter) => {
  let jwksDown: http.Server;
  let unavailable: Harness;
  let broken: Harness;

  beforeAll(async () => {
    // A real JWKS endpoint that fails: the verifier cannot get keys.
    jwksDown = http.createServer((_req, res) => res.writeHead(500).end());
    jwksDown.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => jwksDown.once('listening', resolve));
    const { port } = jwksDown.address() as AddressInfo;
    unavailable = await startHarness(adapter, {
      verifier: createVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwksUri: `http://127.0.0.1:${port}/jwks`,
        prewarm: false,
        now: () => NOW_MS,
      }),
    });
    // A verifier that fails in a way nobody planned (a bug): its message must stay on the server.
    const failing: Verifier = {
      ...makeVerifier(),
      verify: () => Promise.reject(new Error('internal detail: db password=hunter2')),
    };
    broken = await startHarness(adapter, { verifier: failing });
  });
  afterAll(async () => {
    await Promise.all([unavailable.server.close(), broken.server.close(), closeServer(jwksDown)]);
  });

  it('JWKS unavailable: 503 problem+json with Retry-After, logged as an error', async () => {
    const requestId = nextRequestId(adapter);
    const reply = await send(unavailable.server.origin, {
      headers: [...bearer(tokens.valid), ['X-Request-Id', requestId]],
    });
    expect(reply.status).toBe(503);
    expect(reply.headers['retry-after']).toBe('5');
    expect(reply.headers['www-authenticate']).toBeUndefined();
    expectBody(reply, 'problem', requestId);
    expect(reply.body).not.toContain('ERR_');
    expect(unavailable.logs.entries).toEqual([
      expect.objectContaining({
        level: 'error',
        message: 'request refused',
        object: expect.objectContaining({ code: 'ERR_JWKS_FETCH_FAILED', requestId }),
      }),
    ]);
    expect(unavailable.audit.events).toEqual([
      expect.objectContaining({ outcome: 'failure', reason: 'ERR_JWKS_FETCH_FAILED', requestId }),
    ]);
  });

  it('an unexpected error: generic 500, the detail only in the log', async () => {
    const requestId = nextRequestId(adapter);
    const reply = await send(broken.server.origin, {
      headers: [...bearer(tokens.valid), ['X-Request-Id', requestId]],
    });
    expect(reply.status).toBe(500);
    expect(reply.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(reply.body)).toEqual({
      type: 'about:blank',
      title: 'Internal Server Error',
      status: 500,
      instance: requestId,
    });
    expect(broken.logs.entries).toEqual([
      expect.objectContaining({
        level: 'error',
        object: expect.objectContaining({ code: 'ERR_INTERNAL', err: expect.any(Error) }),
      }),
    ]);
    expect(broken.audit.events).toEqual([expect.objectContaining({ reason: 'ERR_INTERNAL' })]);
  });
});

describe('createGuard: options and failure isolation', () => {
  it.each([
    ['no verifier', {}, 'guard: verifier required'],
    ['a verifier without verify()', { verifier: {} }, 'guard: verifier required'],
    [
      'publicOrigin with a path',
      { verifier: makeVerifier(), publicOrigin: 'https://api.example.com/api' },
      'publicOrigin',
    ],
    [
      'publicOrigin with another scheme',
      { verifier: makeVerifier(), publicOrigin: 'ftp://api.example.com' },
      'publicOrigin',
    ],
  ])('refuses %s with ERR_CONFIG_INVALID', (_name, options, detail) => {
    expect(() => createGuard(options as GuardOptions)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID', detail: expect.stringContaining(detail) }),
    );
  });

  it('accepts a publicOrigin with a port', () => {
    expect(() =>
      createGuard({ verifier: makeVerifier(), publicOrigin: 'https://api.example.com:8443' }),
    ).not.toThrow();
  });

  it('audits a client-credentials style token (no client_id) with the subject only', async () => {
    const audit = captureAudit();
    const server = await startGuardedServer('node', {
      verifier: makeVerifier(),
      logger: captureLogger().logger,
      audit: audit.sink,
      now: () => NOW_MS,
    });
    try {
      const token = signToken(issuerKey, { client_id: undefined, sub: 'service-a' });
      expect((await send(server.origin, { headers: bearer(token) })).status).toBe(200);
      expect(audit.events).toEqual([
        expect.objectContaining({ outcome: 'success', actor: { sub: 'service-a' } }),
      ]);
    } finally {
      await server.close();
    }
  });

  it.each([
    [
      'throws',
      () => {
        throw new Error('sink down');
      },
    ],
    ['rejects', () => Promise.reject(new Error('sink down'))],
  ])('an audit sink that %s is logged and does not change the answer', async (_name, sink) => {
    const logs = captureLogger();
    const server = await startGuardedServer('node', {
      verifier: makeVerifier(),
      logger: logs.logger,
      audit: sink,
      now: () => NOW_MS,
    });
    try {
      expect((await send(server.origin, { headers: bearer(tokens.valid) })).status).toBe(200);
      expect((await send(server.origin, { headers: bearer(tokens.expired) })).status).toBe(401);
      await new Promise((resolve) => setImmediate(resolve));
      const failures = logs.entries.filter((e) => e.message === 'audit sink failed');
      expect(failures).toHaveLength(2);
      expect(failures.every((e) => e.level === 'error')).toBe(true);
    } finally {
      await server.close();
    }
  });
});

describe('fastify: the plugin stacked in nested contexts', () => {
  it('decorates once, runs both guards in the inner context and none outside', async () => {
    const app = Fastify({ logger: false });
    const base = { verifier: makeVerifier(), logger: captureLogger().logger, now: () => NOW_MS };
    const reply = (request: { principal: Principal | null }) =>
      Promise.resolve({ sub: request.principal?.sub ?? null });
    await app.register(
      async (api) => {
        await api.register(guardPlugin, base);
        api.get('/', reply);
        await api.register(
          async (admin) => {
            await admin.register(guardPlugin, { ...base, scopes: ['admin'] });
            admin.get('/', reply);
          },
          { prefix: '/admin' },
        );
      },
      { prefix: '/api' },
    );
    app.get('/health', reply);
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      const get = (path: string, headers: Fields = bearer(tokens.valid)) => send(origin, { path, headers });
      expect(JSON.parse((await get('/api/')).body)).toEqual({ sub: 'user-1' });
      expect((await get('/api/admin/')).status).toBe(403);
      expect((await get('/api/admin/', [])).status).toBe(401);
      // Outside the guarded context nothing is checked and no principal is set.
      const health = await get('/health', []);
      expect(health.status).toBe(200);
      expect(JSON.parse(health.body)).toEqual({ sub: null });
    } finally {
      await app.close();
    }
  });
});

describe('fromIncomingMessage', () => {
  it('reads every Authorization and DPoP field, the host and the socket of a real request', async () => {
    const server = http.createServer((req, res) => {
      res.end(JSON.stringify(fromIncomingMessage(req, 'given-id')));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const reply = await send(origin, {
        method: 'PATCH',
        path: '/x?y=1',
        headers: [
          ['Authorization', 'a'],
          ['authorization', 'b'],
          ['DPoP', 'p'],
          ['X-Request-Id', 'ignored-when-given'],
        ],
      });
      expect(JSON.parse(reply.body)).toEqual({
        method: 'PATCH',
        path: '/x?y=1',
        host: new URL(origin).host,
        secure: false,
        authorization: ['a', 'b'],
        dpop: ['p'],
        sourceIp: '127.0.0.1',
        requestId: 'given-id',
      });
    } finally {
      await closeServer(server);
    }
  });

  it('falls back to GET and no request id for a bare message', () => {
    const socket = new Socket();
    try {
      const request = fromIncomingMessage(new IncomingMessage(socket));
      expect(request).toMatchObject({ method: 'GET', authorization: [], dpop: [], requestId: undefined });
    } finally {
      socket.destroy();
    }
  });
});
