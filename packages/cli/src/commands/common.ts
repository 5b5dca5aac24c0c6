import { AdminRequestError, type AdminActor } from '@gatehouse/auth-server';
import type { Deployment } from '../config/load-deployment.js';
import { CommandError, type CliIo } from '../io.js';
import { openRuntime, type Runtime } from '../runtime/open-runtime.js';

/** Audit events of commands say they came from the command line. */
export const CLI_ACTOR: AdminActor = { via: 'cli' };

/**
 * Opens the deployment's stores for one command and closes them afterwards, audit log flushed.
 * A refused request (bad input, unknown id) becomes a CommandError with the operator's detail.
 */
export async function withRuntime<T>(
  io: CliIo,
  deployment: Deployment,
  fn: (runtime: Runtime) => Promise<T>,
): Promise<T> {
  const runtime = await openRuntime(io, deployment, { logTo: 'stderr', minimumLevel: 'warn' });
  try {
    return await fn(runtime);
  } catch (err) {
    if (err instanceof AdminRequestError) {
      throw new CommandError([err.detail, ...err.errors.map((problem) => `  ${problem}`)].join('\n'));
    }
    throw err;
  } finally {
    await runtime.close();
  }
}
