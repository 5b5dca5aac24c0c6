import { JSON_OPTION, parse } from '../args.js';
import { EXIT_OK, writeJson, writeLine, type CliIo } from '../io.js';
import { describeStack } from '../stack/describe-stack.js';
import { initStack } from '../stack/init-stack.js';
import { loadStack } from '../stack/load-stack.js';
import { refuseProduction, STACK_OPTIONS } from './up.js';

/**
 * `gatehouse init [--config STACK_FILE] [--data-dir DIR] [--port-base N]`: what `up` prepares before
 * it starts anything — the data dir, a development CA with the certificates of the gateway and the
 * services, the demo's clients and users with random secrets, `demo.json`, and the deployment file
 * each component reads. Run again, it reuses all of it.
 */
export async function initCommand(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...STACK_OPTIONS, ...JSON_OPTION });
  refuseProduction(io);
  const stack = await loadStack(io, {
    config: values.config,
    dataDir: values['data-dir'],
    portBase: values['port-base'],
    tls: values.tls,
  });
  const init = await initStack(io, stack);
  if (values.json === true) {
    writeJson(io, {
      dataDir: stack.dataDir,
      created: init.created,
      demo: `${stack.dataDir}/demo.json`,
      deployment: init.deploymentFile,
      services: init.serviceConfigFiles,
    });
    return EXIT_OK;
  }
  writeLine(io.stdout, `gatehouse init: ${init.created ? 'created' : 'reused'} ${stack.dataDir}`);
  writeLine(io.stdout, `  deployment file: ${init.deploymentFile}`);
  writeLine(io.stdout, '');
  writeLine(io.stdout, describeStack(stack, init));
  return EXIT_OK;
}
