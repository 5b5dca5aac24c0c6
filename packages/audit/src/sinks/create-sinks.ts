import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { GatehouseError } from '@gatehouse/core';
import type { RelpSinkConfig, SinkConfig, SyslogSinkConfig } from './config/sinks-schema.js';
import type { SyslogFormatOptions } from './format/format-syslog.js';
import { createFileSinkCursor } from './cursor/file-sink-cursor.js';
import { createSinkDelivery, type SinkDelivery } from './delivery/create-sink-delivery.js';
import { createFileTransport } from './transport/file-transport.js';
import { createRelpTransport } from './transport/relp-transport.js';
import { createStdoutTransport } from './transport/stdout-transport.js';
import { createSyslogTransport, type SyslogTlsOptions } from './transport/syslog-transport.js';
import { createWebhookTransport } from './transport/webhook-transport.js';
import type { AuditSource, SinkLogger, SinkTransport } from './types.js';

export interface CreateSinksOptions {
  readonly source: AuditSource;
  /** Folder of the cursor files, one `<id>.cursor` per sink (e.g. `<data-dir>/audit-sinks`). */
  readonly cursorDir: string;
  /** Folder that relative paths in the config are resolved against (the config file's folder). */
  readonly baseDir: string;
  readonly logger?: SinkLogger;
  /** Stream of the stdout sink (default `process.stdout`). */
  readonly stdout?: Writable;
}

/** RFC 5425 §4.1: the registered port of syslog over TLS. */
const SYSLOG_TLS_PORT = 6514;

async function readPem(baseDir: string, file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(resolve(baseDir, file));
  } catch (cause) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `${what}: cannot read ${file}`, cause });
  }
}

async function optionalPem(
  baseDir: string,
  file: string | undefined,
  what: string,
): Promise<Buffer | undefined> {
  return file === undefined ? undefined : readPem(baseDir, file, what);
}

function syslogFormat(config: SyslogSinkConfig | RelpSinkConfig): SyslogFormatOptions {
  return {
    facility: config.facility,
    sdId: config.sdId,
    ...(config.hostname === undefined ? {} : { hostname: config.hostname }),
  };
}

/** The TLS settings of a syslog or relp sink with their PEM files read; none for protocol tcp. */
async function readSyslogTls(
  config: SyslogSinkConfig | RelpSinkConfig,
  baseDir: string,
  where: string,
): Promise<SyslogTlsOptions | undefined> {
  const { tls } = config;
  if (config.protocol === 'tcp' || tls === undefined) return undefined;
  const cert = await optionalPem(baseDir, tls.certFile, `${where} tls.certFile`);
  const key = await optionalPem(baseDir, tls.keyFile, `${where} tls.keyFile`);
  return {
    ca: await readPem(baseDir, tls.caFile, `${where} tls.caFile`),
    ...(cert === undefined ? {} : { cert }),
    ...(key === undefined ? {} : { key }),
    ...(tls.servername === undefined ? {} : { servername: tls.servername }),
    minVersion: tls.minVersion,
  };
}

/** The transport of one configured sink; certificate files are read now, so a typo fails at start. */
export async function createSinkTransport(
  config: SinkConfig,
  options: Pick<CreateSinksOptions, 'baseDir' | 'stdout'>,
): Promise<SinkTransport> {
  const where = `sink ${config.id}`;
  switch (config.type) {
    case 'file':
      return createFileTransport({ path: resolve(options.baseDir, config.path) });
    case 'stdout':
      return createStdoutTransport(options.stdout === undefined ? {} : { stream: options.stdout });
    case 'syslog': {
      const tls = await readSyslogTls(config, options.baseDir, where);
      return createSyslogTransport({
        host: config.host,
        port: config.port ?? SYSLOG_TLS_PORT,
        format: syslogFormat(config),
        connectTimeoutMs: config.connectTimeoutMs,
        timeoutMs: config.timeoutMs,
        ...(tls === undefined ? {} : { tls }),
      });
    }
    case 'relp': {
      const tls = await readSyslogTls(config, options.baseDir, where);
      return createRelpTransport({
        host: config.host,
        port: config.port,
        format: syslogFormat(config),
        connectTimeoutMs: config.connectTimeoutMs,
        timeoutMs: config.timeoutMs,
        window: config.window,
        ...(tls === undefined ? {} : { tls }),
      });
    }
    case 'webhook': {
      const { tls } = config;
      const ca = await optionalPem(options.baseDir, tls?.caFile, `${where} tls.caFile`);
      const cert = await optionalPem(options.baseDir, tls?.certFile, `${where} tls.certFile`);
      const key = await optionalPem(options.baseDir, tls?.keyFile, `${where} tls.keyFile`);
      return createWebhookTransport({
        url: config.url,
        headers: config.headers,
        ...(config.bearerToken === undefined ? {} : { bearerToken: config.bearerToken }),
        tls: {
          ...(ca === undefined ? {} : { ca }),
          ...(cert === undefined ? {} : { cert }),
          ...(key === undefined ? {} : { key }),
        },
        timeoutMs: config.timeoutMs,
      });
    }
  }
}

/**
 * Creates and starts the configured sinks. Each keeps its cursor in `<cursorDir>/<id>.cursor`.
 * Call `wake()` on them after an append to cut the idle wait short (they poll otherwise).
 */
export async function createSinks(
  configs: readonly SinkConfig[],
  options: CreateSinksOptions,
): Promise<SinkDelivery[]> {
  const started: SinkDelivery[] = [];
  try {
    for (const config of configs) {
      const delivery = createSinkDelivery({
        id: config.id,
        source: options.source,
        cursor: createFileSinkCursor(join(options.cursorDir, `${config.id}.cursor`)),
        transport: await createSinkTransport(config, options),
        batch: config.batch,
        retry: config.retry,
        pollIntervalMs: config.pollIntervalMs,
        backlogAlertEvents: config.backlogAlertEvents,
        ...(options.logger === undefined ? {} : { logger: options.logger }),
      });
      started.push(delivery);
      await delivery.start();
    }
  } catch (err) {
    await Promise.all(started.map((delivery) => delivery.stop('abandon')));
    throw err;
  }
  return started;
}
