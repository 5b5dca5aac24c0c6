import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isGatehouseError } from '@gatehouse/core';
import { DEFAULT_CONFIG_FILE, loadDeployment, type Deployment } from '../config/load-deployment.js';
import type { CliIo } from '../io.js';
import { DEFAULT_STACK_FILE, loadStack } from '../stack/load-stack.js';

export interface LocateDeploymentOptions {
  readonly config?: string | undefined;
  readonly dataDir?: string | undefined;
}

/** The deployment to examine, or why it cannot be read (ERR_CONFIG_INVALID: every problem listed). */
export type LocatedDeployment =
  | { readonly deployment: Deployment; readonly stackFile?: string }
  | { readonly file: string; readonly problem: string };

/**
 * Which file doctor reads. `--config FILE` names a deployment file, or a stack file of
 * `gatehouse up` (recognised because it loads as one): then the deployment is the one
 * `gatehouse init` wrote into the stack's data dir. Without `--config`: `<DIR>/gatehouse.yaml`
 * when `--data-dir DIR` holds one (a data dir made by `init`), else `gatehouse.yaml` here, else
 * the demo stack file when there is one (as `init` and `certs` default to it).
 */
function configFile(io: CliIo, options: LocateDeploymentOptions): string {
  if (options.config !== undefined) return resolve(io.cwd, options.config);
  if (options.dataDir !== undefined) {
    const inDataDir = resolve(io.cwd, options.dataDir, DEFAULT_CONFIG_FILE);
    if (existsSync(inDataDir)) return inDataDir;
  }
  const here = resolve(io.cwd, DEFAULT_CONFIG_FILE);
  const demo = resolve(io.cwd, DEFAULT_STACK_FILE);
  return !existsSync(here) && existsSync(demo) ? demo : here;
}

export async function locateDeployment(
  io: CliIo,
  options: LocateDeploymentOptions,
): Promise<LocatedDeployment> {
  const file = configFile(io, options);
  try {
    return { deployment: await loadDeployment(io, { config: file, dataDir: options.dataDir }) };
  } catch (err) {
    if (!isGatehouseError(err) || err.code !== 'ERR_CONFIG_INVALID') throw err;
    const stack = await loadStack(io, { config: file, dataDir: options.dataDir }).catch(() => undefined);
    if (stack === undefined) return { file, problem: err.detail ?? err.message };
    const generated = join(stack.dataDir, DEFAULT_CONFIG_FILE);
    if (!existsSync(generated)) {
      return {
        file,
        problem:
          `${file} is a stack file and its data dir ${stack.dataDir} holds no deployment yet ` +
          `(gatehouse init --config ${file}${options.dataDir === undefined ? '' : ` --data-dir ${stack.dataDir}`} creates it)`,
      };
    }
    try {
      return {
        deployment: await loadDeployment(io, { config: generated, dataDir: stack.dataDir }),
        stackFile: file,
      };
    } catch (inner) {
      if (!isGatehouseError(inner) || inner.code !== 'ERR_CONFIG_INVALID') throw inner;
      return { file: generated, problem: inner.detail ?? inner.message };
    }
  }
}
