import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { Agent, request, type Server } from 'node:https';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  closeServer,
  createTlsFixture,
  httpsGet,
  startHttpsServer,
  tlsSocketOf,
  type TlsFixture,
} from '../../test/support/tls-fixture.js';
import { createLogger } from '../log/create-logger.js';
import { createDevCa } from '../pki/create-dev-ca.js';
import type { CertificateAndKey } from '../pki/dev-ca.js';
import { describeCertificate, type CertificateInfo } from './describe-certificate.js';
import { loadTlsServerOptions } from './load-tls-server-options.js';
import { tlsListenerSchema, type TlsListenerConfig } from './tls-listener-schema.js';
import { watchTlsFiles, type TlsReloader } from './watch-tls-files.js';

const DAY_MS = 86_400_000;

/** A logger whose records are kept, to wait for what the watcher reports. */
function recordingLogger(): { logger: ReturnType<typeof createLogger>; messages: () => string[] } {
  const records: { msg: string }[] = [];
  const logger = createLogger({
    component: 'test',
    destination: {
      write(line: string) {
        records.push(JSON.parse(line) as { msg: string });
      },
    },
  });
  return { logger, messages: () => records.map((record) => record.msg) };
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const fingerprintOf = (cert: CertificateAndKey): string => describeCertificate(cert.certPem).fingerprint256;

describe('watchTlsFiles', () => {
  let fixture: TlsFixture;
  let config: TlsListenerConfig;
  let server: Server;
  let url: string;
  let reloader: TlsReloader | undefined;
  const trust = () => ({ ca: fixture.ca.certPem });

  beforeEach(async () => {
    fixture = await createTlsFixture();
    config = tlsListenerSchema.parse({ certFile: 'server.pem', keyFile: 'server-key.pem' });
    ({ server, url } = await startHttpsServer(loadTlsServerOptions(config, fixture.dir)));
  });

  afterEach(async () => {
    reloader?.close();
    reloader = undefined;
    await closeServer(server);
    fixture.remove();
  });

  /** A new `localhost` certificate, written as a renewal tool would: key first, then certificate. */
  async function renew(): Promise<CertificateAndKey> {
    const next = await fixture.ca.issue({ commonName: 'localhost', dns: ['localhost'], usage: 'server' });
    fixture.write('server-key.pem', next.keyPem);
    fixture.write('server.pem', next.certPem);
    return next;
  }

  it('swaps the certificate under load with zero failed requests; new handshakes see the new one', async () => {
    const reloaded: CertificateInfo[] = [];
    reloader = watchTlsFiles(server, config, fixture.dir, {
      debounceMs: 50,
      onReload: (info) => reloaded.push(info),
    });
    const before = fingerprintOf(fixture.server);
    // A keep-alive connection opened before the swap is never dropped by it.
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const seenSockets = new WeakMap<TLSSocket, string>();
    const viaKeepAlive = () =>
      new Promise<{ fingerprint: string; reused: boolean }>((resolve, reject) => {
        const req = request(url, { agent: keepAlive, servername: 'localhost', ...trust() }, (res) => {
          const socket = tlsSocketOf(res.socket);
          // Node 20 hands the peer certificate out once per socket: keep it per socket.
          const fingerprint =
            seenSockets.get(socket) ??
            describeCertificate(socket.getPeerX509Certificate()!.toString()).fingerprint256;
          seenSockets.set(socket, fingerprint);
          res.resume();
          res.on('end', () => resolve({ fingerprint, reused: req.reusedSocket }));
        });
        req.on('error', reject).end();
      });
    expect(await viaKeepAlive()).toEqual({ fingerprint: before, reused: false });

    let stop = false;
    let failures = 0;
    const seen: string[] = [];
    const worker = async (): Promise<void> => {
      while (!stop) {
        try {
          const answer = await httpsGet(url, trust());
          if (answer.status !== 200) failures += 1;
          seen.push(answer.fingerprint256);
        } catch {
          failures += 1;
        }
      }
    };
    const workers = Array.from({ length: 4 }, () => worker());
    let after = '';
    try {
      await until(() => seen.length >= 20);
      const next = await renew();
      after = fingerprintOf(next);
      await until(() => seen.slice(-4).every((fingerprint) => fingerprint === after));
      const afterSwap = seen.length;
      await until(() => seen.length >= afterSwap + 20);
      expect((reloader.current().cert as Buffer).toString()).toBe(next.certPem);
    } finally {
      stop = true;
      await Promise.all(workers);
    }

    expect(failures).toBe(0);
    expect(seen).toContain(before);
    // Once the new certificate is served, every new handshake gets it.
    expect(seen.slice(seen.indexOf(after)).every((fingerprint) => fingerprint === after)).toBe(true);
    expect(reloaded.map((info) => info.fingerprint256)).toEqual([before, after]);
    // The connection from before the swap is still open and still on its handshake.
    expect(await viaKeepAlive()).toEqual({ fingerprint: before, reused: true });
    keepAlive.destroy();
  });

  it('keeps the previous certificate when a new file is broken, and takes the next good one', async () => {
    const { logger, messages } = recordingLogger();
    reloader = watchTlsFiles(server, config, fixture.dir, { debounceMs: 20, logger });
    const before = fingerprintOf(fixture.server);
    fixture.write('server.pem', 'half a certificate');
    await until(() => messages().includes('TLS reload refused: the previous certificate stays in force'));
    expect((await httpsGet(url, trust())).fingerprint256).toBe(before);
    // A key that does not match the certificate (a tool that writes the key first) is refused too.
    const other = await fixture.ca.issue({ commonName: 'localhost', dns: ['localhost'], usage: 'server' });
    fixture.write('server.pem', fixture.server.certPem);
    fixture.write('server-key.pem', other.keyPem);
    await until(() => messages().filter((m) => m.startsWith('TLS reload refused')).length >= 2);
    expect((await httpsGet(url, trust())).fingerprint256).toBe(before);
    fixture.write('server.pem', other.certPem);
    await until(async () => (await httpsGet(url, trust())).fingerprint256 === fingerprintOf(other));
  });

  it('refuses a file that disappears, and reloads once it is back', async () => {
    const { logger, messages } = recordingLogger();
    reloader = watchTlsFiles(server, config, fixture.dir, { debounceMs: 20, logger });
    rmSync(join(fixture.dir, 'server-key.pem'));
    await until(() => messages().includes('TLS reload refused: the previous certificate stays in force'));
    const next = await renew();
    await until(async () => (await httpsGet(url, trust())).fingerprint256 === fingerprintOf(next));
  });

  it('ignores events that change nothing (another file in the folder, the same bytes again)', async () => {
    let reloads = 0;
    reloader = watchTlsFiles(server, config, fixture.dir, { debounceMs: 20, onReload: () => (reloads += 1) });
    expect(reloads).toBe(1);
    fixture.write('unrelated.pem', 'x');
    fixture.write('server.pem', fixture.server.certPem);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(reloads).toBe(1);
  });

  it('reloads on demand (SIGHUP) without watching, and reports a refusal as false', async () => {
    const { logger, messages } = recordingLogger();
    const reloaded: string[] = [];
    reloader = watchTlsFiles(server, config, fixture.dir, {
      watch: false,
      logger,
      onReload: (info) => reloaded.push(info.fingerprint256),
    });
    const next = await renew();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await httpsGet(url, trust())).fingerprint256).toBe(fingerprintOf(fixture.server));
    expect(await reloader.reload()).toBe(true);
    expect((await httpsGet(url, trust())).fingerprint256).toBe(fingerprintOf(next));
    fixture.write('server-key.pem', 'garbage');
    expect(await reloader.reload()).toBe(false);
    expect((reloader.current().key as Buffer).toString()).toBe(next.keyPem);
    expect((await httpsGet(url, trust())).fingerprint256).toBe(fingerprintOf(next));
    expect(reloaded).toEqual([fingerprintOf(fixture.server), fingerprintOf(next)]);
    expect(messages()).toContain('TLS certificate loaded');
  });

  it('runs concurrent reloads one after the other', async () => {
    reloader = watchTlsFiles(server, config, fixture.dir, { watch: false });
    await renew();
    expect(await Promise.all([reloader.reload(), reloader.reload(), reloader.reload()])).toEqual([
      true,
      true,
      true,
    ]);
  });

  it('stops watching on close', async () => {
    let reloads = 0;
    reloader = watchTlsFiles(server, config, fixture.dir, { debounceMs: 20, onReload: () => (reloads += 1) });
    reloader.close();
    await renew();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(reloads).toBe(1);
    expect((await httpsGet(url, trust())).fingerprint256).toBe(fingerprintOf(fixture.server));
  });

  it('watches the folder of a CA file too, and reloads a new CA', async () => {
    const withCa = tlsListenerSchema.parse({
      certFile: 'server.pem',
      keyFile: join(fixture.dir, 'server-key.pem'),
      caFile: 'trust/ca.pem',
      clientAuth: 'require',
    });
    mkdirSync(join(fixture.dir, 'trust'));
    copyFileSync(join(fixture.dir, 'ca.pem'), join(fixture.dir, 'trust', 'ca.pem'));
    const reloads: string[] = [];
    reloader = watchTlsFiles(server, withCa, fixture.dir, {
      debounceMs: 20,
      onReload: (i) => reloads.push(i.subject),
    });
    const other = await createDevCa();
    fixture.write('trust/ca.pem', other.certPem);
    await until(() => reloads.length === 2);
    expect((reloader.current().ca as Buffer).toString()).toBe(other.certPem);
  });

  it('logs an expired certificate loudly', async () => {
    const { logger, messages } = recordingLogger();
    const old = await fixture.ca.issue({
      commonName: 'localhost',
      dns: ['localhost'],
      usage: 'server',
      notBefore: new Date(Date.now() - 3 * DAY_MS),
      notAfter: new Date(Date.now() - DAY_MS),
    });
    fixture.write('server.pem', old.certPem);
    fixture.write('server-key.pem', old.keyPem);
    reloader = watchTlsFiles(server, config, fixture.dir, { watch: false, logger });
    expect(messages()).toContain('TLS certificate has expired');
  });

  it('throws ERR_CONFIG_INVALID when the files are unusable at start', () => {
    expect(() => watchTlsFiles(server, { ...config, keyFile: 'missing.pem' }, fixture.dir)).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });
});
