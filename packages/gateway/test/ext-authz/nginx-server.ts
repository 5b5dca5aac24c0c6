import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CertificateAndKey } from '@gatehouse/core';
import { freePort, nginxPath, probeTcp } from '@gatehouse/testing';
import { expect } from 'vitest';
import { parseFirstResponse, type ParsedResponse } from '../attacks/attack-table.js';
import type { RecordedRequest, RecordingUpstream } from '../support/recording-upstream.js';

/** A configuration shipped in deploy/nginx/ (what operators install). */
export function shippedNginxConfig(name: string): string {
  return fileURLToPath(new URL(`../../../../deploy/nginx/${name}`, import.meta.url));
}

const TEMP_PATHS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'];

export interface RunningNginx {
  readonly port: number;
  /** The folder of its configuration, logs and temporary files (removed by `stop`). */
  readonly dir: string;
  stop(): Promise<void>;
}

/** HTTPS towards clients, as the template's `{{LISTEN}}` comment says ("add your ssl_* lines"). */
export interface ClientTls {
  readonly server: CertificateAndKey;
  /** `ssl_verify_client` (e.g. `optional_no_ca`: any client certificate, its key proven). */
  readonly verifyClient: string;
}

/**
 * nginx in the foreground (one process), running the site configuration `template` with its
 * `{{PLACEHOLDERS}}` filled in from `values` (`{{LISTEN}}` is a free loopback port, over TLS with
 * `clientTls`), in a folder of its own. `files` are written to that folder first; `{{DIR}}` in a
 * value stands for it.
 */
export async function startNginxSite(
  template: string,
  values: Readonly<Record<string, string>>,
  files: Readonly<Record<string, string>> = {},
  clientTls?: ClientTls,
): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-nginx-'));
  const port = await freePort();
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  let site = readFileSync(template, 'utf8');
  if (clientTls !== undefined) {
    writeFileSync(join(dir, 'edge.pem'), clientTls.server.certPem);
    writeFileSync(join(dir, 'edge-key.pem'), clientTls.server.keyPem);
    site = site.replace(
      'listen {{LISTEN}};',
      [
        `listen {{LISTEN}} ssl;`,
        `ssl_certificate ${join(dir, 'edge.pem')};`,
        `ssl_certificate_key ${join(dir, 'edge-key.pem')};`,
        `ssl_verify_client ${clientTls.verifyClient};`,
      ].join('\n    '),
    );
  }
  site = site.replaceAll('{{LISTEN}}', `127.0.0.1:${port}`);
  for (const [name, value] of Object.entries(values))
    site = site.replaceAll(`{{${name}}}`, value.replaceAll('{{DIR}}', dir));
  expect(site).not.toContain('{{');
  writeFileSync(join(dir, 'gatehouse.conf'), site);
  for (const temp of TEMP_PATHS) mkdirSync(join(dir, temp));
  // What Debian's /etc/nginx/nginx.conf puts around conf.d/, every path in the test's folder.
  writeFileSync(
    join(dir, 'nginx.conf'),
    [
      `pid ${join(dir, 'nginx.pid')};`,
      `error_log ${join(dir, 'error.log')} notice;`,
      'events { worker_connections 256; }',
      'http {',
      `  access_log ${join(dir, 'access.log')};`,
      ...TEMP_PATHS.map((temp) => `  ${temp}_temp_path ${join(dir, temp)};`),
      `  include ${join(dir, 'gatehouse.conf')};`,
      '}',
      '',
    ].join('\n'),
  );
  const child = spawn(
    nginxPath(),
    ['-p', `${dir}/`, '-c', join(dir, 'nginx.conf'), '-e', 'stderr', '-g', 'daemon off; master_process off;'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 10_000;
  while (!(await probeTcp('127.0.0.1', port, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not start: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { port, dir, stop };
}

export interface CallOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  /** The client's own loopback address (default 127.0.0.2). */
  readonly from?: string;
  /** Over TLS (nginx started with `clientTls`): the CA of its certificate, and the client's own. */
  readonly tls?: { readonly ca: string; readonly client?: CertificateAndKey };
}

export interface ClientResult {
  readonly response: ParsedResponse | undefined;
  /** The raw header section, for fields that must appear exactly once. */
  readonly head: string;
  /** What the service behind nginx received for this request. */
  readonly received: RecordedRequest[];
}

/** One request to nginx, written as raw bytes on a fresh connection. */
export async function callNginx(
  port: number,
  upstream: RecordingUpstream,
  target: string,
  options: CallOptions = {},
): Promise<ClientResult> {
  const before = upstream.requests.length;
  const fields = Object.entries(options.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  const length = options.body === undefined ? '' : `content-length: ${Buffer.byteLength(options.body)}\r\n`;
  const bytes =
    `${options.method ?? 'GET'} ${target} HTTP/1.1\r\nHost: api.example.test\r\n${fields}${length}` +
    `Connection: close\r\n\r\n${options.body ?? ''}`;
  const raw = await new Promise<string>((resolve, reject) => {
    const from = options.from ?? '127.0.0.2';
    const tls = options.tls;
    const plain = connect({ host: '127.0.0.1', port, localAddress: from });
    const socket =
      tls === undefined
        ? plain
        : tlsConnect({
            socket: plain,
            ca: tls.ca,
            servername: 'localhost',
            ...(tls.client === undefined ? {} : { cert: tls.client.certPem, key: tls.client.keyPem }),
          });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.write(Buffer.from(bytes, 'latin1'));
  });
  return {
    response: parseFirstResponse(raw),
    head: raw.slice(0, Math.max(0, raw.indexOf('\r\n\r\n'))),
    received: upstream.requests.slice(before),
  };
}
