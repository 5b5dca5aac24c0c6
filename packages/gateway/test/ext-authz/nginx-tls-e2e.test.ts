import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDevCa, type CertificateAndKey } from '@gatehouse/core';
import { requireService } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNTS,
  API,
  startAuthServer,
  verifyHandedOver,
  type TestAuthServer,
  type TestClient,
} from '../support/auth-server.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import type { StartedGateway } from '../support/start-gateway.js';
import { callNginx, shippedNginxConfig, startNginxSite, type RunningNginx } from './nginx-server.js';
import { createExtAuthzPki, type ExtAuthzPki } from './pki.js';
import { startExtAuthzGateway } from './support.js';

/**
 * End to end with Debian's nginx over mutual TLS: deploy/nginx/gatehouse-auth-request-tls.conf,
 * placeholders filled in, asks the gateway's external-authorization listener (style nginx,
 * `listen.tls` with `clientAuth: require`) over HTTPS, presenting its own certificate and verifying
 * the gateway's against one CA and one name. The gateway's certificate names only that DNS name (no
 * address): nginx must check `proxy_ssl_name`. The rest of the auth_request behaviour is the plain
 * configuration's, tested in nginx-e2e.test.ts; the two files are kept in step below.
 */

const TEMPLATE = shippedNginxConfig('gatehouse-auth-request-tls.conf');
const PLAIN = shippedNginxConfig('gatehouse-auth-request.conf');
/** The name in the gateway's certificate (`proxy_ssl_name`). */
const TLS_NAME = 'gatehouse-ext-authz.internal';

/** The directives of a configuration, comments and blank lines left out. */
function directives(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

describe('deploy/nginx/gatehouse-auth-request-tls.conf', () => {
  it('is the plain configuration with TLS to the gateway added, nothing else changed', () => {
    const tls = directives(TEMPLATE);
    expect(
      tls
        .filter((line) => !line.startsWith('proxy_ssl_'))
        .map((line) =>
          line.replace('proxy_pass https://gatehouse_ext_authz', 'proxy_pass http://gatehouse_ext_authz'),
        ),
    ).toEqual(directives(PLAIN));
    // Every call to the gateway (the check and the refusal fetch) is over verified mutual TLS.
    const calls = tls.filter((line) => line.includes('gatehouse_ext_authz') && line.startsWith('proxy_pass'));
    expect(calls).toHaveLength(2);
    expect(calls.every((line) => line.startsWith('proxy_pass https://'))).toBe(true);
    for (const directive of [
      'proxy_ssl_verify on;',
      'proxy_ssl_certificate {{NGINX_CERT}};',
      'proxy_ssl_certificate_key {{NGINX_KEY}};',
      'proxy_ssl_trusted_certificate {{GATEHOUSE_CA}};',
      'proxy_ssl_name {{GATEHOUSE_TLS_NAME}};',
    ])
      expect(
        tls.filter((line) => line === directive),
        directive,
      ).toHaveLength(2);
  });
});

interface NginxTls {
  /** PEM of the CA nginx trusts for the gateway's certificate. */
  readonly gatewayCa: string;
  /** The certificate nginx presents. */
  readonly client: CertificateAndKey;
  /** The name nginx expects in the gateway's certificate. */
  readonly name: string;
}

/** The shipped TLS configuration, asking the gateway at `extAuthz`, in front of `app`. */
function startNginx(extAuthz: string, app: string, tls: NginxTls): Promise<RunningNginx> {
  return startNginxSite(
    TEMPLATE,
    {
      SERVER_NAME: 'api.example.test',
      GATEHOUSE_EXT_AUTHZ: extAuthz,
      GATEHOUSE_TLS_NAME: tls.name,
      GATEHOUSE_CA: '{{DIR}}/gatehouse-ca.pem',
      NGINX_CERT: '{{DIR}}/nginx.pem',
      NGINX_KEY: '{{DIR}}/nginx-key.pem',
      APP_UPSTREAM: app,
    },
    {
      'gatehouse-ca.pem': tls.gatewayCa,
      'nginx.pem': tls.client.certPem,
      'nginx-key.pem': tls.client.keyPem,
    },
  );
}

const nginx = await requireService('nginx', 'external authorization behind a real nginx, over mutual TLS');

describe.runIf(nginx.available)('nginx auth_request to the gateway over mutual TLS', () => {
  let as: TestAuthServer;
  let upstream: RecordingUpstream;
  let pki: ExtAuthzPki;
  let gw: StartedGateway;
  let extAuthz = '';
  let client: TestClient;
  let nginxServer: RunningNginx | undefined;

  beforeAll(async () => {
    as = await startAuthServer();
    const gatewayClient = await as.createGatewayClient();
    client = await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] });
    upstream = await startRecordingUpstream();
    pki = await createExtAuthzPki('nginx', { dns: [TLS_NAME] });
    // nginx reaches the gateway from 127.0.0.1, its only trusted proxy; the gateway's own upstream
    // is never called in this mode.
    gw = await startExtAuthzGateway(as, gatewayClient, {
      style: 'nginx',
      appUrl: 'http://127.0.0.1:9',
      tls: pki.tls,
      baseDir: pki.dir,
    });
    extAuthz = new URL(gw.gateway.extAuthzUrl() as string).host;
    nginxServer = await startNginx(extAuthz, new URL(upstream.url).host, {
      gatewayCa: pki.ca.certPem,
      client: pki.dataPlane,
      name: TLS_NAME,
    });
  });

  afterAll(async () => {
    await nginxServer?.stop();
    await gw.close();
    await upstream.close();
    await as.close();
    pki.remove();
  });

  it('lets a valid token through: the service gets the internal JWT, never the external token', async () => {
    expect(gw.gateway.extAuthzUrl()).toMatch(/^https:/);
    const token = await as.tokenFor(client, { scope: 'accounts:read' });
    const { response, received } = await callNginx(nginxServer?.port ?? 0, upstream, '/api/accounts/7', {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(response?.status).toBe(200);
    expect(received.map((request) => request.url)).toEqual(['/accounts/7']);
    const forwarded = received[0]?.headers['authorization'] ?? '';
    expect(forwarded).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(received[0]?.rawHeaders)).not.toContain(token);
    expect((await verifyHandedOver(as, ACCOUNTS, forwarded)).clientId).toBe(client.clientId);
  });

  it('refuses a request without a token: 401 with WWW-Authenticate, nothing reaches the service', async () => {
    const { response, head, received } = await callNginx(nginxServer?.port ?? 0, upstream, '/api/accounts/7');
    expect(response?.status).toBe(401);
    expect(head.match(/^www-authenticate:/gim)).toHaveLength(1);
    expect(response?.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.parse(response?.body ?? '{}')).toMatchObject({ status: 401 });
    expect(received).toEqual([]);
  });

  it.each([
    {
      name: 'presents a certificate of another CA (the gateway refuses the handshake)',
      tls: async (): Promise<NginxTls> => ({
        gatewayCa: pki.ca.certPem,
        client: await (await createDevCa()).issue({ commonName: 'data plane', usage: 'client' }),
        name: TLS_NAME,
      }),
      // Node closes the connection after the handshake: nginx sees an upstream that hung up, the
      // gateway's log says why.
      gatewayLog: { certificate: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' },
    },
    {
      name: 'trusts another CA (nginx refuses the gateway)',
      tls: async (): Promise<NginxTls> => ({
        gatewayCa: (await createDevCa()).certPem,
        client: pki.dataPlane,
        name: TLS_NAME,
      }),
      nginxLog: /upstream SSL certificate verify error/,
    },
    {
      name: 'expects another name in the gateway certificate (nginx refuses the gateway)',
      tls: (): Promise<NginxTls> =>
        Promise.resolve({ gatewayCa: pki.ca.certPem, client: pki.dataPlane, name: 'other.internal' }),
      nginxLog: /upstream SSL certificate does not match "other\.internal"/,
    },
  ])('fails closed when nginx $name: 503, nothing reaches the service', async (refusal) => {
    const { tls } = refusal;
    const failures = gw.logs.length;
    const other = await startNginx(extAuthz, new URL(upstream.url).host, await tls());
    try {
      const token = await as.tokenFor(client, { scope: 'accounts:read' });
      const { response, received } = await callNginx(other.port, upstream, '/api/accounts/7', {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(response?.status).toBe(503);
      expect(response?.headers['content-type']).toBe('application/problem+json');
      expect(received).toEqual([]);
      // The reason is in the log of the side that refused, as an operator would find it.
      if ('nginxLog' in refusal)
        expect(readFileSync(join(other.dir, 'error.log'), 'utf8')).toMatch(refusal.nginxLog);
      if ('gatewayLog' in refusal)
        await expect
          .poll(() =>
            gw.logs
              .slice(failures)
              .filter((line) => line['msg'] === 'external-authorization TLS handshake failed'),
          )
          .toContainEqual(expect.objectContaining(refusal.gatewayLog));
    } finally {
      await other.stop();
    }
  });
});
