import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { createUserStore } from '@gatehouse/auth-server';
import { createLogger } from '@gatehouse/core';
import { requireService, reservePort, serviceUrl } from '@gatehouse/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  API,
  TestClock,
  startAuthServer,
  type TestAuthServer,
} from '../../gateway/test/support/auth-server.js';
import { buildBffConfig, createBff, type Bff, type BffConfigInput } from '../src/index.js';
import { Browser, passOpLogin, type Page } from './support/browser.js';
import { SESSION_COOKIE } from './support/bff-stack.js';
import { startRecordingUpstream, type RecordingUpstream } from './support/recording-upstream.js';

const redis = await requireService('redis', 'bff sessions in Redis (createBff)');
const redisUrl = serviceUrl('redis');

const minimal: BffConfigInput = {
  publicUrl: 'https://bff.example',
  oidc: { issuer: 'https://id.example', clientId: 'bff', clientSecret: 's3cret' },
  gateway: { url: 'https://api.example' },
};
const encryptionKey = randomBytes(32).toString('base64url');

describe('session.redisUrl in the configuration', () => {
  it('accepts redis:// and rediss:// with an encryption key', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://user:pw@redis.internal:6380/2']) {
      const config = buildBffConfig({ ...minimal, session: { redisUrl: url, encryptionKey } });
      expect(config.session.redisUrl).toBe(url);
    }
  });

  it.each<[string, BffConfigInput['session'], string]>([
    ['without an encryption key', { redisUrl: 'redis://127.0.0.1:6379' }, 'session.encryptionKey'],
    ['an http URL', { redisUrl: 'http://127.0.0.1:6379', encryptionKey }, 'session.redisUrl'],
    ['not a URL', { redisUrl: '127.0.0.1:6379', encryptionKey }, 'session.redisUrl'],
    [
      'together with databaseUrl',
      { redisUrl: 'redis://127.0.0.1:6379', databaseUrl: 'postgres://db/bff', encryptionKey },
      'session.redisUrl',
    ],
  ])('refuses redisUrl %s', (_name, session, path) => {
    let issues: { path: PropertyKey[] }[] = [];
    try {
      buildBffConfig({ ...minimal, session });
    } catch (err) {
      issues = (err as { issues: { path: PropertyKey[] }[] }).issues;
    }
    expect(issues.map((issue) => issue.path.join('.'))).toEqual([path]);
  });
});

const quiet = () =>
  createLogger({
    component: 'bff',
    level: 'warn',
    destination: new Writable({
      write(_chunk: Buffer, _encoding, done) {
        done();
      },
    }),
  });

describe.skipIf(!redis.available)('two BFF instances on one Redis (session.redisUrl)', () => {
  let as: TestAuthServer;
  let upstream: RecordingUpstream;
  const bffs: { bff: Bff; url: string }[] = [];
  let user: { username: string; password: string; sub: string };

  beforeAll(async () => {
    as = await startAuthServer({ clock: new TestClock(Date.now()), config: { login: { delayStepMs: 0 } } });
    upstream = await startRecordingUpstream();
    const ports = [await reservePort(), await reservePort()];
    const urls = ports.map(({ port }) => `http://127.0.0.1:${port}`);
    const client = await as.createClient({
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: urls.map((url) => `${url}/auth/callback`),
      postLogoutRedirectUris: urls.map((url) => `${url}/`),
      scopes: ['openid', 'profile', 'accounts:read'],
      resources: [API],
      firstParty: true,
    });
    const password = randomBytes(12).toString('base64url');
    const created = await createUserStore(as.server.services.deps).create({
      username: 'carol',
      password,
      name: 'carol Example',
    });
    user = { username: 'carol', password, sub: created.sub };
    for (const [i, url] of urls.entries()) {
      const bff = await createBff({
        config: buildBffConfig({
          publicUrl: url,
          listen: { host: '127.0.0.1', port: ports[i]!.port },
          oidc: {
            issuer: as.issuer,
            clientId: client.clientId,
            clientSecret: client.clientSecret,
            scopes: ['openid', 'profile', 'accounts:read'],
            resource: API,
          },
          gateway: { url: upstream.url },
          session: { redisUrl, encryptionKey },
        }),
        logger: quiet(),
      });
      await ports[i]!.release();
      await bff.listen();
      bffs.push({ bff, url });
    }
  });

  afterAll(async () => {
    // Nothing of this run stays in Redis: any session left is ended.
    if (bffs[0] !== undefined) await bffs[0].bff.sessions.revoke({ sub: user.sub });
    for (const { bff } of bffs) await bff.close();
    await upstream.close();
    await as.close();
  });

  /** The login through instance `url` and the real OP login form. */
  async function login(browser: Browser, url: string): Promise<Page> {
    const started = await browser.get(`${url}/auth/login?returnTo=/`);
    const page = await passOpLogin(browser, started, { issuer: as.issuer, ...user });
    return browser.get(page.location!);
  }

  it('a session started on one instance is accepted, relayed and ended on the other', async () => {
    const [a, b] = [bffs[0]!, bffs[1]!];
    const browser = new Browser();
    const done = await login(browser, a.url);
    expect(done.status).toBe(303);
    const cookie = browser.cookie(SESSION_COOKIE)!.value;

    const info = await browser.get(`${b.url}/auth/session`);
    expect(JSON.parse(info.text)).toMatchObject({
      authenticated: true,
      sub: user.sub,
      name: 'carol Example',
    });
    await expect(b.bff.sessions.list(user.sub)).resolves.toHaveLength(1);

    // Instance b opens the tokens instance a sealed (same encryptionKey) and relays with them.
    const relayed = await browser.get(`${b.url}/api/accounts`);
    expect(relayed.status).toBe(200);
    expect(upstream.requests.at(-1)?.headers.authorization).toMatch(/^Bearer \S+$/);

    const out = await browser.request(`${b.url}/auth/logout`, {
      method: 'POST',
      headers: { origin: b.url, 'x-csrf': '1', accept: 'application/json' },
    });
    expect(out.status).toBe(200);
    const replay = new Browser();
    replay.setCookie(SESSION_COOKIE, cookie);
    expect(JSON.parse((await replay.get(`${a.url}/auth/session`)).text)).toEqual({ authenticated: false });
    await expect(a.bff.sessions.list(user.sub)).resolves.toEqual([]);
  });
});
