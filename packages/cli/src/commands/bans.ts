import { createBanList, type Ban } from '@gatehouse/gateway';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse, requireValue } from '../args.js';
import { CommandError, EXIT_OK, UsageError, formatTable, writeJson, writeLine, type CliIo } from '../io.js';
import { subcommands } from './subcommands.js';
import { withGatewayTables } from './with-gateway-tables.js';

/**
 * `gatehouse bans list|add|remove`: on the durable ban table; running gateways apply a change
 * within a second (event through shared state, or their periodic resync from the database).
 */
export const bansCommand = subcommands('bans', { list, add, remove });

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90`, `90s`, `15m`, `2h`, `7d` → seconds. */
export function parseDuration(text: string): number {
  const match = /^(\d{1,7})([smhd]?)$/.exec(text);
  if (match === null)
    throw new UsageError(`--duration: a number of seconds or e.g. 15m, 2h, 7d (got ${text})`);
  const seconds = Number(match[1]) * (UNITS[match[2] || 's'] ?? 1);
  if (seconds <= 0) throw new UsageError('--duration must be positive');
  return seconds;
}

function banRow(ban: Ban): string[] {
  return [ban.subject, new Date(ban.expiresAt).toISOString(), ban.source, ban.reason];
}

async function list(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION });
  const bans = await withGatewayTables(io, values, (tables) => createBanList(tables).list());
  if (values.json === true) writeJson(io, { bans });
  else if (bans.length === 0) writeLine(io.stdout, 'no active bans');
  else writeLine(io.stdout, formatTable(['SUBJECT', 'EXPIRES', 'SOURCE', 'REASON'], bans.map(banRow)));
  return EXIT_OK;
}

async function add(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    args,
    { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION, duration: { type: 'string' }, reason: { type: 'string' } },
    1,
  );
  const subject = requireValue(positionals[0], 'an IP address or CIDR block');
  const durationSec = parseDuration(requireValue(values.duration, '--duration'));
  const reason = values.reason ?? 'cli';
  const ban = await withGatewayTables(io, values, async (tables) => {
    try {
      return await createBanList(tables).add({ subject, durationSec, reason, source: 'cli', actor: 'cli' });
    } catch (err) {
      if (err instanceof TypeError) throw new CommandError(err.message);
      throw err;
    }
  });
  if (values.json === true) writeJson(io, ban);
  else writeLine(io.stdout, `banned ${ban.subject} until ${new Date(ban.expiresAt).toISOString()}`);
  return EXIT_OK;
}

async function remove(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args, DEPLOYMENT_OPTIONS, 1);
  const subject = requireValue(positionals[0], 'an IP address or CIDR block');
  const removed = await withGatewayTables(io, values, (tables) =>
    createBanList(tables).remove(subject, 'cli'),
  );
  if (!removed) throw new CommandError(`no active ban for ${subject}`);
  writeLine(io.stdout, `removed the ban of ${subject}`);
  return EXIT_OK;
}
