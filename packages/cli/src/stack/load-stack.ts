import { dirname, resolve } from 'node:path';
import { loadConfigFile } from '@gatehouse/core';
import type { CliIo } from '../io.js';
import { CommandError, UsageError } from '../io.js';
import { PORT_ORDER, stackConfigSchema, type StackConfig, type StackPorts } from './stack-config-schema.js';

/** The default stack file, relative to the working directory (what `npm start` runs). */
export const DEFAULT_STACK_FILE = 'examples/demo/gatehouse.yaml';

export type ServiceName = keyof StackConfig['services'];
export const SERVICE_NAMES: readonly ServiceName[] = ['accounts', 'orders'];

/** A stack file with every path absolute and every URL worked out. */
export interface Stack {
  readonly file: string;
  readonly config: StackConfig;
  readonly dataDir: string;
  readonly host: string;
  readonly ports: StackPorts;
  readonly appDir: string;
  readonly openapiFile: string;
  readonly urls: {
    readonly issuer: string;
    readonly gateway: string;
    readonly bff: string;
    readonly admin: string;
    readonly authServerAdmin: string;
    readonly gatewayAdmin: string;
  };
  /** Absolute entry module of each service. */
  readonly serviceMains: Readonly<Record<ServiceName, string>>;
  /** `--tls`: every listener speaks HTTPS with a certificate of the development CA. */
  readonly tls: boolean;
}

export interface LoadStackOptions {
  readonly config?: string | undefined;
  readonly dataDir?: string | undefined;
  readonly portBase?: string | undefined;
  readonly tls?: boolean | undefined;
}

/** `--port-base N`: the stack's ports become N, N+1, … in `PORT_ORDER`. */
export function portsFrom(base: string | undefined, configured: StackPorts): StackPorts {
  if (base === undefined) return configured;
  const n = Number(base);
  if (!Number.isInteger(n) || n < 1024 || n + PORT_ORDER.length - 1 > 65_535) {
    throw new UsageError(`--port-base: an integer from 1024 to ${65_536 - PORT_ORDER.length}`);
  }
  return Object.fromEntries(PORT_ORDER.map((name, i) => [name, n + i])) as unknown as StackPorts;
}

/** Reads and checks the stack file (every problem at once) and resolves its paths. */
export async function loadStack(io: CliIo, options: LoadStackOptions): Promise<Stack> {
  const file = resolve(io.cwd, options.config ?? DEFAULT_STACK_FILE);
  const config = await loadConfigFile(file, stackConfigSchema, io.env);
  const folder = dirname(file);
  const ports = portsFrom(options.portBase, config.ports);
  const used = new Map<number, string>();
  for (const name of PORT_ORDER) {
    const other = used.get(ports[name]);
    if (other !== undefined)
      throw new CommandError(`${file}: ports.${name} and ports.${other} are both ${ports[name]}`);
    used.set(ports[name], name);
  }
  const host = config.host;
  const tls = options.tls === true;
  const url = (port: number): string => `${tls ? 'https' : 'http'}://${host}:${port}`;
  return {
    file,
    config,
    dataDir:
      options.dataDir === undefined ? resolve(folder, config.dataDir) : resolve(io.cwd, options.dataDir),
    host,
    ports,
    appDir: resolve(folder, config.app),
    openapiFile: resolve(folder, config.openapi),
    urls: {
      issuer: url(ports.authServer),
      gateway: url(ports.gateway),
      bff: url(ports.bff),
      admin: url(ports.admin),
      authServerAdmin: url(ports.authServerAdmin),
      gatewayAdmin: url(ports.gatewayAdmin),
    },
    serviceMains: {
      accounts: resolve(folder, config.services.accounts.main),
      orders: resolve(folder, config.services.orders.main),
    },
    tls,
  };
}
