import { dirname, resolve } from 'node:path';
import { GatehouseError, loadConfigFile } from '@gatehouse/core';
import type { CliIo } from '../io.js';
import { deploymentConfigSchema, type DeploymentConfig } from './deployment-schema.js';

/** A loaded configuration with everything resolved: paths absolute, environment overrides applied. */
export interface Deployment {
  /** Absolute path of the configuration file. */
  readonly file: string;
  readonly config: DeploymentConfig;
  /** Absolute data folder (`--data-dir`, else `dataDir` relative to the file's folder). */
  readonly dataDir: string;
  /** PostgreSQL URL (DATABASE_URL, else `database.url`); undefined: SQLite in the data folder. */
  readonly databaseUrl: string | undefined;
  /** SQLite file when no PostgreSQL URL is set. */
  readonly sqliteFile: string;
  /** Redis URL (REDIS_URL, else `sharedState.url`); undefined: process memory. */
  readonly redisUrl: string | undefined;
  /** `sharedState.prefix`: the prefix of every Redis key and channel of this deployment. */
  readonly redisPrefix: string;
  /** Absolute key-encryption key file, when configured. */
  readonly kekFile: string | undefined;
  /** NODE_ENV=production: unsafe settings refuse to start instead of warning. */
  readonly production: boolean;
}

export const DEFAULT_CONFIG_FILE = 'gatehouse.yaml';

export interface LoadDeploymentOptions {
  readonly config?: string | undefined;
  readonly dataDir?: string | undefined;
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;

/**
 * Reads the deployment's configuration file (every problem reported at once) and applies the
 * environment: the only place the CLI reads DATABASE_URL, REDIS_URL and NODE_ENV.
 */
export async function loadDeployment(io: CliIo, options: LoadDeploymentOptions): Promise<Deployment> {
  const file = resolve(io.cwd, options.config ?? DEFAULT_CONFIG_FILE);
  const config = await loadConfigFile(file, deploymentConfigSchema, io.env);
  const folder = dirname(file);
  const databaseUrl = nonEmpty(io.env['DATABASE_URL']) ?? config.database.url;
  const redisUrl = nonEmpty(io.env['REDIS_URL']) ?? config.sharedState.url;
  const problems: string[] = [];
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl))
    problems.push('DATABASE_URL: a postgres:// or postgresql:// URL');
  if (redisUrl !== undefined && !/^rediss?:\/\//.test(redisUrl))
    problems.push('REDIS_URL: a redis:// or rediss:// URL');
  if (problems.length > 0) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `environment:\n  ${problems.join('\n  ')}` });
  }
  const dataDir =
    options.dataDir === undefined ? resolve(folder, config.dataDir) : resolve(io.cwd, options.dataDir);
  return {
    file,
    config,
    dataDir,
    databaseUrl,
    sqliteFile: resolve(dataDir, 'gatehouse.db'),
    redisUrl,
    redisPrefix: config.sharedState.prefix,
    kekFile: config.kekFile === undefined ? undefined : resolve(folder, config.kekFile),
    production: io.env['NODE_ENV'] === 'production',
  };
}

/** The source and the list of problems in the detail of core's ERR_CONFIG_INVALID. */
export function splitConfigProblems(detail: string): { source: string; problems: string[] } {
  const [first = '', ...rest] = detail.split('\n');
  if (rest.length > 0) return { source: first.replace(/:$/, ''), problems: rest.map((line) => line.trim()) };
  const at = first.indexOf(': ');
  return at === -1
    ? { source: '', problems: [first] }
    : { source: first.slice(0, at), problems: [first.slice(at + 2)] };
}
