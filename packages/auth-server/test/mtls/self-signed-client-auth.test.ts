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
 * RFC 8705 §2.2 `self_signed_tls_client_auth` over real TLS: no CA, no chain; the certificate of
 * the handshake is trusted because its public key is one the client registered in `jwks` (and,
 * when that JWK carries `x5c`, because it is exactly that certificate). The handshake itself proves
 * possession of the private key. Refusals are 401 `invalid_client`, audited.
 */

type ClientName = 'byKey' | 'secondKey' | 'pinnedX5c';
type CertName = 'self' | 'selfRenewed' | 'otherSelf' | 'second' | 'partnerIssued';

interface Case extends AttackCase {
  readonly client: ClientName;
  readonly cert: CertName | 'none';
  readonly accepted: boolean;
  readonly because?: RegExp;
}

const cases: Case[] = [
  {
    name: 'the registered certificate',
    source: 'RFC 8705 §2.2',
    client: 'byKey',
    cert: 'self',
    accepted: true,
  },
  {
    name: 'a renewed self-signed certificate of the same key',
    source: 'RFC 8705 §2.2 (the key is registered)',
    client: 'byKey',
    cert: 'selfRenewed',
    accepted: true,
  },
  {
    name: 'the certificate of the second registered key',
    source: 'RFC 8705 §2.2, RFC 7591 §2 jwks',
    client: 'secondKey',
    cert: 'second',
    accepted: true,
  },
  {
    name: 'exactly the certificate pinned by x5c',
    source: 'RFC 7517 §4.7',
    client: 'pinnedX5c',
    cert: 'self',
    accepted: true,
  },
  {
    name: 'no client certificate',
    source: 'RFC 8705 §2',
    client: 'byKey',
    cert: 'none',
    accepted: false,
    because: /^no client certificate$/,
  },
  {
    name: 'a self-signed certificate of another key, same subject',
    source: 'RFC 8705 §2.2',
    client: 'byKey',
    cert: 'otherSelf',
    accepted: false,
    because: /not a registered key/,
  },
  {
    name: 'a CA-issued certificate of another key (a chain does not help)',
    source: 'RFC 8705 §2.2 (no chain validation)',
    client: 'byKey',
    cert: 'partnerIssued',
    accepted: false,
    because: /not a registered key/,
  },
  {
    name: 'the right key in another certificate than the x5c one',
    source: 'RFC 7517 §4.7',
    client: 'pinnedX5c',
    cert: 'selfRenewed',
    accepted: false,
    because: /not a registered key/,
  },
];

describeEachStore('RFC 8705 self_signed_tls_client_auth over TLS', (stores) => {
  let pki: TestPki;
  let as: TestAuthServer;
  const clients = {} as Record<ClientName, TestClient>;
  const certs = {} as Record<CertName, CertificateAndKey>;

  beforeAll(async () => {
    pki = await createTestPki();
    const self = opensslSelfSigned({ subject: '/CN=partner-self' });
    Object.assign(certs, {
      self,
      selfRenewed: opensslSelfSigned({ subject: '/CN=partner-self', keyPem: self.keyPem }),
      otherSelf: opensslSelfSigned({ subject: '/CN=partner-self' }),
      second: opensslSelfSigned({ subject: '/CN=partner-second' }),
      partnerIssued: await pki.partnerCa.issue({ commonName: 'partner-self', usage: 'client' }),
    } satisfies Record<CertName, CertificateAndKey>);
    as = await startAuthServer({
      stores,
      clock: new TestClock(Date.now()),
      baseDir: pki.dir,
      config: {
        resources: TEST_RESOURCES,
        listen: partnerTlsListen(pki),
      },
    });
    const register = (jwks: Record<string, unknown>[]) =>
      newClient(as, {
        grantTypes: ['client_credentials'],
        authMethod: 'self_signed_tls_client_auth',
        jwks: { keys: jwks },
        scopes: ['accounts:read'],
        resources: [API],
        tokenFormat: 'jwt',
      });
    clients.byKey = await register([publicJwkOf(self.certPem, 'k1')]);
    clients.secondKey = await register([
      publicJwkOf(certs.otherSelf.certPem, 'k1'),
      publicJwkOf(certs.second.certPem, 'k2'),
    ]);
    clients.pinnedX5c = await register([
      { ...publicJwkOf(self.certPem, 'k1'), x5c: [derOf(self.certPem).toString('base64')] },
    ]);
  });

  afterAll(async () => {
    await as.close();
    pki.close();
  });

  function request(c: Case) {
    const cert = c.cert === 'none' ? undefined : certs[c.cert];
    return httpsPostForm(
      `${as.url}/token`,
      { grant_type: 'client_credentials', client_id: clients[c.client].id },
      { ca: pki.serverCa.certPem, cert: cert?.certPem, key: cert?.keyPem },
    );
  }

  it.each(cases.filter((c) => c.accepted))('accepts $name ($source), token bound to it', async (c) => {
    const response = await request(c);
    expect(response.status, response.text).toBe(200);
    const token = response.body['access_token'] as string;
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));
    expect(claims.cnf).toEqual({ 'x5t#S256': x5tS256(certs[c.cert as CertName].certPem) });
  });

  it.each(cases.filter((c) => !c.accepted))('refuses $name ($source): 401 invalid_client', async (c) => {
    const mark = as.audit.length;
    const response = await request(c);
    expectOAuthError(response, 401, 'invalid_client');
    const failed = auditSince(as, mark).filter((e) => e.action === 'client.auth_failed');
    expect(failed.map((e) => e.reason)).toEqual([expect.stringMatching(c.because!)]);
  });

  it('the registration needs keys: self_signed_tls_client_auth without jwks is refused', async () => {
    await expect(
      newClient(as, { grantTypes: ['client_credentials'], authMethod: 'self_signed_tls_client_auth' }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', detail: expect.stringMatching(/jwks: required/) });
  });
});
