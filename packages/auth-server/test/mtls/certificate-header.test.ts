import type { CertificateAndKey } from '@gatehouse/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { auditSince, expectOAuthError, type AttackCase } from '../helpers/attack-table.js';
import { TestClock, describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  createTestPki,
  derOf,
  opensslSelfSigned,
  publicJwkOf,
  x5tS256,
  type TestPki,
  partnerTlsListen,
} from '../helpers/mtls-pki.js';
import { API, TEST_RESOURCES, newClient, type TestClient } from '../helpers/oauth-client.js';
import { httpsPostForm } from '../helpers/tls-client.js';

/**
 * Behind a TLS-terminating load balancer (RFC 8705 §2 with RFC 9440): the client certificate
 * arrives in a header, believed only from `mtls.trustedProxies`. From a trusted proxy the header
 * is the only source (the certificate of the proxy's own connection is the proxy's). From anyone
 * else the header is ignored and audited, and the handshake's certificate is what counts. A header
 * a trusted proxy sent but that is not exactly one certificate is `invalid_client`, never a 500.
 * The proxy→server hop is itself TLS (every hop encrypted).
 */

const HEADER = 'client-cert';

/** RFC 9440 §2.2: a structured-field byte sequence of the DER. */
const rfc9440 = (pem: string): string => `:${derOf(pem).toString('base64')}:`;
/** nginx `$ssl_client_escaped_cert`: the PEM, URL-encoded. */
const nginx = (pem: string): string => encodeURIComponent(pem);

type ClientName = 'pki' | 'selfSigned' | 'secret';
type CertName = 'partner' | 'rogue' | 'expired' | 'self';

interface Case extends AttackCase {
  /** `trusted`: the request comes from a trusted proxy; `untrusted`: from any other peer. */
  readonly peer: 'trusted' | 'untrusted';
  readonly client: ClientName;
  /** Header field values (several: repeated fields). */
  readonly header?: (certs: Record<CertName, CertificateAndKey>) => string[];
  /** Certificate of the TLS connection itself. */
  readonly tlsCert?: CertName;
  /** The certificate the token must be bound to; undefined: refused with invalid_client. */
  readonly boundTo?: CertName;
  readonly because?: RegExp;
  /** The header was ignored (untrusted peer) and audited. */
  readonly ignored?: boolean;
}

const cases: Case[] = [
  // --- Trusted proxy ---
  {
    name: 'RFC 9440 Client-Cert from the proxy',
    source: 'RFC 9440 §2.2',
    peer: 'trusted',
    client: 'pki',
    header: (c) => [rfc9440(c.partner.certPem)],
    boundTo: 'partner',
  },
  {
    name: 'URL-encoded PEM from the proxy (nginx $ssl_client_escaped_cert)',
    source: 'RFC 8705 §2, nginx',
    peer: 'trusted',
    client: 'pki',
    header: (c) => [nginx(c.partner.certPem)],
    boundTo: 'partner',
  },
  {
    name: 'the Cert of an Envoy x-forwarded-client-cert element from the proxy',
    source: 'RFC 8705 §2, Envoy XFCC',
    peer: 'trusted',
    client: 'pki',
    header: (c) => [`By=spiffe://edge;Hash=00;Cert="${nginx(c.partner.certPem)}";URI=`],
    boundTo: 'partner',
  },
  {
    name: 'two Envoy XFCC elements from the proxy (whose certificate is it?)',
    source: 'RFC 8705 §2, Envoy XFCC',
    peer: 'trusted',
    client: 'pki',
    header: (c) => [`Cert="${nginx(c.rogue.certPem)}",Cert="${nginx(c.partner.certPem)}"`],
    because: /more than one XFCC element/,
  },
  {
    name: 'a self-signed client through the proxy',
    source: 'RFC 8705 §2.2',
    peer: 'trusted',
    client: 'selfSigned',
    header: (c) => [rfc9440(c.self.certPem)],
    boundTo: 'self',
  },
  {
    name: 'a certificate of another CA from the proxy',
    source: 'RFC 8705 §2.1',
    peer: 'trusted',
    client: 'pki',
    header: (c) => [rfc9440(c.rogue.certPem)],
    because: /not issued by a configured CA/,
  },
  {
    name: 'an expired certificate from the proxy',
    source: 'RFC 5280 §4.1.2.5',
    peer: 'trusted',
    client: 'pki',
    header: (c) => [rfc9440(c.expired.certPem)],
    because: /expired/,
  },
  {
    name: 'no header: the certificate on the proxy connection is the proxy own',
    source: 'RFC 9440 §4',
    peer: 'trusted',
    client: 'pki',
    tlsCert: 'partner',
    because: /^no client certificate$/,
  },
  {
    name: 'an empty header (the proxy saw no certificate)',
    source: 'RFC 9440 §2.2',
    peer: 'trusted',
    client: 'pki',
    header: () => [''],
    tlsCert: 'partner',
    because: /^no client certificate$/,
  },
  // --- Untrusted peer: the header is ignored ---
  {
    name: 'a forged header from a peer that is not a proxy',
    source: 'RFC 9440 §4 (only from trusted intermediaries)',
    peer: 'untrusted',
    client: 'pki',
    header: (c) => [rfc9440(c.partner.certPem)],
    because: /^no client certificate$/,
    ignored: true,
  },
  {
    name: 'a forged header next to a rogue handshake certificate',
    source: 'RFC 9440 §4',
    peer: 'untrusted',
    client: 'pki',
    header: (c) => [rfc9440(c.partner.certPem)],
    tlsCert: 'rogue',
    because: /refused by the TLS listener/,
    ignored: true,
  },
  {
    name: 'a header cannot replace the handshake certificate (bound to the handshake one)',
    source: 'RFC 8705 §3',
    peer: 'untrusted',
    client: 'pki',
    header: (c) => [rfc9440(c.rogue.certPem)],
    tlsCert: 'partner',
    boundTo: 'partner',
    ignored: true,
  },
  {
    name: 'a malformed header from a peer that is not a proxy is only ignored',
    source: 'RFC 9440 §4',
    peer: 'untrusted',
    client: 'pki',
    header: () => [':garbage!:'],
    tlsCert: 'partner',
    boundTo: 'partner',
    ignored: true,
  },
];

/** Malformed headers from the trusted proxy: each 401 invalid_client, never 500. */
const malformed: (AttackCase & { readonly header: (c: Record<CertName, CertificateAndKey>) => string[] })[] =
  [
    {
      name: 'byte sequence with characters outside base64',
      source: 'RFC 8941 §3.3.5',
      header: () => [':not base64!:'],
    },
    {
      name: 'byte sequence without padding',
      source: 'RFC 8941 §3.3.5',
      header: () => [':QUI:'],
    },
    {
      name: 'byte sequence of bytes that are no certificate',
      source: 'RFC 9440 §2.2',
      header: () => [`:${Buffer.from('not a certificate at all').toString('base64')}:`],
    },
    {
      name: 'base64 DER without the colons',
      source: 'RFC 9440 §2.2',
      header: (c) => [derOf(c.partner.certPem).toString('base64')],
    },
    {
      name: 'DER with trailing bytes',
      source: 'X.690 §8.1 (one value)',
      header: (c) => [
        `:${Buffer.concat([derOf(c.partner.certPem), Buffer.from([0, 0])]).toString('base64')}:`,
      ],
    },
    {
      name: 'a truncated certificate',
      source: 'X.690',
      header: (c) => [`:${derOf(c.partner.certPem).subarray(0, 200).toString('base64')}:`],
    },
    {
      name: 'two PEM certificates',
      source: 'RFC 9440 §2.2 (one certificate)',
      header: (c) => [nginx(c.partner.certPem + c.rogue.certPem)],
    },
    { name: 'a PEM private key', source: 'RFC 7468', header: (c) => [nginx(c.partner.keyPem)] },
    { name: 'broken URL encoding', source: 'RFC 3986 §2.1', header: () => ['%E0%A4%A'] },
    {
      name: 'the header twice (two certificates)',
      source: 'RFC 9110 §5.3',
      header: (c) => [rfc9440(c.partner.certPem), rfc9440(c.partner.certPem)],
    },
    { name: 'plain text', source: 'RFC 9440 §2.2', header: () => ['CN=partner-1'] },
  ];

describeEachStore('RFC 8705 client certificates from a TLS-terminating proxy (RFC 9440)', (stores) => {
  let pki: TestPki;
  /** Trusts 127.0.0.1 (the test) as its proxy. */
  let behindProxy: TestAuthServer;
  /** Trusts only 192.0.2.0/24: the test is an untrusted peer. */
  let direct: TestAuthServer;
  const clients = { trusted: {}, untrusted: {} } as Record<
    'trusted' | 'untrusted',
    Record<ClientName, TestClient>
  >;
  const certs = {} as Record<CertName, CertificateAndKey>;

  beforeAll(async () => {
    pki = await createTestPki();
    const sans = { dns: ['partner.example'], usage: 'client' as const };
    const now = Date.now();
    Object.assign(certs, {
      partner: await pki.partnerCa.issue({ commonName: 'partner-1', ...sans }),
      rogue: await pki.rogueCa.issue({ commonName: 'partner-1', ...sans }),
      expired: await pki.partnerCa.issue({
        commonName: 'partner-1',
        ...sans,
        notBefore: new Date(now - 10 * 86_400_000),
        notAfter: new Date(now - 86_400_000),
      }),
      self: opensslSelfSigned({ subject: '/CN=self-partner' }),
    } satisfies Record<CertName, CertificateAndKey>);
    const start = (trustedProxies: string[]) =>
      startAuthServer({
        stores,
        clock: new TestClock(Date.now()),
        baseDir: pki.dir,
        config: {
          resources: TEST_RESOURCES,
          listen: partnerTlsListen(pki),
          mtls: { certificateHeader: 'Client-Cert', trustedProxies },
        },
      });
    behindProxy = await start(['127.0.0.1/32', '::1']);
    direct = await start(['192.0.2.0/24']);
    for (const [peer, as] of [
      ['trusted', behindProxy],
      ['untrusted', direct],
    ] as const) {
      const base = {
        grantTypes: ['client_credentials'],
        scopes: ['accounts:read'],
        resources: [API],
        tokenFormat: 'jwt',
      } as const;
      clients[peer] = {
        pki: await newClient(as, {
          ...base,
          authMethod: 'tls_client_auth',
          tlsClientAuth: { kind: 'san_dns', value: 'partner.example' },
        }),
        selfSigned: await newClient(as, {
          ...base,
          authMethod: 'self_signed_tls_client_auth',
          jwks: { keys: [publicJwkOf(certs.self.certPem, 'k')] },
        }),
        secret: await newClient(as, { ...base }),
      };
    }
  });

  afterAll(async () => {
    await behindProxy.close();
    await direct.close();
    pki.close();
  });

  function send(
    as: TestAuthServer,
    client: TestClient,
    header: string[] | undefined,
    tlsCert: CertName | undefined,
  ) {
    const cert = tlsCert === undefined ? undefined : certs[tlsCert];
    return httpsPostForm(
      `${as.url}/token`,
      { grant_type: 'client_credentials', client_id: client.id, client_secret: client.secret },
      {
        ca: pki.serverCa.certPem,
        cert: cert?.certPem,
        key: cert?.keyPem,
        ...(header === undefined ? {} : { headers: { [HEADER]: header.length === 1 ? header[0]! : header } }),
      },
    );
  }

  it.each(cases)('$peer peer: $name ($source)', async (c) => {
    const as = c.peer === 'trusted' ? behindProxy : direct;
    const mark = as.audit.length;
    const response = await send(as, clients[c.peer][c.client], c.header?.(certs), c.tlsCert);
    const events = auditSince(as, mark);
    expect(events.filter((e) => e.action === 'client.certificate_header_ignored')).toHaveLength(
      c.ignored === true ? 1 : 0,
    );
    if (c.boundTo !== undefined) {
      expect(response.status, response.text).toBe(200);
      const token = response.body['access_token'] as string;
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
      expect(claims.cnf).toEqual({ 'x5t#S256': x5tS256(certs[c.boundTo].certPem) });
    } else {
      expectOAuthError(response, 401, 'invalid_client');
      const failed = events.filter((e) => e.action === 'client.auth_failed');
      expect(failed.map((e) => e.reason)).toEqual([expect.stringMatching(c.because!)]);
    }
  });

  it.each(malformed)(
    'trusted proxy, malformed header: $name ($source) → 401 invalid_client, never 500',
    async (c) => {
      for (const client of ['pki', 'secret'] as const) {
        const mark = behindProxy.audit.length;
        const response = await send(behindProxy, clients.trusted[client], c.header(certs), undefined);
        expectOAuthError(response, 401, 'invalid_client');
        const failed = auditSince(behindProxy, mark).filter((e) => e.action === 'client.auth_failed');
        expect(failed).toHaveLength(1);
        expect(failed[0]?.reason).toMatch(/^certificate header: /);
      }
    },
  );

  it('the ignored-header audit event names the header and the peer, never the certificate', async () => {
    const mark = direct.audit.length;
    await send(direct, clients.untrusted.pki, [rfc9440(certs.partner.certPem)], undefined);
    const [event] = auditSince(direct, mark).filter((e) => e.action === 'client.certificate_header_ignored');
    expect(event).toMatchObject({ outcome: 'failure', sourceIp: '127.0.0.1', details: { header: HEADER } });
    expect(JSON.stringify(event)).not.toContain(derOf(certs.partner.certPem).toString('base64').slice(0, 40));
  });
});
