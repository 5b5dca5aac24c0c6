import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkService, probeTcp, requireService, serviceUrl } from './services.js';

let server: Server;
let openPort: number;
let closedPort: number;

async function listen(): Promise<Server> {
  const s = createServer((socket) => socket.end());
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  return s;
}

beforeAll(async () => {
  server = await listen();
  openPort = (server.address() as { port: number }).port;
  const closed = await listen();
  closedPort = (closed.address() as { port: number }).port;
  await new Promise((resolve) => closed.close(resolve));
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('service detection', () => {
  it('probes a TCP port', async () => {
    expect(await probeTcp('127.0.0.1', openPort)).toBe(true);
    expect(await probeTcp('127.0.0.1', closedPort)).toBe(false);
  });

  it('reads DATABASE_URL and REDIS_URL, with local defaults', () => {
    expect(serviceUrl('postgres', {})).toBe('postgres://postgres@127.0.0.1:5432/test');
    expect(serviceUrl('redis', { REDIS_URL: 'redis://10.0.0.1:6380' })).toBe('redis://10.0.0.1:6380');
  });

  it('reports a reachable service and an unreachable one with its reason', async () => {
    expect(await checkService('redis', { REDIS_URL: `redis://127.0.0.1:${openPort}` })).toEqual({
      available: true,
    });
    expect(
      await checkService('postgres', { DATABASE_URL: `postgres://u@127.0.0.1:${closedPort}/db` }),
    ).toEqual({
      available: false,
      reason: `postgres not reachable at 127.0.0.1:${closedPort}`,
    });
    expect(await checkService('chromium', { CHROMIUM_PATH: '/nonexistent/chromium' })).toMatchObject({
      available: false,
      reason: expect.stringContaining('/nonexistent/chromium') as string,
    });
    expect(await checkService('rsyslog', { RSYSLOGD_PATH: '/nonexistent/rsyslogd' })).toMatchObject({
      available: false,
      reason: expect.stringContaining('rsyslog-openssl') as string,
    });
    expect(await checkService('rsyslog-relp', { RSYSLOGD_PATH: '/nonexistent/rsyslogd' })).toMatchObject({
      available: false,
      reason: expect.stringContaining('rsyslog-relp') as string,
    });
    expect(await checkService('nginx', { NGINX_PATH: '/nonexistent/nginx' })).toMatchObject({
      available: false,
      reason: expect.stringContaining('apt-get install -y --no-install-recommends nginx') as string,
    });
  });
});

describe('requireService', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-skip-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('lets a suite skip with a reason written to the skip log', async () => {
    const log = join(dir, 'skips.log');
    const env = { REDIS_URL: `redis://127.0.0.1:${closedPort}`, GATEHOUSE_SKIP_LOG: log };
    const status = await requireService('redis', 'example suite (testing the skip mechanism)', env);
    expect(status.available).toBe(false);
    expect(readFileSync(log, 'utf8')).toBe(
      `example suite (testing the skip mechanism): skipped, redis not reachable at 127.0.0.1:${closedPort}\n`,
    );
  });

  it('fails instead when GATEHOUSE_REQUIRE_ALL=1', async () => {
    const env = { REDIS_URL: `redis://127.0.0.1:${closedPort}`, GATEHOUSE_REQUIRE_ALL: '1' };
    await expect(requireService('redis', 'example suite (testing the skip mechanism)', env)).rejects.toThrow(
      /GATEHOUSE_REQUIRE_ALL=1 forbids skipping/,
    );
  });

  it('passes through when the service is there', async () => {
    const env = { REDIS_URL: `redis://127.0.0.1:${openPort}`, GATEHOUSE_REQUIRE_ALL: '1' };
    expect(await requireService('redis', 'example suite (testing the skip mechanism)', env)).toEqual({
      available: true,
    });
  });
});
