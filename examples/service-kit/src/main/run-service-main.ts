import { parseArgs } from 'node:util';
import { createLogger, type Logger } from '@gatehouse/core';
import { loadServiceConfig, type LoadedServiceConfig } from '../config/load-service-config.js';
import type { ResourceService } from '../service/create-resource-service.js';

export interface RunServiceMainOptions {
  /** Component name: logs, usage line. */
  readonly name: string;
  /** Environment variable naming the config file when `--config` is absent, e.g. `GATEHOUSE_ORDERS_CONFIG`. */
  readonly configEnv: string;
  create(options: Omit<LoadedServiceConfig, 'logLevel'> & { readonly logger: Logger }): ResourceService;
}

/**
 * The entry point of a demo service: `--config FILE` (or the environment variable), listen, and
 * close on SIGINT/SIGTERM. Environment variables are read here only (style: entry points map them).
 */
export async function runServiceMain(options: RunServiceMainOptions): Promise<void> {
  const { name, configEnv } = options;
  const { values } = parseArgs({ options: { config: { type: 'string' } } });
  const file = values.config ?? process.env[configEnv];
  if (file === undefined) {
    process.stderr.write(`usage: ${name} --config FILE (or ${configEnv}=FILE)\n`);
    process.exit(2);
  }

  const { logLevel, ...config } = loadServiceConfig(file);
  const logger = createLogger({ component: name, level: logLevel });
  const service = options.create({ ...config, logger });
  const url = await service.listen();
  logger.info({ url }, `${name} service listening`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    service.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
