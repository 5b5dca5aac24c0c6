import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './io.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: boolean }>
>;

/** `--config FILE` and `--data-dir DIR`, taken by every command that opens a deployment's stores. */
export const DEPLOYMENT_OPTIONS = {
  config: { type: 'string' },
  'data-dir': { type: 'string' },
} as const satisfies Options;

export const JSON_OPTION = { json: { type: 'boolean' } } as const satisfies Options;

/**
 * Strict parsing (node:util parseArgs): an unknown flag, a missing value or a stray argument is a
 * usage error. `positionals` is how many arguments a command takes after its name.
 */
export function parse<O extends Options>(args: readonly string[], options: O, positionals = 0): Parsed<O> {
  let parsed: Parsed<O>;
  try {
    parsed = parseArgs({ args: [...args], options, strict: true, allowPositionals: positionals > 0 });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (parsed.positionals.length > positionals) {
    throw new UsageError(`unexpected argument: ${parsed.positionals[positionals] ?? ''}`);
  }
  return parsed;
}

export function requireValue<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`);
  return value;
}
