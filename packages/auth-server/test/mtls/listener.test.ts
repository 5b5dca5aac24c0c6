import { X509Certificate } from 'node:crypto';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAuthServerConfig, type AuthServerConfigInput } from '../../src/index.js';
import { expectOAuthError, type AttackCase } from '../helpers/attack-table.js';
import { TestClock, startAuthServer, type TestAuthServer } from '../helpers/harness.js';
import { createTestPki, x5tS256, type TestPki } from '../helpers/mtls-pki.js';
import { API, TEST_RESOURCES, newClient, postForm } from '../helpers/oauth-client.js';
import { httpsPostForm, httpsRequest } from '../helpers/tls-client.js';

/**
 * The auth server's listener: `listen.tls` turns it into HTTPS (core's secure defaults, HSTS, an
 * https issuer), plain HTTP stays exactly as before without it, and the configuration refuses an
 * issuer that does not match its listener.
 */

const ISSUER_HTTPS = 'https://auth.example.com';
const TLS = { certFile: 'server.pem', keyFile: 'server-key.pem' } as const;

const refused: (AttackCase & { readonly input: AuthServerConfigInput; readonly says: RegExp })[] = [
  {
    name: 'an http issuer on a TLS listener',
    source: 'RFC 8414 §2 (the issuer is the URL clients use)',
    input: { issuer: 'http://127.0.0.1:4000', listen: { tls: TLS } },
    says: /listen\.tls is set, so the issuer must be https/,
  },
  {
    name: 'a certificate header without trusted proxies',
    source: 'RFC 9440 §4',
    input: { issuer: ISSUER_HTTPS, mtls: { certificateHeader: 'client-cert' } },
    says: /read only from trusted proxies/,
  },
  ...['10.0.0.0/33', 'proxy.example.com', '10.0.0.1/8/1', '', '10.0.0.0/08', '::1/129'].map((entry) => ({
    name: `a trusted proxy entry ${JSON.stringify(entry)}`,
    source: 'RFC 4632 §3.1',
    input: { issuer: ISSUER_HTTPS, mtls: { certificateHeader: 'client-cert', trustedProxies: [entry] } },
    says: /an IP address or CIDR block/,
  })),
  {
    name: 'a header name with a space',
    source: 'RFC 9110 §5.1',
    input: { issuer: ISSUER_HTTPS, mtls: { certificateHeader: 'client cert', trustedProxies: ['10.0.0.1'] } },
    says: /a header name/,
  },
  {
    name: 'clientAuth require without a CA',
    source: 'RFC 8705 §2.1',
    input: { issuer: ISSUER_HTTPS, listen: { tls: { ...TLS, clientAuth: 'require' } } },
    says: /caFile is required/,
  },
];

const accepted: (AttackCase & { readonly input: AuthServerConfigInput })[] = [
  {
    // TLS ends at the balancer, which forwards plain HTTP (and the client certificate in a header).
    name: 'an https issuer on a plain listener behind a TLS-terminating load balancer',
    source: 'RFC 9440 §4',
    input: { issuer: ISSUER_HTTPS, listen: { host: '0.0.0.0' } },
  },
  {
    name: 'an https issuer on a loopback plain listener (local TLS proxy)',
    source: 'OAuth 2.1 §1.5',
    input: { issuer: ISSUER_HTTPS },
  },
  {
    name: 'an https issuer on a TLS listener on every interface',
    source: 'OAuth 2.1 §1.5',
    input: { issuer: ISSUER_HTTPS, listen: { host: '0.0.0.0', tls: TLS } },
  },
  {
    name: 'an http issuer on loopback (development)',
    source: 'RFC 8252 §8.3',
    input: { issuer: 'http://127.0.0.1:4000' },
  },
  {
    name: 'a certificate header from listed proxies',
    source: 'RFC 9440 §4',
    input: {
      issuer: ISSUER_HTTPS,
      mtls: {
        certificateHeader: 'Client-Cert',
        trustedProxies: ['10.0.0.0/8', '192.0.2.7', '2001:db8::/32'],
      },
    },
  },
];

describe('auth-server listener configuration', () => {
  it.each(refused)('refuses $name ($source)', ({ input, says }) => {
    expect(() => buildAuthServerConfig(input)).toThrow(says);
  });

  it.each(accepted)('accepts $name ($source)', ({ input }) => {
    expect(() => buildAuthServerConfig(input)).not.toThrow();
  });
});

describe('plain HTTP without listen.tls: as before', () => {
  let as: TestAuthServer;
  beforeAll(async () => {
    as = await startAuthServer({ config: { resources: TEST_RESOURCES } });
  });
  afterAll(async () => {
    await as.close();
  });

  it('http URL, no HSTS, no mutual-TLS methods or bound tokens in discovery', async () => {
    expect(as.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${as.url}/.well-known/openid-configuration`);
    expect(response.headers.get('strict-transport-security')).toBeNull();
    const metadata = (await response.json()) as Record<string, unknown>;
    expect(metadata['tls_client_certificate_bound_access_tokens']).toBe(false);
    expect(metadata['token_endpoint_auth_methods_supported']).toEqual([
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      'none',
    ]);
    expect(await as.server.reloadTls()).toBe(false);
  });

  it('a tls_client_auth client cannot authenticate: there is no certificate on plain HTTP', async () => {
    const client = await newClient(as, {
      grantTypes: ['client_credentials'],
      authMethod: 'tls_client_auth',
      tlsClientAuth: { kind: 'san_dns', value: 'partner.example' },
    });
    expectOAuthError(
      await postForm(`${as.url}/token`, { grant_type: 'client_credentials', client_id: client.id }),
      401,
      'invalid_client',
    );
  });
});

describe('HTTPS listener', () => {
  let pki: TestPki;
  beforeAll(async () => {
    pki = await createTestPki();
  });
  afterAll(() => {
    pki.close();
  });

  const tls = (extra: Record<string, unknown> = {}) => ({
    certFile: pki.files.cert,
    keyFile: pki.files.key,
    ...extra,
  });

  it('a file that cannot be read fails the start with ERR_CONFIG_INVALID', async () => {
    await expect(
      startAuthServer({ baseDir: pki.dir, config: { listen: { tls: tls({ certFile: 'missing.pem' }) } } }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    await expect(
      startAuthServer({
        baseDir: pki.dir,
        config: { listen: { tls: tls() }, mtls: { caFile: 'missing-ca.pem' } },
      }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID', detail: expect.stringMatching(/mtls\.caFile/) });
  });

  it('clientAuth none: HTTPS with HSTS, but no client certificates, so no mutual-TLS in discovery', async () => {
    const as = await startAuthServer({ baseDir: pki.dir, config: { listen: { tls: tls() } } });
    try {
      const response = await httpsRequest(`${as.url}/.well-known/openid-configuration`, 'GET', {
        ca: pki.serverCa.certPem,
      });
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000');
      expect(response.body['issuer']).toBe(as.url);
      expect(response.body['tls_client_certificate_bound_access_tokens']).toBe(false);
    } finally {
      await as.close();
    }
  });

  it('clientAuth require: a client without a certificate does not get past the handshake', async () => {
    const as = await startAuthServer({
      baseDir: pki.dir,
      config: { listen: { tls: tls({ caFile: pki.files.partnerCa, clientAuth: 'require' }) } },
    });
    try {
      await expect(
        httpsRequest(`${as.url}/.well-known/openid-configuration`, 'GET', { ca: pki.serverCa.certPem }),
      ).rejects.toThrow();
    } finally {
      await as.close();
    }
  });

  it('mtls.caFile: partner certificates are checked against it, not the listener CA', async () => {
    const partner = await pki.partnerCa.issue({ commonName: 'p', dns: ['partner.example'], usage: 'client' });
    const rogue = await pki.rogueCa.issue({ commonName: 'p', dns: ['partner.example'], usage: 'client' });
    const as = await startAuthServer({
      baseDir: pki.dir,
      clock: new TestClock(Date.now()),
      // The listener trusts no CA for client certificates; tls_client_auth uses mtls.caFile.
      config: {
        resources: TEST_RESOURCES,
        listen: { tls: tls({ clientAuth: 'optional' }) },
        mtls: { caFile: pki.files.partnerCa },
      },
    });
    try {
      const client = await newClient(as, {
        grantTypes: ['client_credentials'],
        authMethod: 'tls_client_auth',
        tlsClientAuth: { kind: 'san_dns', value: 'partner.example' },
        resources: [API],
        tokenFormat: 'jwt',
      });
      const request = (cert: { certPem: string; keyPem: string }) =>
        httpsPostForm(
          `${as.url}/token`,
          { grant_type: 'client_credentials', client_id: client.id },
          { ca: pki.serverCa.certPem, cert: cert.certPem, key: cert.keyPem },
        );
      const ok = await request(partner);
      expect(ok.status, ok.text).toBe(200);
      const claims = JSON.parse(
        Buffer.from((ok.body['access_token'] as string).split('.')[1]!, 'base64url').toString('utf8'),
      );
      expect(claims.cnf).toEqual({ 'x5t#S256': x5tS256(partner.certPem) });
      const mark = as.audit.length;
      expectOAuthError(await request(rogue), 401, 'invalid_client');
      expect(as.audit.slice(mark).find((e) => e.action === 'client.auth_failed')?.reason).toBe(
        'certificate not issued by a configured CA',
      );
    } finally {
      await as.close();
    }
  });

  it('a replaced certificate is served to new connections after reloadTls (SIGHUP), without a restart', async () => {
    const as = await startAuthServer({ baseDir: pki.dir, config: { listen: { tls: tls() } } });
    const served = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(
          { host: '127.0.0.1', port: Number(new URL(as.url).port), ca: pki.serverCa.certPem },
          () => {
            resolve(socket.getPeerCertificate().fingerprint256);
            socket.end();
          },
        );
        socket.on('error', reject);
      });
    try {
      const before = await served();
      const renewed = await pki.serverCa.issue({
        commonName: 'auth.test',
        ip: ['127.0.0.1'],
        usage: 'server',
      });
      pki.write(pki.files.key, renewed.keyPem);
      pki.write(pki.files.cert, renewed.certPem);
      expect(await as.server.reloadTls()).toBe(true);
      const after = await served();
      expect(after).not.toBe(before);
      expect(after).toBe(new X509Certificate(renewed.certPem).fingerprint256);
    } finally {
      await as.close();
    }
  });
});
