import { createDevCa, type CertificateAndKey, type DevCa } from '@gatehouse/core';
import { requireService } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNTS,
  clientCertField,
  issueBoundToken,
  startBindingAuthServer,
  type TestAuthServer,
} from '../support/auth-server.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import type { StartedGateway } from '../support/start-gateway.js';
import { callNginx, shippedNginxConfig, startNginxSite, type RunningNginx } from './nginx-server.js';
import { startExtAuthzGateway } from './support.js';

/**
 * Certificate-bound tokens (RFC 8705 §3) at an nginx edge: Debian's nginx terminates the clients'
 * TLS (`ssl_verify_client optional_no_ca`, the key of any certificate proven in the handshake),
 * and the shipped deploy/nginx/gatehouse-auth-request.conf hands the certificate to the gateway's
 * external authorization in `Client-Cert` (`$ssl_client_escaped_cert`), which the gateway reads
 * with `clientCertificateHeader` from nginx, its trusted proxy. A token bound to a certificate
 * passes only over a connection that proved it; what a client writes into `Client-Cert` itself
 * counts for nothing, and the service never receives the field.
 */

const TEMPLATE = shippedNginxConfig('gatehouse-auth-request.conf');
const nginx = await requireService('nginx', 'certificate-bound tokens behind a real nginx');

describe.runIf(nginx.available)('nginx edge with client certificates, gateway ext-authz', () => {
  let as: TestAuthServer;
  let upstream: RecordingUpstream;
  let gw: StartedGateway;
  let nginxServer: RunningNginx | undefined;
  let edgeCa: DevCa;
  let partner: CertificateAndKey;
  let other: CertificateAndKey;
  let token = '';

  beforeAll(async () => {
    as = await startBindingAuthServer();
    const gatewayClient = await as.createGatewayClient();
    // The partner's certificate is self-signed as far as anyone knows (self_signed_tls_client_auth):
    // a binding needs the key proven, not a chain.
    const partnerCa = await createDevCa({ commonName: 'partner' });
    partner = await partnerCa.issue({ commonName: 'partner', usage: 'client' });
    other = await partnerCa.issue({ commonName: 'partner', usage: 'client' });
    token = await issueBoundToken(as, partner.certPem, { resource: ACCOUNTS });

    upstream = await startRecordingUpstream();
    gw = await startExtAuthzGateway(as, gatewayClient, {
      style: 'nginx',
      appUrl: 'http://127.0.0.1:9',
      config: { clientCertificateHeader: 'Client-Cert' },
    });
    edgeCa = await createDevCa({ commonName: 'edge' });
    nginxServer = await startNginxSite(
      TEMPLATE,
      {
        SERVER_NAME: 'api.example.test',
        GATEHOUSE_EXT_AUTHZ: new URL(gw.gateway.extAuthzUrl() as string).host,
        APP_UPSTREAM: new URL(upstream.url).host,
      },
      {},
      {
        server: await edgeCa.issue({ commonName: 'edge', dns: ['localhost'], usage: 'server' }),
        verifyClient: 'optional_no_ca',
      },
    );
  });

  afterAll(async () => {
    await nginxServer?.stop();
    await gw.close();
    await upstream.close();
    await as.close();
  });

  const call = (client: CertificateAndKey | undefined, headers: Record<string, string> = {}) =>
    callNginx(nginxServer?.port ?? 0, upstream, '/api/accounts/7', {
      headers: { authorization: `Bearer ${token}`, ...headers },
      tls: { ca: edgeCa.certPem, ...(client === undefined ? {} : { client }) },
    });

  it('admits the bound token over a connection with its certificate; the service gets neither', async () => {
    const { response, received } = await call(partner);
    expect(response?.status).toBe(200);
    expect(received).toHaveLength(1);
    const seen = received[0]?.headers ?? {};
    expect(seen['authorization']).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(seen['authorization']).not.toBe(`Bearer ${token}`);
    expect(seen['client-cert']).toBeUndefined();
  });

  it.each([
    { name: 'without a client certificate', client: () => undefined, headers: {} },
    { name: 'with another certificate', client: () => other, headers: {} },
    {
      name: 'without a certificate, the right one written into Client-Cert by the client',
      client: () => undefined,
      headers: () => ({ 'client-cert': clientCertField(partner.certPem) }),
    },
    {
      name: 'with another certificate, the right one written into Client-Cert as escaped PEM',
      client: () => other,
      headers: () => ({ 'client-cert': encodeURIComponent(partner.certPem) }),
    },
  ])('refuses it $name: 401 invalid_token, nothing reaches the service', async ({ client, headers }) => {
    const { response, received } = await call(client(), typeof headers === 'function' ? headers() : headers);
    expect(response?.status).toBe(401);
    expect(response?.headers['www-authenticate']).toContain('error="invalid_token"');
    expect(received).toEqual([]);
  });
});
