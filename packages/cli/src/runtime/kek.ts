import { loadKek, type LoadedKek } from '@gatehouse/auth-server';
import type { Deployment } from '../config/load-deployment.js';
import type { CliIo } from '../io.js';

/**
 * The key-encryption key of private signing keys, for this deployment: GATEHOUSE_KEK, else the
 * configured `kekFile`, else `<dataDir>/kek.key` (generated with a warning in development only;
 * production refuses to start without a key).
 */
export function loadDeploymentKek(io: CliIo, deployment: Deployment): Promise<LoadedKek> {
  return loadKek({
    env: io.env,
    kekFile: deployment.kekFile,
    dataDir: deployment.dataDir,
    production: deployment.production,
  });
}
