import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { reservePort } from '@gatehouse/testing';
import { createUserStore } from '@gatehouse/auth-server';
import {
  createDevCa,
  createLogger,
  hashToken,
  migrateToLatest,
  openSqlDatabase,
  type AuditEvent,
} from '@gatehouse/core';
import { Agent } from 'undici';
import {
  API,
  TestClock,
  startAuthServer,
  type TestAuthServer,
  type TestClient,
  type TestClientInput,
} from '../../../gateway/test/support/auth-server.js';
import {
  BFF_MIGRATIONS,
  buildBffConfig,
  createBff,
  createSqlSessionStore,
  type Bff,
  type BffConfigInput,
  type BffSession,
  type SessionStore,
} from '../../src/index.js';
import type { BffDatabase } from '../../src/sessions/migrations.js';
import { passOpLogin, type Browser, type Page } from './browser.js';
import { startRecordingUpstream, type RecordingUpstream } from './recording-upstream.js';

export { API };

/** The BFF's clock: wall time plus a hand-moved offset (openid-client reads the wall clock). */
export class OffsetClock {
  offsetMs = 0;
  readonly now = (): number => Date.now() + this.offsetMs;
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }
}

export interface TestUser {
  readonly username: string;
  readonly password: string;
  readonly sub: string;
}

export interface BffStack {
  /** Where the BFF listens (what the tests call). */
  readonly url: string;
  /** The BFF's public URL (`url` unless a stack is built with another, e.g. https). */
  readonly publicUrl: string;
  readonly as: TestAuthServer;
  readonly upstream: RecordingUpstream;
  readonly bff: Bff;
  readonly client: TestClient;
  readonly clock: OffsetClock;
  /** The store the BFF uses (the same SQLite database), for assertions on stored rows. */
  readonly store: SessionStore;
  readonly audit: AuditEvent[];
  readonly alice: TestUser;
  readonly bob: TestUser;
  /** With `tls`: the dev CA (PEM) and a dispatcher that trusts it, for `new Browser({ dispatcher })`. */
  readonly tls: { readonly caPem: string; readonly dispatcher: Agent; readonly dir: string } | undefined;
  /** The whole login through the real OP login form; resolves the BFF's final redirect. */
  login(browser: Browser, user?: TestUser, returnTo?: string): Promise<Page>;
  /** The server-side session behind the browser's cookie. */
  sessionOf(browser: Browser): Promise<BffSession | undefined>;
  close(): Promise<void>;
}

export interface BffStackOptions {
  readonly bff?: Partial<BffConfigInput>;
  readonly client?: TestClientInput;
  readonly pushed?: 'auto' | 'always';
  /** A public URL other than the listening one (e.g. https://bff.example for Secure cookies). */
  readonly publicUrl?: string;
  /** The BFF listens over HTTPS itself (`listen.tls`, a dev CA certificate for 127.0.0.1). */
  readonly tls?: boolean;
}

export const SESSION_COOKIE = 'bff_session';
export const LOGIN_COOKIE = 'bff_login';

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

/** A real OP (auth server), a recording "gateway" and the BFF, all on 127.0.0.1 port 0. */
export async function startBffStack(options: BffStackOptions = {}): Promise<BffStack> {
  const as = await startAuthServer({
    clock: new TestClock(Date.now()),
    config: { login: { delayStepMs: 0 } },
  });
  const upstream = await startRecordingUpstream();
  const reserved = await reservePort();
  const port = reserved.port;
  const url = `${options.tls === true ? 'https' : 'http'}://127.0.0.1:${port}`;
  const publicUrl = options.publicUrl ?? url;
  let tls: BffStack['tls'];
  if (options.tls === true) {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bff-tls-'));
    const ca = await createDevCa();
    const cert = await ca.issue({
      commonName: 'bff',
      dns: ['localhost'],
      ip: ['127.0.0.1'],
      usage: 'server',
    });
    writeFileSync(join(dir, 'bff.pem'), cert.certPem);
    writeFileSync(join(dir, 'bff-key.pem'), cert.keyPem);
    tls = { caPem: ca.certPem, dispatcher: new Agent({ connect: { ca: ca.certPem } }), dir };
  }
  const client = await as.createClient({
    grantTypes: ['authorization_code', 'refresh_token'],
    redirectUris: [`${publicUrl}/auth/callback`],
    postLogoutRedirectUris: [`${publicUrl}/`],
    backchannelLogoutUri: `${url}/auth/backchannel-logout`,
    scopes: ['openid', 'profile', 'accounts:read'],
    resources: [API],
    firstParty: true,
    ...options.client,
  });
  const users = createUserStore(as.server.services.deps);
  const addUser = async (username: string): Promise<TestUser> => {
    const password = randomBytes(12).toString('base64url');
    const user = await users.create({ username, password, name: `${username} Example` });
    return { username, password, sub: user.sub };
  };
  const alice = await addUser('alice');
  const bob = await addUser('bob');

  const sql = openSqlDatabase<BffDatabase>({ sqliteFile: ':memory:' });
  await migrateToLatest(sql.db as never, 'bff', BFF_MIGRATIONS);
  const store = createSqlSessionStore({
    db: sql.db,
    encryptionKey: randomBytes(32),
    onClose: () => sql.close(),
  });
  const clock = new OffsetClock();
  const audit: AuditEvent[] = [];
  const config = buildBffConfig({
    publicUrl,
    listen: {
      host: '127.0.0.1',
      port,
      ...(tls === undefined ? {} : { tls: { certFile: 'bff.pem', keyFile: 'bff-key.pem' } }),
    },
    oidc: {
      issuer: as.issuer,
      clientId: client.clientId,
      clientSecret: client.clientSecret,
      scopes: ['openid', 'profile', 'accounts:read'],
      resource: API,
      pushedAuthorizationRequests: options.pushed ?? 'auto',
    },
    gateway: { url: upstream.url },
    allowedOrigins: ['https://app.example'],
    ...options.bff,
  });
  const bff = await createBff({
    config,
    now: clock.now,
    sessionStore: store,
    logger: quiet(),
    audit: (event) => {
      audit.push(event);
    },
    ...(tls === undefined ? {} : { baseDir: tls.dir }),
  });
  await reserved.release();
  await bff.listen();

  // With another public URL the cookie names carry `__Host-` (https).
  const cookieName = (name: string): string => (publicUrl.startsWith('https:') ? `__Host-${name}` : name);

  async function login(browser: Browser, user: TestUser = alice, returnTo = '/'): Promise<Page> {
    const started = await browser.get(`${url}/auth/login?returnTo=${encodeURIComponent(returnTo)}`);
    const page = await passOpLogin(browser, started, { issuer: as.issuer, ...user });
    if (page.location?.startsWith(`${publicUrl}/auth/callback`) !== true) {
      throw new Error(`the OP did not come back to the BFF (status ${page.status})`);
    }
    return browser.get(`${url}${page.location.slice(publicUrl.length)}`);
  }

  return {
    url,
    publicUrl,
    as,
    upstream,
    bff,
    client,
    clock,
    store,
    audit,
    alice,
    bob,
    tls,
    login,
    async sessionOf(browser) {
      const value = browser.cookie(cookieName(SESSION_COOKIE))?.value;
      return value === undefined ? undefined : store.get(hashToken(value));
    },
    async close() {
      await bff.close();
      await upstream.close();
      await as.close();
      if (tls !== undefined) {
        await tls.dispatcher.close();
        rmSync(tls.dir, { recursive: true, force: true });
      }
    },
  };
}

/** Headers of a legitimate state-changing call from the BFF's own page. */
export const sameOriginHeaders = (stack: { publicUrl: string }): Record<string, string> => ({
  origin: stack.publicUrl,
  'x-csrf': '1',
});
