export { run } from './run.js';
export { main } from './main.js';
export { CommandError, UsageError, type CliIo } from './io.js';
export {
  deploymentConfigSchema,
  deploymentJsonSchema,
  type DeploymentConfig,
  type DeploymentConfigInput,
} from './config/deployment-schema.js';
export { loadDeployment, type Deployment, type LoadDeploymentOptions } from './config/load-deployment.js';
export { deploymentFindings, type Finding } from './config/deployment-checks.js';
export { renderConfigDoc } from './config/render-config-doc.js';
export { MIGRATION_SETS, type MigrationStore, type RegisteredMigrationSet } from './commands/migrate.js';
