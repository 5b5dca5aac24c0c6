import { X509Certificate, createHash } from 'node:crypto';
import { once } from 'node:events';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import type { ErrorCode } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HonoGuardOptions } from '../../src/adapters/hono/index.js';
import {
  createVerifier,
  getPeerCertificate,
  isGuardError,
  parseSubjectAltName,
  requirePeerIdentity,
  type PeerIdentityRule,
} from '../../src/index.js';
import {
  ADAPTERS,
  RESOURCE_PATH,
  captureLogger,
  closeServer,
  send,
  startGuardedServer,
  type RunningServer,
  type SendOptions,
} from '../helpers/adapter-servers.js';
import { createDpopKey, createProof } from '../helpers/dpop.js';
import { createTestKey } from '../helpers/keys.js';
import {
  COMMA_URI,
  GATEWAY_URI,
  INJECTED_DNS,
  LEGACY_CN,
  OTHER_URI,
  getTestPki,
  type Credential,
} from '../helpers/pki.js';
import { AUDIENCE, ISSUER, NOW_MS, signToken } from '../helpers/tokens.js';

const pki = await getTestPki();
const REALM = 'gatehouse-test';
const INVALID_TOKEN_CHALLENGE =
  `Bearer realm="${REALM}", error="invalid_token", error_description="The access token is invalid", ` +
  `DPoP realm="${REALM}", algs="ES256 EdDSA RS256 PS256"`;

const issuerKey = createTestKey('ES256');
const dpopKey = await createDpopKey('ES256');
/** RFC 8705 §3.1: a token bound to a client certificate by its SHA-256 thumbprint. */
const boundTo = (credential: Credential, extra: Record<string, unknown> = {}): string =>
  signToken(issuerKey, { cnf: { 'x5t#S256': credential.thumbprint, ...extra } });

const tokens = {
  gatewayBound: boundTo(pki.gateway),
  selfSignedBound: boundTo(pki.selfSigned),
  hexThumbprint: signToken(issuerKey, {
    cnf: { 'x5t#S256': createHash('sha256').update(pki.gateway.der).digest('hex') },
  }),
  sha1Thumbprint: signToken(issuerKey, {
    cnf: { 'x5t#S256': createHash('sha1').update(pki.gateway.der).digest('base64url') },
  }),
  unbound: signToken(issuerKey),
  bothBound: boundTo(pki.gateway, { jkt: dpopKey.jkt }),
};

/** Client side of TLS: trust the test CA, present `credential` if given. */
const clientTls = (credential?: Credential): NonNullable<SendOptions['tls']> =>
  credential === undefined
    ? { ca: pki.ca.certPem }
    : { ca: pki.ca.certPem, cert: credential.certPem, key: credential.keyPem };

const serverTls = { key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.ca.certPem };

interface BindingCase {
  readonly name: string;
  readonly source: string;
  readonly token: string;
  readonly client: Credential | undefined;
  readonly code: ErrorCode | undefined;
}

const bindingCases: BindingCase[] = [
  {
    name: 'bound token over TLS with that certificate',
    source: 'RFC 8705 §3',
    token: tokens.gatewayBound,
    client: pki.gateway,
    code: undefined,
  },
  {
    name: 'bound token with another certificate of the same CA',
    source: 'RFC 8705 §3',
    token: tokens.gatewayBound,
    client: pki.other,
    code: 'ERR_MTLS_CERTIFICATE_MISMATCH',
  },
  {
    name: 'bound token with a same-named certificate of an untrusted CA',
    source: 'RFC 8705 §3',
    token: tokens.gatewayBound,
    client: pki.untrusted,
    code: 'ERR_MTLS_CERTIFICATE_MISMATCH',
  },
  {
    name: 'bound token without a client certificate',
    source: 'RFC 8705 §3',
    token: tokens.gatewayBound,
    client: undefined,
    code: 'ERR_MTLS_CERTIFICATE_REQUIRED',
  },
  {
    name: 'thumbprint in hex instead of base64url',
    source: 'RFC 8705 §3.1',
    token: tokens.hexThumbprint,
    client: pki.gateway,
    code: 'ERR_MTLS_CERTIFICATE_MISMATCH',
  },
  {
    name: 'SHA-1 thumbprint under the x5t#S256 name',
    source: 'RFC 8705 §3.1',
    token: tokens.sha1Thumbprint,
    client: pki.gateway,
    code: 'ERR_MTLS_CERTIFICATE_MISMATCH',
  },
  {
    name: 'self-signed certificate bound by thumbprint (chain not trusted, binding holds)',
    source: 'RFC 8705 §2.2, §3',
    token: tokens.selfSignedBound,
    client: pki.selfSigned,
    code: undefined,
  },
  {
    name: 'unbound token without a client certificate is unaffected',
    source: 'RFC 8705 §3',
    token: tokens.unbound,
    client: undefined,
    code: undefined,
  },
  {
    name: 'unbound token with a client certificate is unaffected',
    source: 'RFC 8705 §3',
    token: tokens.unbound,
    client: pki.other,
    code: undefined,
  },
];

describe.each(ADAPTERS)('%s adapter over real TLS: certificate-bound tokens', (adapter) => {
  let server: RunningServer;
  const logs = captureLogger();

  beforeAll(async () => {
    server = await startGuardedServer(
      adapter,
      {
        verifier: createVerifier({
          issuer: ISSUER,
          audience: AUDIENCE,
          jwks: { keys: [issuerKey.publicJwk] },
          now: () => NOW_MS,
        }),
        realm: REALM,
        logger: logs.logger,
        now: () => NOW_MS,
      },
      serverTls,
    );
  });
  afterAll(async () => {
    await server.close();
  });

  it.each(bindingCases)('$name ($source)', async ({ token, client, code }) => {
    const requestId = `${adapter}-${Math.random()}`;
    const reply = await send(server.origin, {
      headers: [
        ['Authorization', `Bearer ${token}`],
        ['X-Request-Id', requestId],
      ],
      tls: clientTls(client),
    });
    if (code === undefined) {
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toMatchObject({ sub: 'user-1' });
      return;
    }
    expect(reply.status).toBe(401);
    expect(reply.headers['www-authenticate']).toBe(INVALID_TOKEN_CHALLENGE);
    expect(reply.body).not.toContain('ERR_');
    expect(logs.entries.find((e) => e.object['requestId'] === requestId)?.object).toMatchObject({ code });
  });

  it('DPoP over TLS: htu is the https origin; an http htu is refused', async () => {
    const token = signToken(issuerKey, { cnf: { jkt: dpopKey.jkt } });
    const htu = server.origin + RESOURCE_PATH;
    expect(htu.startsWith('https://')).toBe(true);
    const request = (proofHtu: string) =>
      send(server.origin, {
        headers: [
          ['Authorization', `DPoP ${token}`],
          ['DPoP', createProof(dpopKey, { htm: 'GET', htu: proofHtu, accessToken: token })],
        ],
        tls: clientTls(),
      });
    expect((await request(htu)).status).toBe(200);
    const plain = await request(htu.replace(/^https:/, 'http:'));
    expect(plain.status).toBe(401);
    expect(plain.headers['www-authenticate']).toContain('error="invalid_dpop_proof"');
  });

  it('a token bound to both a DPoP key and a certificate needs both', async () => {
    const htu = server.origin + RESOURCE_PATH;
    const request = (client: Credential | undefined) =>
      send(server.origin, {
        headers: [
          ['Authorization', `DPoP ${tokens.bothBound}`],
          ['DPoP', createProof(dpopKey, { htm: 'GET', htu, accessToken: tokens.bothBound })],
        ],
        tls: clientTls(client),
      });
    expect((await request(pki.gateway)).status).toBe(200);
    expect((await request(undefined)).status).toBe(401);
    expect((await request(pki.other)).status).toBe(401);
  });
});

describe('hono: a certificate supplied by the runtime (peerCertificate option)', () => {
  it('binds against what the option returns, e.g. a certificate forwarded by a TLS terminator', async () => {
    const peer = {
      raw: pki.gateway.der,
      thumbprint: pki.gateway.thumbprint,
      authorized: true,
      commonName: 'gateway',
      uris: [GATEWAY_URI],
      dnsNames: [],
      ipAddresses: [],
    };
    const options: HonoGuardOptions = {
      verifier: createVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: { keys: [issuerKey.publicJwk] },
        now: () => NOW_MS,
      }),
      logger: captureLogger().logger,
      now: () => NOW_MS,
      peerCertificate: () => peer,
    };
    const server = await startGuardedServer('hono', options);
    try {
      const reply = await send(server.origin, {
        headers: [['Authorization', `Bearer ${tokens.gatewayBound}`]],
      });
      expect(reply.status).toBe(200);
    } finally {
      await server.close();
    }
  });
});

describe('certificate-bound token over plain HTTP', () => {
  it('is refused: there is no certificate to confirm (ERR_MTLS_CERTIFICATE_REQUIRED)', async () => {
    const logs = captureLogger();
    const server = await startGuardedServer('node', {
      verifier: createVerifier({
        issuer: ISSUER,
        audience: AUDIENCE,
        jwks: { keys: [issuerKey.publicJwk] },
        now: () => NOW_MS,
      }),
      logger: logs.logger,
      now: () => NOW_MS,
    });
    try {
      const reply = await send(server.origin, {
        headers: [['Authorization', `Bearer ${tokens.gatewayBound}`]],
      });
      expect(reply.status).toBe(401);
      expect(logs.entries.map((e) => e.object['code'])).toEqual(['ERR_MTLS_CERTIFICATE_REQUIRED']);
    } finally {
      await server.close();
    }
  });
});

describe('requirePeerIdentity over real TLS (service-to-service)', () => {
  let server: https.Server;
  let origin: string;
  const rules: Record<string, PeerIdentityRule> = {
    '/uris': { uris: [GATEWAY_URI] },
    '/cn': { commonNames: [LEGACY_CN] },
    '/both': { uris: [GATEWAY_URI], commonNames: [LEGACY_CN] },
  };

  beforeAll(async () => {
    server = https.createServer(
      { ...serverTls, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const rule = rules[req.url ?? ''] ?? {};
        let body: Record<string, unknown>;
        try {
          body = { identity: requirePeerIdentity(getPeerCertificate(req.socket), rule) };
        } catch (err) {
          body = isGuardError(err) ? { code: err.code, detail: err.detail } : { code: 'unexpected' };
        }
        res.writeHead('identity' in body ? 200 : 403, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await closeServer(server);
  });

  const allowed = (identity: string) => ({ identity });
  const refused = (detail: string) => ({ code: 'ERR_MTLS_PEER_IDENTITY', detail });

  const cases: Array<{
    name: string;
    client: Credential | undefined;
    path: string;
    expected: Record<string, unknown>;
  }> = [
    { name: 'allowed SAN URI', client: pki.gateway, path: '/uris', expected: allowed(GATEWAY_URI) },
    {
      name: 'allowed URI among several SAN entries',
      client: pki.multiSan,
      path: '/uris',
      expected: allowed(GATEWAY_URI),
    },
    { name: 'another SAN URI', client: pki.other, path: '/uris', expected: refused('identity not allowed') },
    {
      name: 'allowed URI, untrusted CA',
      client: pki.untrusted,
      path: '/uris',
      expected: refused('certificate not trusted'),
    },
    {
      name: 'allowed URI, self-signed',
      client: pki.selfSigned,
      path: '/uris',
      expected: refused('certificate not trusted'),
    },
    {
      name: 'no client certificate',
      client: undefined,
      path: '/uris',
      expected: refused('no client certificate'),
    },
    {
      name: 'CN only when only URIs are allowed',
      client: pki.cnOnly,
      path: '/uris',
      expected: refused('identity not allowed'),
    },
    {
      name: 'DNS names crafted to read as a URI entry',
      client: pki.sanInjection,
      path: '/uris',
      expected: refused('identity not allowed'),
    },
    { name: 'allowed CN', client: pki.cnOnly, path: '/cn', expected: allowed(LEGACY_CN) },
    {
      name: 'CN not in the list',
      client: pki.gateway,
      path: '/cn',
      expected: refused('identity not allowed'),
    },
    {
      name: 'URI rule first, CN as fallback',
      client: pki.cnOnly,
      path: '/both',
      expected: allowed(LEGACY_CN),
    },
    { name: 'URI wins over CN', client: pki.gateway, path: '/both', expected: allowed(GATEWAY_URI) },
    {
      name: 'empty rule allows nobody',
      client: pki.gateway,
      path: '/none',
      expected: refused('identity not allowed'),
    },
  ];

  it.each(cases)('$name', async ({ client, path, expected }) => {
    const reply = await send(origin, { path, tls: clientTls(client) });
    expect(JSON.parse(reply.body)).toEqual(expected);
    expect(reply.status).toBe('identity' in expected ? 200 : 403);
  });
});

describe('getPeerCertificate', () => {
  let server: https.Server;
  let origin: string;

  beforeAll(async () => {
    server = https.createServer(
      { ...serverTls, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        const peer = getPeerCertificate(req.socket);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(peer === undefined ? null : { ...peer, raw: peer.raw.toString('base64') }));
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await closeServer(server);
  });

  const peerOf = async (client: Credential | undefined): Promise<unknown> =>
    JSON.parse((await send(origin, { tls: clientTls(client) })).body);

  it('reads every SAN entry of a real certificate, including one Node prints quoted', async () => {
    expect(await peerOf(pki.multiSan)).toEqual({
      raw: pki.multiSan.der.toString('base64'),
      thumbprint: pki.multiSan.thumbprint,
      authorized: true,
      commonName: 'multi',
      uris: [COMMA_URI, GATEWAY_URI],
      dnsNames: ['client.gatehouse.test'],
      ipAddresses: ['10.0.0.7'],
    });
  });

  it('keeps crafted DNS names as DNS names', async () => {
    expect(await peerOf(pki.sanInjection)).toMatchObject({ uris: [], dnsNames: [...INJECTED_DNS] });
  });

  it('returns an untrusted certificate with authorized false', async () => {
    expect(await peerOf(pki.selfSigned)).toMatchObject({
      authorized: false,
      thumbprint: pki.selfSigned.thumbprint,
      uris: [GATEWAY_URI],
    });
  });

  it('takes the first of several subject CNs, in certificate order', async () => {
    // node:crypto lists subject attributes in the order they are encoded.
    const first = /^CN=(.*)$/m.exec(new X509Certificate(pki.twoCns.certPem).subject)?.[1];
    expect(['first', 'second']).toContain(first);
    expect(await peerOf(pki.twoCns)).toMatchObject({ commonName: first, authorized: true });
  });

  it('returns undefined when the client sent no certificate', async () => {
    expect(await peerOf(undefined)).toBeNull();
  });

  it('returns undefined for a plain socket or no socket', () => {
    const socket = new Socket();
    try {
      expect(getPeerCertificate(socket)).toBeUndefined();
    } finally {
      socket.destroy();
    }
    expect(getPeerCertificate(undefined)).toBeUndefined();
    expect(getPeerCertificate({ getPeerCertificate: () => ({ raw: Buffer.alloc(1) }) })).toBeUndefined();
  });
});

describe('parseSubjectAltName', () => {
  const empty = { uris: [], dnsNames: [], ipAddresses: [] };
  const cases: Array<[string, string | undefined, Record<string, string[]>]> = [
    ['no extension', undefined, empty],
    ['one URI', `URI:${GATEWAY_URI}`, { ...empty, uris: [GATEWAY_URI] }],
    [
      'DNS and IP Address',
      'DNS:localhost, IP Address:127.0.0.1',
      { ...empty, dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] },
    ],
    ['several URIs', `URI:${GATEWAY_URI}, URI:${OTHER_URI}`, { ...empty, uris: [GATEWAY_URI, OTHER_URI] }],
    [
      "Node's quoted form with an escaped comma",
      'URI:"spiffe://a/b\\u002cc", DNS:x.example',
      { ...empty, uris: ['spiffe://a/b,c'], dnsNames: ['x.example'] },
    ],
    ['quoted form with a literal comma', 'URI:"spiffe://a/b,c"', { ...empty, uris: ['spiffe://a/b,c'] }],
    ['quoted form with an escaped quote', 'DNS:"a\\"b"', { ...empty, dnsNames: ['a"b'] }],
    [
      'a quoted DNS name that contains a URI entry stays one DNS name',
      `DNS:"evil.example\\u002c URI:${GATEWAY_URI}"`,
      { ...empty, dnsNames: [`evil.example, URI:${GATEWAY_URI}`] },
    ],
    [
      'IPv6 address',
      'IP Address:0:0:0:0:0:0:0:1, IP Address:10.0.0.7',
      { ...empty, ipAddresses: ['0:0:0:0:0:0:0:1', '10.0.0.7'] },
    ],
    [
      'other name types are ignored',
      'email:ops@gatehouse.test, DirName:"CN=x", Registered ID:1.2.3.4, URI:spiffe://gatehouse/x',
      { ...empty, uris: ['spiffe://gatehouse/x'] },
    ],
  ];
  it.each(cases)('%s', (_name, value, expected) => {
    expect(parseSubjectAltName(value)).toEqual(expected);
  });
});
