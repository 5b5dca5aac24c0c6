import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { probeTcp, rsyslogdPath } from '@gatehouse/testing';

/** What rsyslog parsed out of one received message (its RFC 5424 properties). */
export interface ReceivedSyslog {
  readonly input: 'plain' | 'tls' | 'mtls';
  readonly pri: string;
  readonly timereported: string;
  readonly hostname: string;
  readonly 'app-name': string;
  readonly procid: string;
  readonly msgid: string;
  readonly 'structured-data': string;
  readonly 'protocol-version': string;
  /** MSG with its BOM. */
  readonly msg: string;
}

export interface Rsyslog {
  readonly plainPort: number;
  /** TLS, server authentication only (`authMode anon`: no client certificate asked). */
  readonly tlsPort: number;
  /** TLS requiring a client certificate from the dev CA (`x509/certvalid`). */
  readonly mtlsPort: number;
  start(): Promise<void>;
  /** SIGTERM, as an operator's restart: rsyslog drains its queue to the file before it exits. */
  stop(): Promise<void>;
  received(): ReceivedSyslog[];
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A real rsyslogd (Debian) in the foreground with its own configuration in `dir`: three imtcp
 * listeners (plain TCP, TLS, TLS with client certificates) through the openssl netstream driver,
 * every received message written as one JSON line of its parsed RFC 5424 properties.
 */
export async function createRsyslog(
  dir: string,
  pki: { caFile: string; serverCertFile: string; serverKeyFile: string },
): Promise<Rsyslog> {
  const plainPort = await freePort();
  const tlsPort = await freePort();
  const mtlsPort = await freePort();
  const output = join(dir, 'received.jsonl');
  const internal = join(dir, 'rsyslogd-internal.log');
  const conf = join(dir, 'rsyslog.conf');
  const pidFile = join(dir, 'rsyslogd.pid');
  const properties = [
    'pri',
    'hostname',
    'app-name',
    'procid',
    'msgid',
    'structured-data',
    'protocol-version',
    'msg',
  ];
  writeFileSync(
    conf,
    [
      `global(workDirectory="${dir}" maxMessageSize="64k"`,
      `  defaultNetstreamDriverCAFile="${pki.caFile}"`,
      `  defaultNetstreamDriverCertFile="${pki.serverCertFile}"`,
      `  defaultNetstreamDriverKeyFile="${pki.serverKeyFile}")`,
      'module(load="imtcp")',
      `input(type="imtcp" name="plain" address="127.0.0.1" port="${plainPort}" ruleset="sinks"`,
      '  streamDriver.name="ptcp" streamDriver.mode="0")',
      `input(type="imtcp" name="tls" address="127.0.0.1" port="${tlsPort}" ruleset="sinks"`,
      '  streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")',
      `input(type="imtcp" name="mtls" address="127.0.0.1" port="${mtlsPort}" ruleset="sinks"`,
      '  streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")',
      'template(name="parsed" type="list") {',
      '  constant(value="{")',
      '  property(name="inputname" outname="input" format="jsonf")',
      '  constant(value=",")',
      '  property(name="timereported" dateFormat="rfc3339" format="jsonf")',
      ...properties.flatMap((name) => ['  constant(value=",")', `  property(name="${name}" format="jsonf")`]),
      '  constant(value="}\\n")',
      '}',
      'ruleset(name="sinks") {',
      `  action(type="omfile" file="${output}" template="parsed")`,
      '}',
      `*.* action(type="omfile" file="${internal}")`,
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  return {
    plainPort,
    tlsPort,
    mtlsPort,
    async start() {
      let log = '';
      let exitCode: number | null | undefined;
      const daemon = spawn(rsyslogdPath(), ['-n', '-f', conf, '-i', pidFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = daemon;
      daemon.stdout.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
      daemon.stderr.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
      exited = new Promise((resolve) => {
        daemon.once('exit', (code) => {
          exitCode = code;
          resolve();
        });
      });
      for (let attempt = 0; attempt < 200; attempt += 1) {
        if (exitCode !== undefined) break;
        const up = await Promise.all(
          [plainPort, tlsPort, mtlsPort].map((port) => probeTcp('127.0.0.1', port, 200)),
        );
        if (up.every(Boolean)) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      daemon.kill('SIGKILL');
      const internalLog = existsSync(internal) ? readFileSync(internal, 'utf8') : '';
      throw new Error(
        `rsyslogd did not open its listeners (exit ${String(exitCode)}); is rsyslog-openssl installed?\n${log}\n${internalLog}`,
      );
    },
    async stop() {
      child?.kill('SIGTERM');
      await exited;
      child = undefined;
    },
    received() {
      if (!existsSync(output)) return [];
      const lines = readFileSync(output, 'utf8').split('\n');
      lines.pop(); // '' after the last newline, or a line rsyslog is still writing
      return lines.map((line) => JSON.parse(line) as ReceivedSyslog);
    },
  };
}
