import { afterEach, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from './recording-upstream.js';

describe('startRecordingUpstream', () => {
  let upstream: RecordingUpstream | undefined;
  afterEach(async () => {
    await upstream?.close();
    upstream = undefined;
  });

  it('records method, url, headers and body, and echoes by default', async () => {
    upstream = await startRecordingUpstream();
    const response = await fetch(`${upstream.url}/v1/items?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', 'x-test': 'yes' },
      body: 'hello',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ method: 'POST', url: '/v1/items?x=1' });
    expect(upstream.requests).toHaveLength(1);
    const [request] = upstream.requests;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/items?x=1', headers: { 'x-test': 'yes' } });
    expect(request?.rawHeaders).toContain('x-test');
    expect(request?.body.toString()).toBe('hello');
  });

  it('answers with a custom handler', async () => {
    upstream = await startRecordingUpstream({
      handler: (req, res, body) => {
        res.writeHead(201, { 'x-length': String(body.length), 'x-method': req.method });
        res.end();
      },
    });
    const response = await fetch(upstream.url, { method: 'PUT', body: 'abc' });
    expect(response.status).toBe(201);
    expect(response.headers.get('x-length')).toBe('3');
    expect(response.headers.get('x-method')).toBe('PUT');
    expect(upstream.url).toBe(`http://127.0.0.1:${upstream.port}`);
  });

  it('closes even with a connection still open', async () => {
    const started = await startRecordingUpstream();
    await fetch(started.url, { headers: { connection: 'keep-alive' } });
    await started.close();
    await expect(fetch(started.url)).rejects.toThrow();
  });
});
