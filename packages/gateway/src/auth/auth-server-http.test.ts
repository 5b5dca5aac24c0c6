import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBasicAuthorization, createAuthServerHttp } from './auth-server-http.js';

describe('buildBasicAuthorization (RFC 6749 §2.3.1)', () => {
  it('form-urlencodes id and secret before base64', () => {
    const header = buildBasicAuthorization('gate way', 'p:ss%&');
    expect(Buffer.from(header.slice(6), 'base64').toString()).toBe('gate+way:p%3Ass%25%26');
  });
});

describe('createAuthServerHttp (real HTTP server on port 0)', () => {
  let server: Server;
  let base = '';
  const seen: { method?: string; headers?: IncomingMessage['headers']; body?: string } = {};
  const routes: Record<string, (res: ServerResponse) => void> = {
    '/json': (res) => res.end('{"ok":true}'),
    '/text': (res) => res.end('not json'),
    '/huge': (res) => res.end(`"${'x'.repeat(70_000)}"`),
    '/hang': () => undefined,
    '/redirect': (res) => {
      res.writeHead(302, { location: '/json' }).end();
    },
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        Object.assign(seen, { method: req.method, headers: req.headers, body });
        routes[req.url ?? '']?.(res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const http = () => createAuthServerHttp({ clientId: 'gw', clientSecret: 's', timeoutMs: 300 });

  it('posts a form with client_secret_basic and parses JSON', async () => {
    const client = http();
    expect(await client.postForm(`${base}/json`, 'a=1')).toEqual({ status: 200, body: { ok: true } });
    expect(seen).toMatchObject({
      method: 'POST',
      body: 'a=1',
      headers: {
        authorization: buildBasicAuthorization('gw', 's'),
        'content-type': 'application/x-www-form-urlencoded',
      },
    });
    expect(await client.getJson(`${base}/text`)).toEqual({ status: 200, body: undefined });
    expect(seen.headers?.authorization).toBeUndefined();
    await client.close();
  });

  it('does not follow redirects', async () => {
    const client = http();
    expect(await client.getJson(`${base}/redirect`)).toMatchObject({ status: 302 });
    await client.close();
  });

  it.each([
    ['an answer over 64 KiB', '/huge'],
    ['no answer within the deadline', '/hang'],
  ])('fails with ERR_GATEWAY_AUTH_UNAVAILABLE on %s', async (_name, path) => {
    const client = http();
    await expect(client.getJson(`${base}${path}`)).rejects.toMatchObject({
      code: 'ERR_GATEWAY_AUTH_UNAVAILABLE',
    });
    await client.close();
  });

  it('fails with ERR_GATEWAY_AUTH_UNAVAILABLE when nothing listens', async () => {
    const client = http();
    await expect(client.postForm('http://127.0.0.1:1/token', '')).rejects.toMatchObject({
      code: 'ERR_GATEWAY_AUTH_UNAVAILABLE',
      detail: 'auth server unreachable: POST /token',
    });
    await client.close();
  });
});
