import { freePort, requireService } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATH_CASES, PATH_REFUSALS } from '../attacks/path-cases.js';
import {
  ACCOUNTS,
  API,
  startAuthServer,
  type TestAuthServer,
  type TestClient,
} from '../support/auth-server.js';
import {
  startRecordingUpstream,
  type RecordedRequest,
  type RecordingUpstream,
} from '../support/recording-upstream.js';
import type { StartedGateway } from '../support/start-gateway.js';
import {
  callNginx,
  shippedNginxConfig,
  startNginxSite,
  type CallOptions,
  type ClientResult,
  type RunningNginx,
} from './nginx-server.js';
import { startExtAuthzGateway } from './support.js';

/**
 * End to end with Debian's nginx: deploy/nginx/gatehouse-auth-request.conf, placeholders filled in,
 * in front of a recording service, with auth_request to the gateway's external-authorization
 * listener (style nginx). Clients connect from loopback addresses of their own (127.0.0.2 and up),
 * nginx reaches the gateway from 127.0.0.1, its only trusted proxy. What a client sees is asserted
 * at the client; what the service received, at the service.
 */

const TEMPLATE = shippedNginxConfig('gatehouse-auth-request.conf');

/** The shipped site configuration, asking the gateway at `extAuthz`, in front of `app`. */
function startNginx(extAuthz: string, app: string): Promise<RunningNginx> {
  return startNginxSite(TEMPLATE, {
    SERVER_NAME: 'api.example.test',
    GATEHOUSE_EXT_AUTHZ: extAuthz,
    APP_UPSTREAM: app,
  });
}

const nginx = await requireService('nginx', 'external authorization behind a real nginx');

describe.runIf(nginx.available)('nginx auth_request in front of the gateway', () => {
  let nginxServer: RunningNginx | undefined;
  let port = 0;
  let as: TestAuthServer;
  let upstream: RecordingUpstream;
  let gw: StartedGateway;
  let opaqueClient: TestClient;
  let readOnly: TestClient;

  beforeAll(async () => {
    as = await startAuthServer();
    const gatewayClient = await as.createGatewayClient();
    opaqueClient = await as.createClient({
      scopes: ['accounts:read', 'accounts:write'],
      resources: [API, ACCOUNTS],
    });
    readOnly = await as.createClient({
      scopes: ['accounts:read'],
      resources: [ACCOUNTS],
      tokenFormat: 'jwt',
    });
    upstream = await startRecordingUpstream();
    // nginx reaches the gateway from 127.0.0.1; the clients below connect from 127.0.0.2 and up.
    // The gateway's own upstream is never called in this mode: nginx proxies.
    gw = await startExtAuthzGateway(as, gatewayClient, { style: 'nginx', appUrl: 'http://127.0.0.1:9' });
    nginxServer = await startNginx(
      new URL(gw.gateway.extAuthzUrl() as string).host,
      new URL(upstream.url).host,
    );
    port = nginxServer.port;
  });

  afterAll(async () => {
    await nginxServer?.stop();
    await gw.close();
    await upstream.close();
    await as.close();
  });

  const call = (target: string, options?: CallOptions): Promise<ClientResult> =>
    callNginx(port, upstream, target, options);

  it('allows a valid token: the service gets the internal JWT, never the external token', async () => {
    const token = await as.tokenFor(opaqueClient, { scope: 'accounts:read' });
    const { response, received } = await call('/api/accounts/7?x=1', {
      headers: {
        authorization: `Bearer ${token}`,
        cookie: 'session=client',
        'x-gatehouse-client-id': 'spoofed',
        'x-http-method-override': 'DELETE',
      },
    });
    expect(response?.status).toBe(200);
    expect(received).toHaveLength(1);
    const forwarded = received[0] as RecordedRequest;
    // The canonical, rewritten path the gateway matched (stripPrefix /api/accounts, addPrefix /accounts).
    expect(forwarded.url).toBe('/accounts/7?x=1');
    expect(forwarded.headers['authorization']).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(forwarded.rawHeaders)).not.toContain(token);
    expect(forwarded.headers['x-gatehouse-client-id']).toBe(opaqueClient.clientId);
    expect(forwarded.headers['x-gatehouse-scope']).toBe('accounts:read');
    expect(forwarded.headers['x-forwarded-for']).toBe('127.0.0.2');
    expect(forwarded.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(forwarded.headers['traceparent']).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    for (const name of ['cookie', 'dpop', 'x-http-method-override', 'x-original-uri', 'x-gatehouse-refusal'])
      expect(forwarded.headers[name], name).toBeUndefined();
  });

  it("hands a public route nothing of the client's credentials", async () => {
    const { response, received } = await call('/public/status', {
      headers: { authorization: 'Bearer external-token-for-somewhere-else' },
    });
    expect(response?.status).toBe(200);
    expect(received.map((r) => [r.url, r.headers['authorization']])).toEqual([['/public/status', undefined]]);
  });

  it('answers 401 with WWW-Authenticate (once) at the client when there is no token', async () => {
    const { response, head, received } = await call('/api/accounts');
    expect(response?.status).toBe(401);
    expect(response?.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(head.match(/\r\nwww-authenticate:/gi)).toHaveLength(1);
    expect(response?.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(response?.body ?? '{}')).toMatchObject({ status: 401 });
    expect(received).toEqual([]);
  });

  it('answers 403 insufficient_scope at the client', async () => {
    const token = await as.tokenFor(readOnly, { resource: ACCOUNTS });
    const { response, received } = await call('/api/accounts', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response?.status).toBe(403);
    expect(response?.headers['www-authenticate']).toContain('error="insufficient_scope"');
    expect(received).toEqual([]);
  });

  it('answers 403 to a banned address, whatever X-Forwarded-For the client sends', async () => {
    await gw.gateway.bans.add({ subject: '127.0.0.3', durationSec: 600, reason: 'test', source: 'admin' });
    for (const headers of [{}, { 'x-forwarded-for': '198.51.100.1' }]) {
      const { response, received } = await call('/public/x', { from: '127.0.0.3', headers });
      expect(response?.status).toBe(403);
      expect(JSON.parse(response?.body ?? '{}')).toMatchObject({ code: 'ERR_GATEWAY_BANNED' });
      expect(received).toEqual([]);
    }
    expect((await call('/public/x', { from: '127.0.0.2' })).response?.status).toBe(200);
  });

  it('answers 429 with Retry-After and RateLimit headers at the client once the limit is spent', async () => {
    const allowed = [
      await call('/api/limited', { from: '127.0.0.4' }),
      await call('/api/limited', { from: '127.0.0.4' }),
    ];
    expect(allowed.map((r) => r.response?.status)).toEqual([200, 200]);
    expect(allowed[0]?.response?.headers['ratelimit-policy']).toContain('"tight"');
    expect(allowed[1]?.response?.headers['ratelimit']).toMatch(/r=0/);
    const { response, received } = await call('/api/limited', { from: '127.0.0.4' });
    expect(response?.status).toBe(429);
    expect(Number(response?.headers['retry-after'])).toBeGreaterThan(0);
    expect(response?.headers['ratelimit']).toMatch(/r=0/);
    expect(JSON.parse(response?.body ?? '{}')).toMatchObject({ code: 'ERR_GATEWAY_RATE_LIMITED' });
    expect(received).toEqual([]);
  });

  it('passes the body to the service unseen by the gateway, within client_max_body_size', async () => {
    const token = await as.tokenFor(opaqueClient, { scope: 'accounts:write' });
    const body = '{"nickname":"x"}';
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const small = await call('/api/accounts', { method: 'POST', headers, body });
    expect(small.response?.status).toBe(200);
    expect(small.received.map((r) => [r.method, r.url, r.body.toString('utf8')])).toEqual([
      ['POST', '/accounts', body],
    ]);
    const big = await call('/api/accounts', {
      method: 'POST',
      headers: { ...headers, 'content-length': String(2 * 1024 * 1024) },
    });
    expect(big.response?.status).toBe(413);
    expect(big.received).toEqual([]);
  });

  it('keeps its check and refusal endpoints internal', async () => {
    for (const target of ['/_gatehouse/ext-authz', '/_gatehouse/ext-authz/refusal']) {
      const { response, received } = await call(target, { headers: { 'x-original-uri': '/public/x' } });
      expect(response?.status, target).toBe(404);
      expect(received).toEqual([]);
    }
  });

  describe('path bypasses (path-cases.ts): nothing the gateway would refuse reaches the service', () => {
    /**
     * What nginx does before any check: it refuses some targets itself (400, its own page) and turns
     * absolute-form into origin-form (RFC 9112 §3.2.2); everything else gets the gateway's verdict.
     */
    const NGINX_REFUSES = new Set([
      'encoded NUL %00',
      'raw NUL',
      'malformed escape %zz',
      'truncated escape %2',
      'dot-segments above the root',
      'encoded dot-segments above the root',
      'asterisk-form',
    ]);
    const NGINX_REWRITES: Readonly<Record<string, { status: number; forwarded?: string }>> = {
      'absolute-form naming the gateway': { status: 200, forwarded: '/public/x' },
      'absolute-form naming another host': { status: 404 },
      // Node's parser refuses raw non-ASCII in the request line; nginx passes it in X-Original-URI,
      // where the canonicalizer refuses it.
      'raw non-ASCII bytes': { status: 400 },
    };
    it.each(PATH_CASES)('$name', async ({ name, target, method, verdict }) => {
      const { response, received } = await call(target, { method });
      const rewritten = NGINX_REWRITES[name];
      if (NGINX_REFUSES.has(name)) {
        expect(response?.status).toBe(400);
        expect(response?.headers['content-type']).toBe('text/html');
      } else if (rewritten !== undefined) {
        expect(response?.status).toBe(rewritten.status);
      } else {
        const expected = PATH_REFUSALS[verdict];
        expect([response?.status, JSON.parse(response?.body ?? '{}').code]).toEqual([
          expected.status,
          expected.code,
        ]);
      }
      expect(received.map((r) => r.url)).toEqual(
        rewritten?.forwarded === undefined ? [] : [rewritten.forwarded],
      );
    });

    it.each([
      { sent: '/public/%7Euser/%41', forwarded: '/public/~user/A' },
      { sent: '/public//a/./b/../c', forwarded: '/public/a/c' },
      { sent: '/public/a%3fb%2a', forwarded: '/public/a%3Fb%2A' },
    ])('forwards $sent as the string the gateway matched: $forwarded', async ({ sent, forwarded }) => {
      const { response, received } = await call(sent);
      expect(response?.status).toBe(200);
      expect(received.map((r) => r.url)).toEqual([forwarded]);
    });
  });
});

describe.runIf(nginx.available)('nginx auth_request when the gateway cannot be reached', () => {
  let upstream: RecordingUpstream;
  let nginxServer: RunningNginx;

  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    nginxServer = await startNginx(`127.0.0.1:${await freePort()}`, new URL(upstream.url).host);
  });
  afterAll(async () => {
    await nginxServer.stop();
    await upstream.close();
  });

  it('fails closed: 503 problem+json with Retry-After, nothing reaches the service', async () => {
    const { response, received } = await callNginx(nginxServer.port, upstream, '/public/x');
    expect(response?.status).toBe(503);
    expect(response?.headers['retry-after']).toBe('5');
    expect(response?.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(response?.body ?? '{}')).toMatchObject({ status: 503 });
    expect(received).toEqual([]);
  });
});
