import { createDevCa, type CertificateAndKey } from '@gatehouse/core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACCOUNTS,
  API,
  clientCertField,
  issueBoundToken,
  startBindingAuthServer,
  type TestAuthServer,
} from '../support/auth-server.js';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

/**
 * The gateway behind a TLS-terminating proxy (`clientCertificateHeader`): a certificate-bound token
 * (RFC 8705 §3) is checked against the certificate the trusted proxy forwarded in RFC 9440
 * `Client-Cert` (or as nginx's URL-encoded PEM), and against nothing else; from any other peer the
 * header is not believed. Whoever sends it, the header never reaches the service (RFC 9440 §4).
 * The proxy is played by requests from 127.0.0.1 (trusted); 127.0.0.2 is a client connecting
 * directly.
 */

const HEADER = 'client-cert';
const sequence = clientCertField;

describe('certificate-bound tokens behind a TLS-terminating proxy (clientCertificateHeader)', () => {
  let as: TestAuthServer;
  let upstream: RecordingUpstream;
  let gw: StartedGateway;
  let partner: CertificateAndKey;
  let other: CertificateAndKey;
  let jwtToken = '';
  let opaqueToken = '';
  let unboundToken = '';
  const direct = new Agent({ localAddress: '127.0.0.2' });

  beforeAll(async () => {
    as = await startBindingAuthServer();
    const ca = await createDevCa({ commonName: 'partners' });
    partner = await ca.issue({ commonName: 'partner', usage: 'client' });
    other = await ca.issue({ commonName: 'partner', usage: 'client' });
    jwtToken = await issueBoundToken(as, partner.certPem);
    opaqueToken = await issueBoundToken(as, partner.certPem, { tokenFormat: 'opaque' });
    unboundToken = await as.tokenFor(
      await as.createClient({ scopes: ['accounts:read'], resources: [API, ACCOUNTS] }),
      {
        scope: 'accounts:read',
      },
    );
    upstream = await startRecordingUpstream();
    const gatewayClient = await as.createGatewayClient();
    gw = await startGateway(
      {
        trustedProxies: ['127.0.0.1/32'],
        clientCertificateHeader: 'Client-Cert',
        auth: {
          issuer: as.issuer,
          audience: [API],
          clientId: gatewayClient.clientId,
          clientSecret: gatewayClient.clientSecret,
        },
        upstreams: { app: { targets: [upstream.url] } },
        routes: [
          { id: 'jwt', match: { pathPrefix: '/jwt' }, upstream: 'app', auth: 'jwt', audience: ACCOUNTS },
          {
            id: 'opaque',
            match: { pathPrefix: '/opaque' },
            upstream: 'app',
            auth: 'opaque',
            audience: ACCOUNTS,
          },
        ],
      },
      { state: as.state, now: as.clock.now },
    );
  });

  afterAll(async () => {
    await direct.close();
    await gw.close();
    await upstream.close();
    await as.close();
  });

  /** Status of a GET with the token and the given extra header fields (a flat name/value list). */
  async function call(path: string, token: string, fields: string[], from?: Agent): Promise<number> {
    const response = await request(`${gw.url}${path}`, {
      headers: ['authorization', `Bearer ${token}`, ...fields],
      ...(from === undefined ? {} : { dispatcher: from }),
    });
    await response.body.dump();
    return response.statusCode;
  }

  const cases: ReadonlyArray<{ name: string; fields: () => string[]; from?: () => Agent; status: number }> = [
    {
      name: 'its certificate as an RFC 9440 byte sequence',
      fields: () => [HEADER, sequence(partner.certPem)],
      status: 200,
    },
    {
      name: 'its certificate as a URL-encoded PEM (nginx $ssl_client_escaped_cert)',
      fields: () => [HEADER, encodeURIComponent(partner.certPem)],
      status: 200,
    },
    {
      name: 'its certificate as the Cert of an Envoy x-forwarded-client-cert element',
      fields: () => [HEADER, `By=spiffe://edge;Hash=00ff;Cert="${encodeURIComponent(partner.certPem)}";URI=`],
      status: 200,
    },
    {
      name: 'two Envoy XFCC elements, its certificate in the second',
      fields: () => [
        HEADER,
        `Cert="${encodeURIComponent(other.certPem)}",Cert="${encodeURIComponent(partner.certPem)}"`,
      ],
      status: 401,
    },
    {
      name: 'another certificate of the same CA',
      fields: () => [HEADER, sequence(other.certPem)],
      status: 401,
    },
    { name: 'no header (the proxy saw no certificate)', fields: () => [], status: 401 },
    { name: 'an empty header', fields: () => [HEADER, ''], status: 401 },
    {
      name: 'the header repeated, its certificate in each',
      fields: () => [HEADER, sequence(partner.certPem), HEADER, sequence(partner.certPem)],
      status: 401,
    },
    { name: 'a malformed header', fields: () => [HEADER, ':not base64!:'], status: 401 },
    {
      name: 'a PEM chain in the header',
      fields: () => [HEADER, encodeURIComponent(`${partner.certPem}${other.certPem}`)],
      status: 401,
    },
    {
      name: 'its certificate in the header, from a peer that is not a trusted proxy',
      fields: () => [HEADER, sequence(partner.certPem)],
      from: () => direct,
      status: 401,
    },
  ];

  for (const route of ['jwt', 'opaque'] as const) {
    it.each(cases)(
      `${route} token bound to the partner, $name: $status`,
      async ({ fields, from, status }) => {
        const before = upstream.requests.length;
        const token = route === 'jwt' ? jwtToken : opaqueToken;
        expect(await call(`/${route}/accounts`, token, fields(), from?.())).toBe(status);
        expect(upstream.requests.length).toBe(before + (status === 200 ? 1 : 0));
        if (status === 200) {
          const seen = upstream.requests.at(-1);
          // An unbound internal JWT, and no trace of the certificate header.
          expect(seen?.headers['authorization']).not.toBe(`Bearer ${token}`);
          expect(seen?.headers[HEADER]).toBeUndefined();
        }
      },
    );
  }

  it.each([
    ['from the trusted proxy', undefined],
    ['from a client directly', () => direct],
  ])(
    'never forwards a certificate header to the service (%s), nor its other RFC 9440 field',
    async (_name, from) => {
      const before = upstream.requests.length;
      const status = await call(
        '/opaque/accounts',
        unboundToken,
        [HEADER, sequence(partner.certPem), 'client-cert-chain', sequence(partner.certPem)],
        from?.(),
      );
      // An unbound token needs no certificate: the header changes nothing about it.
      expect(status).toBe(200);
      expect(upstream.requests.length).toBe(before + 1);
      const seen = upstream.requests.at(-1);
      expect(seen?.headers[HEADER]).toBeUndefined();
      expect(seen?.headers['client-cert-chain']).toBeUndefined();
    },
  );

  it('logs an unreadable header from a trusted proxy, without its value', () => {
    const line = gw.logs.find((entry) => String(entry['msg']).includes('client certificate header'));
    expect(line).toMatchObject({ level: 40 });
    expect(JSON.stringify(gw.logs)).not.toContain('not base64!');
  });
});
