import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  answerRefusal,
  decodeRefusal,
  encodeRefusal,
  refuseAsForbidden,
  type Refusal,
} from './nginx-refusal.js';

const RATE_LIMITED: Refusal = {
  status: 429,
  headers: {
    'content-type': 'application/problem+json',
    'retry-after': '30',
    ratelimit: '"tight";r=0;t=30',
    'x-request-id': 'abc',
  },
  body: '{"status":429,"code":"ERR_GATEWAY_RATE_LIMITED"}',
};

const encodeJson = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('decodeRefusal', () => {
  it('reads back what encodeRefusal wrote', () => {
    expect(decodeRefusal(encodeRefusal(RATE_LIMITED))).toEqual(RATE_LIMITED);
  });

  it.each([
    { name: 'no value', value: undefined },
    { name: 'not base64url', value: 'a+b/c=' },
    { name: 'too long', value: 'a'.repeat(20_000) },
    { name: 'not JSON', value: Buffer.from('{').toString('base64url') },
    { name: 'not an object', value: encodeJson(429) },
    { name: 'a success status', value: encodeJson({ ...RATE_LIMITED, status: 200 }) },
    { name: 'a redirect', value: encodeJson({ ...RATE_LIMITED, status: 302 }) },
    { name: 'a status beyond 599', value: encodeJson({ ...RATE_LIMITED, status: 600 }) },
    { name: 'a fractional status', value: encodeJson({ ...RATE_LIMITED, status: 429.5 }) },
    {
      name: 'a field clients must not get',
      value: encodeJson({ ...RATE_LIMITED, headers: { 'set-cookie': 'a=b' } }),
    },
    {
      name: 'a redirect location',
      value: encodeJson({ ...RATE_LIMITED, headers: { location: 'https://evil' } }),
    },
    { name: 'a field with CR LF', value: encodeJson({ ...RATE_LIMITED, headers: { allow: 'GET\r\nX: y' } }) },
    {
      name: 'a field that is not a string',
      value: encodeJson({ ...RATE_LIMITED, headers: { allow: ['GET'] } }),
    },
    { name: 'headers as a list', value: encodeJson({ ...RATE_LIMITED, headers: [] }) },
    { name: 'no body', value: encodeJson({ status: 429, headers: {} }) },
    { name: 'a huge body', value: encodeJson({ ...RATE_LIMITED, body: 'x'.repeat(7000) }) },
  ])('refuses $name', ({ value }) => {
    expect(decodeRefusal(value)).toBeUndefined();
  });
});

describe('over HTTP', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => server?.close(resolve));
    server = undefined;
  });

  async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('refuseAsForbidden: a refusal becomes a 403 carrying it, as the pipeline writes it', async () => {
    const url = await serve((_req, res) => {
      refuseAsForbidden(res);
      res.setHeader('ratelimit-policy', '"tight";q=2;w=60');
      res.writeHead(429, {
        'content-type': 'application/problem+json',
        'retry-after': '30',
        'x-other': 'kept',
      });
      res.end(RATE_LIMITED.body);
    });
    const response = await fetch(url);
    expect(response.status).toBe(403);
    expect(response.headers.get('x-other')).toBe('kept');
    expect(await response.text()).toBe(RATE_LIMITED.body);
    expect(decodeRefusal(response.headers.get('x-gatehouse-refusal') ?? undefined)).toEqual({
      status: 429,
      headers: {
        'content-type': 'application/problem+json',
        'retry-after': '30',
        'ratelimit-policy': '"tight";q=2;w=60',
      },
      body: RATE_LIMITED.body,
    });
  });

  it('refuseAsForbidden: an oversized body is carried as the bare problem of its status', async () => {
    const url = await serve((_req, res) => {
      refuseAsForbidden(res);
      res.writeHead(400, 'Bad Request', { 'content-type': 'application/problem+json' });
      res.end(Buffer.from(`{"errors":"${'x'.repeat(7000)}"}`));
    });
    const refusal = decodeRefusal((await fetch(url)).headers.get('x-gatehouse-refusal') ?? undefined);
    expect(refusal?.status).toBe(400);
    expect(JSON.parse(refusal?.body ?? '')).toMatchObject({ status: 400, title: 'Bad Request' });
  });

  it('refuseAsForbidden: an allowed answer passes untouched', async () => {
    const url = await serve((_req, res) => {
      refuseAsForbidden(res);
      res.writeHead(200, { 'x-gatehouse-route': 'r' });
      res.end();
    });
    const response = await fetch(url);
    expect([response.status, response.headers.get('x-gatehouse-route')]).toEqual([200, 'r']);
    expect(response.headers.get('x-gatehouse-refusal')).toBeNull();
  });

  it('answerRefusal: answers exactly the refusal carried, or a bare 403 without one', async () => {
    const url = await serve((req, res) => void answerRefusal(req, res));
    const carried = await fetch(url, { headers: { 'x-gatehouse-refusal': encodeRefusal(RATE_LIMITED) } });
    expect(carried.status).toBe(429);
    for (const [name, value] of Object.entries(RATE_LIMITED.headers))
      expect(carried.headers.get(name)).toBe(value);
    expect(await carried.text()).toBe(RATE_LIMITED.body);

    for (const headers of [{}, { 'x-gatehouse-refusal': 'not-a-refusal' }]) {
      const bare = await fetch(url, { headers });
      expect(bare.status).toBe(403);
      expect(bare.headers.get('content-type')).toBe('application/problem+json');
      expect(await bare.json()).toMatchObject({ status: 403 });
    }
  });
});
