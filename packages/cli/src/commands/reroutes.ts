import { createRerouteList, type Reroute } from '@gatehouse/gateway';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse, requireValue } from '../args.js';
import { CommandError, EXIT_OK, formatTable, writeJson, writeLine, type CliIo } from '../io.js';
import { subcommands } from './subcommands.js';
import { withGatewayTables } from './with-gateway-tables.js';

/**
 * `gatehouse reroutes list|remove`: routes that Alertmanager alerts switched to their
 * `fallbackUpstream`, on the durable table; running gateways follow a removal within a second.
 * Setting a reroute is the alert's business (deploy/alertmanager/README.md), not the CLI's: its list
 * is built without `routes`, so it lists and lifts, never judges which routes may be rerouted.
 */
export const reroutesCommand = subcommands('reroutes', { list, remove });

function rerouteRow(reroute: Reroute): string[] {
  return [
    reroute.route,
    new Date(reroute.expiresAt).toISOString(),
    reroute.alertname,
    reroute.fingerprint ?? '-',
  ];
}

async function list(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION });
  const reroutes = await withGatewayTables(io, values, (tables) => createRerouteList(tables).list());
  if (values.json === true) writeJson(io, { reroutes });
  else if (reroutes.length === 0) writeLine(io.stdout, 'no active reroutes');
  else
    writeLine(io.stdout, formatTable(['ROUTE', 'EXPIRES', 'ALERT', 'FINGERPRINT'], reroutes.map(rerouteRow)));
  return EXIT_OK;
}

async function remove(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, DEPLOYMENT_OPTIONS, 1);
  const route = requireValue(positionals[0], 'a route id');
  const lifted = await withGatewayTables(io, values, (tables) =>
    createRerouteList(tables).lift(route, { actor: 'cli' }),
  );
  if (lifted === 0) throw new CommandError(`no active reroute for ${route}`);
  writeLine(io.stdout, `removed the reroute of ${route}; it goes to its upstream again`);
  return EXIT_OK;
}
