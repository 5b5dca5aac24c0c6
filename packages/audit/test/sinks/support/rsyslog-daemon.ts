import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, probeTcp, rsyslogdPath } from '@gatehouse/testing';

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

/** The dev CA and the server certificate rsyslog presents, as files. */
export interface RsyslogPki {
  readonly caFile: string;
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
}

/** The three listeners, each named after its `input` (`inputname`) and bound to 127.0.0.1. */
export interface RsyslogPorts {
  /** No TLS. */
  readonly plainPort: number;
  /** TLS, server authentication only (no client certificate asked). */
  readonly tlsPort: number;
  /** TLS requiring a client certificate from the dev CA. */
  readonly mtlsPort: number;
}

export interface Rsyslog extends RsyslogPorts {
  start(): Promise<void>;
  /** SIGTERM, as an operator's restart: rsyslog finishes what it has and exits. */
  stop(): Promise<void>;
  /** SIGKILL: a crash, no goodbye; nothing rsyslog holds only in memory survives. */
  kill(): Promise<void>;
  received(): ReceivedSyslog[];
  /** Lines written so far, counted without parsing (cheap enough to poll). */
  receivedCount(): number;
}

export interface RsyslogDaemonOptions {
  /** Names the daemon's files in `dir` (configuration, pid, output, internal log). */
  readonly name: string;
  /** The `global`, `module` and `input` lines; every input uses the ruleset `sinks`. */
  readonly listen: (ports: RsyslogPorts) => string[];
  /** Parameters of the `sinks` ruleset, such as its queue. */
  readonly ruleset?: string;
  /** The Debian packages that provide the inputs, named when they do not come up. */
  readonly packages: string;
}

/** The RFC 5424 properties written after `input` and `timereported`. */
const PROPERTIES = [
  'pri',
  'hostname',
  'app-name',
  'procid',
  'msgid',
  'structured-data',
  'protocol-version',
  'msg',
];

/**
 * A real rsyslogd (Debian) in the foreground with its own configuration in `dir`: the inputs
 * `options.listen` gives, every message they receive written as one JSON line of its parsed
 * RFC 5424 properties.
 */
export async function createRsyslogDaemon(dir: string, options: RsyslogDaemonOptions): Promise<Rsyslog> {
  const ports: RsyslogPorts = {
    plainPort: await freePort(),
    tlsPort: await freePort(),
    mtlsPort: await freePort(),
  };
  const output = join(dir, `${options.name}-received.jsonl`);
  const internal = join(dir, `${options.name}-internal.log`);
  const conf = join(dir, `${options.name}.conf`);
  const pidFile = join(dir, `${options.name}.pid`);
  writeFileSync(
    conf,
    [
      ...options.listen(ports),
      'template(name="parsed" type="list") {',
      '  constant(value="{")',
      '  property(name="inputname" outname="input" format="jsonf")',
      '  constant(value=",")',
      '  property(name="timereported" dateFormat="rfc3339" format="jsonf")',
      ...PROPERTIES.flatMap((name) => ['  constant(value=",")', `  property(name="${name}" format="jsonf")`]),
      '  constant(value="}\\n")',
      '}',
      `ruleset(name="sinks"${options.ruleset === undefined ? '' : ` ${options.ruleset}`}) {`,
      `  action(type="omfile" file="${output}" template="parsed")`,
      '}',
      `*.* action(type="omfile" file="${internal}")`,
      '',
    ].join('\n'),
  );

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  async function end(signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
    child?.kill(signal);
    await exited;
    child = undefined;
    rmSync(pidFile, { force: true });
  }

  return {
    ...ports,
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
          [ports.plainPort, ports.tlsPort, ports.mtlsPort].map((port) => probeTcp('127.0.0.1', port, 200)),
        );
        if (up.every(Boolean)) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      daemon.kill('SIGKILL');
      const internalLog = existsSync(internal) ? readFileSync(internal, 'utf8') : '';
      throw new Error(
        `rsyslogd (${options.name}) did not open its listeners (exit ${String(exitCode)}); is ${options.packages} installed?\n${log}\n${internalLog}`,
      );
    },
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    received() {
      if (!existsSync(output)) return [];
      const lines = readFileSync(output, 'utf8').split('\n');
      lines.pop(); // '' after the last newline, or a line still being written or cut by a SIGKILL
      return lines.map((line) => JSON.parse(line) as ReceivedSyslog);
    },
    receivedCount() {
      if (!existsSync(output)) return 0;
      const bytes = readFileSync(output);
      let count = 0;
      for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) count += 1;
      return count;
    },
  };
}
