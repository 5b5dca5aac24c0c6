import { migrateGateway, type createBanList } from '@gatehouse/gateway';
import type { Kysely } from 'kysely';
import { loadDeployment } from '../config/load-deployment.js';
import type { CliIo } from '../io.js';
import { withRuntime } from './common.js';

/** What the gateway's table-backed lists (bans, reroutes) are built from. */
export type GatewayTables = Pick<Parameters<typeof createBanList>[0], 'db' | 'state' | 'logger' | 'audit'>;

/** The options that name a deployment (`DEPLOYMENT_OPTIONS`). */
export interface DeploymentValues {
  readonly config?: string | undefined;
  readonly 'data-dir'?: string | undefined;
}

/**
 * Opens the deployment's stores for one command on the gateway's durable tables (migrated first,
 * as the CLI may run before any gateway did), and closes them afterwards.
 */
export async function withGatewayTables<T>(
  io: CliIo,
  values: DeploymentValues,
  fn: (tables: GatewayTables) => Promise<T>,
): Promise<T> {
  const deployment = await loadDeployment(io, { config: values.config, dataDir: values['data-dir'] });
  return withRuntime(io, deployment, async (runtime) => {
    const db = runtime.stores.db as unknown as Kysely<unknown>;
    await migrateGateway(db);
    return fn({
      db: db as GatewayTables['db'],
      state: runtime.stores.state,
      logger: runtime.logger,
      audit: runtime.audit.sink,
    });
  });
}
