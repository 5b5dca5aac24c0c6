import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createLogger } from '@gatehouse/core';
import { afterEach, describe, expect, it } from 'vitest';
import { createWebhookSender, type WebhookSenderOptions } from './deliver-webhook.js';

const SECRET = 'webhook-secret-never-logged-0123456789';

interface Receiver {
  url: string;
  received: { headers: IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map(
      (server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    ),
  );
});

/** A real receiver answering the statuses of `answers` in turn (the last one from then on). */
async function startReceiver(answers: number[], hold = false): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      received.push({ headers: req.headers, body });
      if (hold) return;
      res.writeHead(answers[Math.min(received.length, answers.length) - 1] ?? 200).end();
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/alerts?key=in-the-url`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function sender(url: string, overrides: Partial<WebhookSenderOptions> = {}) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString('utf8'));
      callback();
    },
  });
  const webhook = createWebhookSender({
    url,
    secret: SECRET,
    timeoutMs: 2000,
    retries: 3,
    backoffMs: 5,
    maxBackoffMs: 20,
    logger: createLogger({ component: 'test', level: 'info', destination }),
    ...overrides,
  });
  return { webhook, lines };
}

describe('createWebhookSender', () => {
  it('POSTs JSON with the bearer secret', async () => {
    const receiver = await startReceiver([204]);
    const { webhook } = sender(receiver.url);
    await expect(webhook.send({ status: 'firing', alert: { rule: 'r' } })).resolves.toEqual({
      delivered: true,
      attempts: 1,
      status: 204,
    });
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.headers).toMatchObject({
      authorization: `Bearer ${SECRET}`,
      'content-type': 'application/json',
    });
    expect(JSON.parse(receiver.received[0]?.body ?? '')).toEqual({ status: 'firing', alert: { rule: 'r' } });
  });

  it('retries 5xx, 408 and 429 with backoff until delivered; never logs the secret or the URL', async () => {
    const receiver = await startReceiver([503, 429, 408, 200]);
    const { webhook, lines } = sender(receiver.url);
    await expect(webhook.send({ n: 1 })).resolves.toMatchObject({ delivered: true, attempts: 4 });
    expect(receiver.received).toHaveLength(4);
    expect(lines.filter((line) => line.includes('retrying'))).toHaveLength(3);
    expect(lines.join('')).not.toContain(SECRET);
    expect(lines.join('')).not.toContain('in-the-url');
  });

  it('gives up after its retries, and at once on a 4xx or a redirect', async () => {
    const failing = await startReceiver([500]);
    const result = await sender(failing.url, { retries: 2 }).webhook.send({});
    expect(result).toEqual({ delivered: false, attempts: 3, error: 'status_500' });
    const refusing = await startReceiver([401]);
    expect(await sender(refusing.url).webhook.send({})).toEqual({
      delivered: false,
      attempts: 1,
      error: 'status_401',
    });
    const moved = await startReceiver([302]);
    expect(await sender(moved.url).webhook.send({})).toMatchObject({ delivered: false, error: 'status_302' });
    expect(moved.received).toHaveLength(1);
  });

  it('names network failures and timeouts by code', async () => {
    const gone = await startReceiver([200]);
    await gone.close();
    expect(await sender(gone.url, { retries: 1 }).webhook.send({})).toEqual({
      delivered: false,
      attempts: 2,
      error: 'ECONNREFUSED',
    });
    const silent = await startReceiver([200], true);
    expect(await sender(silent.url, { retries: 0, timeoutMs: 50 }).webhook.send({})).toEqual({
      delivered: false,
      attempts: 1,
      error: 'timeout',
    });
  });

  it('close abandons deliveries in progress; a full backlog refuses more', async () => {
    const silent = await startReceiver([200], true);
    const { webhook } = sender(silent.url, { maxPending: 1, timeoutMs: 60_000 });
    const first = webhook.send({ n: 1 });
    expect(webhook.pending).toBe(1);
    await expect(webhook.send({ n: 2 })).resolves.toEqual({
      delivered: false,
      attempts: 0,
      error: 'backlog_full',
    });
    await expect.poll(() => silent.received.length).toBe(1);
    webhook.close();
    await expect(first).resolves.toMatchObject({ delivered: false, error: 'closed' });
    await expect(webhook.send({ n: 3 })).resolves.toEqual({ delivered: false, attempts: 0, error: 'closed' });
  });
});
