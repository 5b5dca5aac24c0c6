import { connect } from 'node:net';
import type { ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRecordingUpstream, type RecordingUpstream } from '../support/recording-upstream.js';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';
import { expectForwarded, HOST } from './attack-table.js';

/**
 * Abandoned requests: a client sends a request and leaves (reset, or half-close) while the upstream is still
 * working on it. The gateway aborts the upstream call, logs it, and goes on serving: leaving must cost the
 * attacker nothing and the gateway nothing (no crash on the abort error, no leaked upstream call).
 */

let upstream: RecordingUpstream;
let gw: StartedGateway;
/** Upstream answers held back until the test releases them. */
const held: ServerResponse[] = [];
let onHeld: (() => void) | undefined;
const rejections: unknown[] = [];
const recordRejection = (reason: unknown): void => {
  rejections.push(reason);
};

beforeAll(async () => {
  process.on('unhandledRejection', recordRejection);
  upstream = await startRecordingUpstream({
    handler(req, res) {
      if (req.url?.startsWith('/public/hold') === true) {
        held.push(res);
        onHeld?.();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    },
  });
  gw = await startGateway({
    upstreams: { app: { targets: [upstream.url], retries: 0 } },
    routes: [{ id: 'public', match: { pathPrefix: '/public' }, upstream: 'app', auth: 'none' }],
  });
});

afterAll(async () => {
  process.off('unhandledRejection', recordRejection);
  for (const res of held) res.destroy();
  await gw.close();
  await upstream.close();
});

/** Sends a request, waits until the upstream holds it, then leaves as `leave` says. */
async function abandon(path: string, leave: 'reset' | 'half-close'): Promise<void> {
  const reached = new Promise<void>((resolve) => {
    onHeld = resolve;
  });
  const socket = connect({ port: gw.port, host: '127.0.0.1', allowHalfOpen: true });
  socket.on('error', () => undefined);
  socket.write(`GET ${path} HTTP/1.1\r\n${HOST}\r\n`);
  await reached;
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  if (leave === 'reset') socket.resetAndDestroy();
  else socket.end();
  await closed;
  // The gateway notices, aborts its upstream call; the held upstream answer then goes nowhere.
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (gw.logs.some((line) => line['log'] === 'access' && line['path'] === path)) resolve();
      else setImmediate(check);
    };
    check();
  });
}

describe('a client that leaves mid-request costs nothing', () => {
  it.each(['reset', 'half-close'] as const)(
    '%s while the upstream works: logged as 499, gateway unharmed',
    async (leave) => {
      const path = `/public/hold-${leave}`;
      await abandon(path, leave);
      const line = gw.logs.find((entry) => entry['log'] === 'access' && entry['path'] === path);
      expect(line).toMatchObject({ status: 499, aborted: true });
      const { received } = await expectForwarded(
        { port: gw.port, upstream },
        `GET /public/after-${leave} HTTP/1.1\r\n${HOST}\r\n`,
      );
      expect(received.url).toBe(`/public/after-${leave}`);
      expect(rejections, 'unhandled rejections in the gateway').toEqual([]);
    },
  );
});
