import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** External things a suite may need; each has a default address on a developer machine. */
export type ServiceName =
  'postgres' | 'redis' | 'chromium' | 'promtool' | 'rsyslog' | 'rsyslog-relp' | 'alertmanager' | 'nginx';

export interface ServiceStatus {
  readonly available: boolean;
  /** Why the service is unavailable (printed when the suite skips). */
  readonly reason?: string;
}

const DEFAULT_URLS: Readonly<Record<'postgres' | 'redis', string>> = {
  postgres: 'postgres://postgres@127.0.0.1:5432/test',
  redis: 'redis://127.0.0.1:6379',
};

export function serviceUrl(name: 'postgres' | 'redis', env: NodeJS.ProcessEnv = process.env): string {
  return (name === 'postgres' ? env['DATABASE_URL'] : env['REDIS_URL']) ?? DEFAULT_URLS[name];
}

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Prometheus's rule and metrics checker (Debian package `prometheus`); PROMTOOL_PATH overrides it. */
export function promtoolPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['PROMTOOL_PATH'] ?? 'promtool';
}

/**
 * rsyslog's daemon (Debian packages `rsyslog` and `rsyslog-openssl`), started by the sink suites
 * with their own configuration; RSYSLOGD_PATH overrides it. Debian installs it in /usr/sbin.
 */
export function rsyslogdPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['RSYSLOGD_PATH'] ?? (existsSync('/usr/sbin/rsyslogd') ? '/usr/sbin/rsyslogd' : 'rsyslogd');
}

/** Prometheus Alertmanager (Debian package `prometheus-alertmanager`); ALERTMANAGER_PATH overrides it. */
export function alertmanagerPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['ALERTMANAGER_PATH'] ?? 'prometheus-alertmanager';
}

/**
 * nginx (Debian package `nginx`), started by the external-authorization suite as a foreground child
 * with its own configuration; NGINX_PATH overrides it. Debian installs it in /usr/sbin.
 */
export function nginxPath(env: NodeJS.ProcessEnv = process.env): string {
  return env['NGINX_PATH'] ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx');
}

/** Whether a TCP port accepts connections within `timeoutMs`. */
export function probeTcp(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function checkService(
  name: ServiceName,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServiceStatus> {
  if (name === 'chromium') {
    const path = env['CHROMIUM_PATH'] ?? CHROMIUM_PATH;
    return existsSync(path)
      ? { available: true }
      : { available: false, reason: `Chromium not found at ${path} (apt-get install -y chromium)` };
  }
  if (name === 'promtool') {
    const path = promtoolPath(env);
    return spawnSync(path, ['--version']).status === 0
      ? { available: true }
      : { available: false, reason: `${path} not found (apt-get install -y prometheus)` };
  }
  if (name === 'alertmanager') {
    const path = alertmanagerPath(env);
    return spawnSync(path, ['--version']).status === 0
      ? { available: true }
      : {
          available: false,
          reason: `${path} not found (apt-get install -y --no-install-recommends prometheus-alertmanager)`,
        };
  }
  if (name === 'rsyslog') {
    const path = rsyslogdPath(env);
    return spawnSync(path, ['-v']).status === 0
      ? { available: true }
      : {
          available: false,
          reason: `${path} not found (apt-get install -y --no-install-recommends rsyslog rsyslog-openssl)`,
        };
  }
  if (name === 'nginx') {
    const path = nginxPath(env);
    return spawnSync(path, ['-v']).status === 0
      ? { available: true }
      : { available: false, reason: `${path} not found (apt-get install -y --no-install-recommends nginx)` };
  }
  if (name === 'rsyslog-relp') {
    // rsyslogd's own config check loads the module: the one test that imrelp works here.
    const path = rsyslogdPath(env);
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-imrelp-check-'));
    const conf = join(dir, 'rsyslog.conf');
    writeFileSync(conf, 'module(load="imrelp")\n*.* action(type="omfile" file="/dev/null")\n');
    const status = spawnSync(path, ['-N1', '-f', conf]).status;
    rmSync(dir, { recursive: true, force: true });
    return status === 0
      ? { available: true }
      : {
          available: false,
          reason: `${path} cannot load imrelp (apt-get install -y --no-install-recommends rsyslog rsyslog-relp)`,
        };
  }
  const url = new URL(serviceUrl(name, env));
  const port = Number(url.port || (name === 'postgres' ? 5432 : 6379));
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return (await probeTcp(host, port))
    ? { available: true }
    : { available: false, reason: `${name} not reachable at ${host}:${port}` };
}

/**
 * For a suite that needs `name`: resolves whether to run it. When the service is missing the suite
 * skips with a printed reason, unless GATEHOUSE_REQUIRE_ALL=1 (CI), where a missing service is an
 * error: nothing may skip silently there.
 */
export async function requireService(
  name: ServiceName,
  suite: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServiceStatus> {
  const status = await checkService(name, env);
  if (status.available) return status;
  const message = `${suite}: skipped, ${status.reason ?? `${name} unavailable`}`;
  if (env['GATEHOUSE_REQUIRE_ALL'] === '1') {
    throw new Error(`${message}, and GATEHOUSE_REQUIRE_ALL=1 forbids skipping`);
  }
  const log = env['GATEHOUSE_SKIP_LOG'];
  if (log !== undefined) appendFileSync(log, `${message}\n`);
  process.stderr.write(`[gatehouse] ${message}\n`);
  return status;
}
