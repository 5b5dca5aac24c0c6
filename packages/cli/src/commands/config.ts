import { isGatehouseError } from '@gatehouse/core';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse } from '../args.js';
import { deploymentFindings } from '../config/deployment-checks.js';
import { deploymentJsonSchema } from '../config/deployment-schema.js';
import { loadDeployment, splitConfigProblems } from '../config/load-deployment.js';
import { EXIT_FAILURE, EXIT_OK, writeJson, writeLine, type CliIo } from '../io.js';
import { subcommands } from './subcommands.js';

/** `gatehouse config validate|schema`. */
export const configCommand = subcommands('config', { validate, schema: schemaSubcommand });

function schemaSubcommand(rest: readonly string[], io: CliIo): Promise<number> {
  parse(rest, {});
  writeJson(io, deploymentJsonSchema());
  return Promise.resolve(EXIT_OK);
}

/**
 * Exit 0 when the file is valid (warnings are printed); non-zero with every problem listed when it
 * is not, or when NODE_ENV=production and a setting would make the server refuse to start.
 */
async function validate(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { config: DEPLOYMENT_OPTIONS.config, ...JSON_OPTION });
  let deployment;
  try {
    deployment = await loadDeployment(io, { config: values.config });
  } catch (err) {
    if (values.json !== true || !isGatehouseError(err) || err.code !== 'ERR_CONFIG_INVALID') throw err;
    const { source, problems } = splitConfigProblems(err.detail ?? '');
    writeJson(io, { file: source, valid: false, problems });
    return EXIT_FAILURE;
  }
  const findings = deploymentFindings(deployment);
  const refused = deployment.production ? findings.filter((f) => f.severity === 'high') : [];
  if (values.json === true) {
    writeJson(io, { file: deployment.file, valid: refused.length === 0, findings });
  } else {
    for (const finding of findings) {
      const label = deployment.production && finding.severity === 'high' ? 'error' : 'warning';
      writeLine(io.stderr, `${label}: ${finding.message}`);
    }
    if (refused.length === 0) writeLine(io.stdout, `${deployment.file}: valid`);
    else writeLine(io.stderr, `${deployment.file}: refused in production (NODE_ENV=production)`);
  }
  return refused.length === 0 ? EXIT_OK : EXIT_FAILURE;
}
