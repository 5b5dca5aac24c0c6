import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { GatehouseError } from '@gatehouse/core';
import { z } from 'zod';

/**
 * The JSON file `main.ts` reads (written by `gatehouse up`). Unknown keys are refused and every
 * violation is listed at once; relative paths are relative to the file.
 */
export const serviceConfigSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.int().min(0).max(65535),
  tls: z.strictObject({ certFile: z.string().min(1), keyFile: z.string().min(1), caFile: z.string().min(1) }),
  gatewayIdentity: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  issuer: z.url(),
  jwksUri: z.url(),
  audience: z.string().min(1).optional(),
  databaseFile: z.string().min(1),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ServiceConfig = z.infer<typeof serviceConfigSchema>;

/** What a service needs from its config file, PEM files read and paths resolved. */
export interface LoadedServiceConfig {
  readonly host: string;
  readonly port: number;
  readonly tls: { readonly cert: string; readonly key: string; readonly ca: string };
  readonly gatewayIdentity: string | readonly string[];
  readonly issuer: string;
  readonly jwksUri: string;
  readonly audience?: string;
  readonly databaseFile: string;
  readonly logLevel: ServiceConfig['logLevel'];
}

export function loadServiceConfig(file: string): LoadedServiceConfig {
  const base = dirname(resolve(file));
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `${file}: not readable JSON`, cause });
  }
  const parsed = serviceConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `${file}: ${problems.join('; ')}` });
  }
  const config = parsed.data;
  const read = (path: string): string => readFileSync(resolve(base, path), 'utf8');
  return {
    host: config.host,
    port: config.port,
    gatewayIdentity: config.gatewayIdentity,
    issuer: config.issuer,
    jwksUri: config.jwksUri,
    ...(config.audience === undefined ? {} : { audience: config.audience }),
    logLevel: config.logLevel,
    tls: { cert: read(config.tls.certFile), key: read(config.tls.keyFile), ca: read(config.tls.caFile) },
    databaseFile: config.databaseFile === ':memory:' ? ':memory:' : resolve(base, config.databaseFile),
  };
}
