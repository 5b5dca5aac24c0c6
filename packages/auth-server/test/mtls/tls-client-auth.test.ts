import type { CertificateAndKey } from '@gatehouse/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { TlsClientAuthName } from '../../src/clients/client.js';
import { auditSince, expectOAuthError, type AttackCase } from '../helpers/attack-table.js';
import { TestClock, describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import {
  createTestPki,
  opensslIssue,
  opensslSelfSigned,
  x5tS256,
  type TestPki,
  partnerTlsListen,
} from '../helpers/mtls-pki.js';
import { API, TEST_RESOURCES, newClient, type TestClient } from '../helpers/oauth-client.js';
import { httpsPostForm } from '../helpers/tls-client.js';

/**
 * RFC 8705 §2.1 `tls_client_auth` over a real TLS listener (`clientAuth: optional`): the client
 * sends only its `client_id`; the certificate of the handshake must chain to the configured CA,
 * be valid now, be meant for client authentication, and carry the one name the client registered
 * (subject DN or a SAN, §2.1.2). Every refusal is 401 `invalid_client` (RFC 6749 §5.2) and
 * audited; an accepted client gets a token bound to the certificate (§3.1).
 */

type ClientName = 'dns' | 'uri' | 'ip' | 'ipv6' | 'email' | 'dn' | 'multiDn';
type CertName =
  | 'partner'
  | 'partnerUpperDns'
  | 'otherPartner'
  | 'billing'
  | 'billingMulti'
  | 'billingOtherOrg'
  | 'billingCase'
  | 'billingExtraRdn'
  | 'billingReordered'
  | 'billingOtherEmail'
  | 'rogue'
  | 'rogueBilling'
  | 'expired'
  | 'notYetValid'
  | 'serverOnly'
  | 'selfSigned'
  | 'partnerCa'
  | 'wildcard';

interface Case extends AttackCase {
  readonly client: ClientName;
  readonly cert: CertName | 'none';
  /** Send the client_id (RFC 8705 §2: it must be). */
  readonly withoutClientId?: boolean;
  /** Add a client_secret (a second method: RFC 6749 §2.3). */
  readonly extraSecret?: boolean;
  readonly accepted: boolean;
  /** Refusals: the audited reason, so each row fails for the rule it names. */
  readonly because?: RegExp;
}

const NAMES: Readonly<Record<ClientName, TlsClientAuthName>> = {
  dns: { kind: 'san_dns', value: 'partner.example' },
  uri: { kind: 'san_uri', value: 'spiffe://partners/p1' },
  ip: { kind: 'san_ip', value: '192.0.2.10' },
  ipv6: { kind: 'san_ip', value: '2001:db8::10' },
  email: { kind: 'san_email', value: 'billing@partner.example' },
  dn: { kind: 'subject_dn', value: 'CN=billing,O=Partner GmbH,C=DE' },
  multiDn: { kind: 'subject_dn', value: 'CN=billing+UID=42,O=Partner\\, GmbH,C=DE' },
};

const cases: Case[] = [
  // --- Positive controls: each registered name kind ---
  { name: 'SAN DNS equal', source: 'RFC 8705 §2.1.2', client: 'dns', cert: 'partner', accepted: true },
  {
    name: 'SAN DNS equal but for case (DNS names are case-insensitive)',
    source: 'RFC 8705 §2.1.2, RFC 4343',
    client: 'dns',
    cert: 'partnerUpperDns',
    accepted: true,
  },
  { name: 'SAN URI equal', source: 'RFC 8705 §2.1.2', client: 'uri', cert: 'partner', accepted: true },
  { name: 'SAN IPv4 equal', source: 'RFC 8705 §2.1.2', client: 'ip', cert: 'partner', accepted: true },
  {
    name: 'SAN IPv6 equal (expanded in the certificate, compressed when registered)',
    source: 'RFC 8705 §2.1.2',
    client: 'ipv6',
    cert: 'partner',
    accepted: true,
  },
  { name: 'SAN e-mail equal', source: 'RFC 8705 §2.1.2', client: 'email', cert: 'billing', accepted: true },
  {
    name: 'subject DN equal',
    source: 'RFC 8705 §2.1.2, RFC 4514',
    client: 'dn',
    cert: 'billing',
    accepted: true,
  },
  {
    name: 'subject DN with a multi-valued RDN and an escaped comma',
    source: 'RFC 4514 §2.2, §3',
    client: 'multiDn',
    cert: 'billingMulti',
    accepted: true,
  },
  // --- No or unusable certificate ---
  {
    name: 'no client certificate',
    source: 'RFC 8705 §2',
    client: 'dns',
    cert: 'none',
    accepted: false,
    because: /^no client certificate$/,
  },
  {
    name: 'the right certificate but no client_id',
    source: 'RFC 8705 §2',
    client: 'dns',
    cert: 'partner',
    withoutClientId: true,
    accepted: false,
    because: /no client identification/,
  },
  {
    name: 'the right certificate and a client_secret as well (two methods)',
    source: 'RFC 6749 §2.3',
    client: 'dns',
    cert: 'partner',
    extraSecret: true,
    accepted: false,
    because: /registered for tls_client_auth, used client_secret_post/,
  },
  // --- Wrong name ---
  {
    name: 'wrong SAN DNS',
    source: 'RFC 8705 §2.1.2',
    client: 'dns',
    cert: 'otherPartner',
    accepted: false,
    because: /no dns SAN/,
  },
  {
    name: 'wrong SAN URI',
    source: 'RFC 8705 §2.1.2',
    client: 'uri',
    cert: 'otherPartner',
    accepted: false,
    because: /no uri SAN/,
  },
  {
    name: 'wrong SAN IP',
    source: 'RFC 8705 §2.1.2',
    client: 'ip',
    cert: 'otherPartner',
    accepted: false,
    because: /no ip SAN/,
  },
  {
    name: 'wrong SAN e-mail',
    source: 'RFC 8705 §2.1.2',
    client: 'email',
    cert: 'billingOtherEmail',
    accepted: false,
    because: /no email SAN/,
  },
  {
    name: 'a wildcard SAN is not the registered name',
    source: 'RFC 8705 §2.1.2 (exact match)',
    client: 'dns',
    cert: 'wildcard',
    accepted: false,
    because: /no dns SAN/,
  },
  {
    name: 'the registered DNS name only as CN, not as SAN',
    source: 'RFC 8705 §2.1.2 (the SAN of that type)',
    client: 'dns',
    cert: 'billing',
    accepted: false,
    because: /no dns SAN/,
  },
  {
    name: 'wrong DN: other O',
    source: 'RFC 8705 §2.1.2',
    client: 'dn',
    cert: 'billingOtherOrg',
    accepted: false,
    because: /subject DN differs/,
  },
  {
    name: 'wrong DN: CN differs in case',
    source: 'RFC 8705 §2.1.2',
    client: 'dn',
    cert: 'billingCase',
    accepted: false,
    because: /subject DN differs/,
  },
  {
    name: 'wrong DN: one more RDN',
    source: 'RFC 8705 §2.1.2',
    client: 'dn',
    cert: 'billingExtraRdn',
    accepted: false,
    because: /subject DN differs/,
  },
  {
    name: 'wrong DN: same RDNs in another order',
    source: 'RFC 4514 §2.1 (order is significant)',
    client: 'dn',
    cert: 'billingReordered',
    accepted: false,
    because: /subject DN differs/,
  },
  // --- Not trusted ---
  {
    name: 'the right SANs from another CA',
    source: 'RFC 8705 §2.1',
    client: 'dns',
    cert: 'rogue',
    accepted: false,
    because: /refused by the TLS listener/,
  },
  {
    name: 'the right subject DN from another CA',
    source: 'RFC 8705 §2.1',
    client: 'dn',
    cert: 'rogueBilling',
    accepted: false,
    because: /refused by the TLS listener/,
  },
  {
    name: 'the right SANs, self-signed',
    source: 'RFC 8705 §2.1 (§2.2 is another method)',
    client: 'dns',
    cert: 'selfSigned',
    accepted: false,
    because: /refused by the TLS listener/,
  },
  {
    name: 'expired certificate',
    source: 'RFC 5280 §4.1.2.5',
    client: 'dns',
    cert: 'expired',
    accepted: false,
    because: /expired or not yet valid/,
  },
  {
    name: 'certificate not yet valid',
    source: 'RFC 5280 §4.1.2.5',
    client: 'dns',
    cert: 'notYetValid',
    accepted: false,
    because: /expired or not yet valid/,
  },
  {
    name: 'a server-only certificate (EKU serverAuth)',
    source: 'RFC 5280 §4.2.1.12',
    client: 'dns',
    cert: 'serverOnly',
    accepted: false,
    because: /not issued for client authentication/,
  },
  {
    name: 'the CA certificate itself',
    source: 'RFC 5280 §4.2.1.9',
    client: 'dns',
    cert: 'partnerCa',
    accepted: false,
    because: /a CA certificate cannot authenticate/,
  },
];

const DAY = 86_400_000;

describeEachStore('RFC 8705 tls_client_auth over TLS', (stores) => {
  let pki: TestPki;
  let as: TestAuthServer;
  const clients = {} as Record<ClientName, TestClient>;
  const certs = {} as Record<CertName, CertificateAndKey>;

  beforeAll(async () => {
    pki = await createTestPki();
    const { partnerCa, rogueCa } = pki;
    const partnerSans = {
      dns: ['partner.example'],
      uri: ['spiffe://partners/p1'],
      ip: ['192.0.2.10', '2001:db8::10'],
    };
    const now = Date.now();
    const billing = (subject: string, san = 'email:billing@partner.example', multivalue = false) =>
      opensslIssue(partnerCa, { subject, san, multivalue });
    Object.assign(certs, {
      partner: await partnerCa.issue({ commonName: 'partner-1', ...partnerSans, usage: 'client' }),
      partnerUpperDns: await partnerCa.issue({ commonName: 'p', dns: ['PARTNER.Example'], usage: 'client' }),
      otherPartner: await partnerCa.issue({
        commonName: 'partner-2',
        dns: ['other.example'],
        uri: ['spiffe://partners/p2'],
        ip: ['192.0.2.11'],
        usage: 'client',
      }),
      billing: billing(
        '/C=DE/O=Partner GmbH/CN=billing',
        'email:billing@partner.example,DNS:billing.example',
      ),
      billingMulti: billing('/C=DE/O=Partner, GmbH/CN=billing+UID=42', undefined, true),
      billingOtherOrg: billing('/C=DE/O=Partner GmbH Ltd/CN=billing'),
      billingCase: billing('/C=DE/O=Partner GmbH/CN=Billing'),
      billingExtraRdn: billing('/C=DE/O=Partner GmbH/OU=Finance/CN=billing'),
      billingReordered: billing('/O=Partner GmbH/C=DE/CN=billing'),
      billingOtherEmail: billing('/C=DE/O=Partner GmbH/CN=billing', 'email:billing@partner.example.org'),
      rogue: await rogueCa.issue({ commonName: 'partner-1', ...partnerSans, usage: 'client' }),
      rogueBilling: opensslIssue(rogueCa, {
        subject: '/C=DE/O=Partner GmbH/CN=billing',
        san: 'email:billing@partner.example',
      }),
      expired: await partnerCa.issue({
        commonName: 'partner-1',
        ...partnerSans,
        usage: 'client',
        notBefore: new Date(now - 10 * DAY),
        notAfter: new Date(now - DAY),
      }),
      notYetValid: await partnerCa.issue({
        commonName: 'partner-1',
        ...partnerSans,
        usage: 'client',
        notBefore: new Date(now + DAY),
        notAfter: new Date(now + 10 * DAY),
      }),
      serverOnly: await partnerCa.issue({ commonName: 'partner-1', ...partnerSans, usage: 'server' }),
      selfSigned: opensslSelfSigned({ subject: '/CN=partner-1', san: 'DNS:partner.example' }),
      partnerCa: { certPem: partnerCa.certPem, keyPem: partnerCa.keyPem },
      wildcard: await partnerCa.issue({ commonName: 'w', dns: ['*.example'], usage: 'client' }),
    } satisfies Record<CertName, CertificateAndKey>);
    as = await startAuthServer({
      stores,
      // The handshake checks validity with the real clock: the server's clock (fixed after every
      // certificate was issued, OpenSSL does not backdate) must agree.
      clock: new TestClock(Date.now()),
      baseDir: pki.dir,
      config: {
        resources: TEST_RESOURCES,
        listen: partnerTlsListen(pki),
      },
    });
    for (const [name, tlsClientAuth] of Object.entries(NAMES) as [ClientName, TlsClientAuthName][]) {
      clients[name] = await newClient(as, {
        grantTypes: ['client_credentials'],
        authMethod: 'tls_client_auth',
        tlsClientAuth,
        scopes: ['accounts:read'],
        resources: [API],
        tokenFormat: 'jwt',
      });
    }
  });

  afterAll(async () => {
    await as.close();
    pki.close();
  });

  function request(c: Case) {
    const client = clients[c.client];
    const cert = c.cert === 'none' ? undefined : certs[c.cert];
    return httpsPostForm(
      `${as.url}/token`,
      {
        grant_type: 'client_credentials',
        client_id: c.withoutClientId === true ? undefined : client.id,
        client_secret: c.extraSecret === true ? 'a-secret-the-client-does-not-have' : undefined,
      },
      { ca: pki.serverCa.certPem, cert: cert?.certPem, key: cert?.keyPem },
    );
  }

  it('serves the issuer over https with HSTS', () => {
    expect(as.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it.each(cases.filter((c) => c.accepted))(
    'accepts $name ($source): a token bound to that certificate',
    async (c) => {
      const response = await request(c);
      expect(response.status, response.text).toBe(200);
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000');
      expect(response.body['token_type']).toBe('Bearer');
      const token = response.body['access_token'] as string;
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
      expect(claims).toMatchObject({
        client_id: clients[c.client].id,
        sub: clients[c.client].id,
        cnf: { 'x5t#S256': x5tS256(certs[c.cert as CertName].certPem) },
      });
    },
  );

  it.each(cases.filter((c) => !c.accepted))(
    'refuses $name ($source): 401 invalid_client, audited',
    async (c) => {
      const mark = as.audit.length;
      const response = await request(c);
      expectOAuthError(response, 401, 'invalid_client');
      expect(response.headers.get('www-authenticate')).toBeNull();
      const failed = auditSince(as, mark).filter((e) => e.action === 'client.auth_failed');
      expect(failed).toHaveLength(1);
      expect(failed[0]?.reason).toMatch(c.because!);
      expect(auditSince(as, mark).some((e) => e.action === 'token.issue')).toBe(false);
    },
  );
});
