import { pino, type Level, type Logger } from 'pino';

/** pino's own accessors (`pino.symbols`, public API), typed for the members read here. */
const SYMBOLS = pino.symbols as unknown as Readonly<Record<string, symbol>>;

/** Set on a stream that routes lines by level (multistream, transports): pino's `needsMetadataGsym`. */
const NEEDS_METADATA = Symbol.for('pino.metadata');

interface PinoInternals {
  readonly [key: symbol]: unknown;
}

function member(logger: Logger, name: string): unknown {
  return (logger as unknown as PinoInternals)[SYMBOLS[name] as symbol];
}

// Read on every line: constant keys keep those reads cheap.
const LS_CACHE = SYMBOLS['lsCacheSym'] as symbol;
const CHINDINGS = SYMBOLS['chindingsSym'] as symbol;
const END = SYMBOLS['endSym'] as symbol;

/** Writes records of one fixed shape as log lines. */
export interface RecordWriter<T> {
  /** Writes `record` at the writer's level, when that level is enabled. */
  write(record: T): void;
}

/**
 * A writer for a line written very often with fixed members (the gateway's access log, one line
 * per request): the same line `logger[level](record)` writes — level, time, the logger's bindings,
 * then the record's members — built without pino's walk over the record. `serialize` returns the
 * members as pino would: each `,"name":value` in JSON, members whose value is `undefined` left out.
 *
 * Nothing of the logger's `formatters.log` or serializers runs on the record: only for records
 * whose members are never secrets. A logger whose stream needs pino's metadata (multistream,
 * transports), or that has a mixin, a nested key or a stream-write hook, gets `logger[level]`.
 */
export function createRecordWriter<T extends object>(
  logger: Logger,
  level: Level,
  serialize: (record: T) => string,
): RecordWriter<T> {
  const stream = member(logger, 'streamSym') as { write(line: string): void } & PinoInternals;
  const hooks = member(logger, 'hooksSym') as { streamWrite?: unknown } | undefined;
  // The same tests as pino's own write path (lib/proto.js, lib/tools.js): truthy, not defined.
  const generic =
    stream[NEEDS_METADATA] === true ||
    Boolean(member(logger, 'mixinSym')) ||
    Boolean(member(logger, 'nestedKeySym')) ||
    Boolean(hooks?.streamWrite);
  if (generic) {
    return {
      write(record) {
        logger[level](record);
      },
    };
  }
  const value = logger.levels.values[level] as number;
  const time = member(logger, 'timeSym') as () => string;
  const internals = logger as unknown as PinoInternals;
  return {
    write(record) {
      if (!logger.isLevelEnabled(level)) return;
      // pino's line (lib/tools.js asJson): the cached level prefix, the time, the bindings, the
      // members, the end (`}` and the line break).
      stream.write(
        ((internals[LS_CACHE] as Record<number, string>)[value] as string) +
          time.call(logger) +
          (internals[CHINDINGS] as string) +
          serialize(record) +
          (internals[END] as string),
      );
    },
  };
}

/** Whether JSON must escape a character of `value` (RFC 8259 §7), or it has a surrogate that may stand alone. */
function needsEscape(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true;
  }
  return false;
}

/** A string member as pino writes it (JSON, RFC 8259 §7); `name` is plain (no quote, backslash or control). */
export function jsonMember(name: string, value: string | undefined): string {
  if (value === undefined) return '';
  // Most values need no escape: quoting them spares a call into JSON.stringify.
  return `,"${name}":${needsEscape(value) ? JSON.stringify(value) : `"${value}"`}`;
}

/** A number member as pino writes it: `null` when not finite; `name` as for `jsonMember`. */
export function numberMember(name: string, value: number | undefined): string {
  if (value === undefined) return '';
  return `,"${name}":${Number.isFinite(value) ? String(value) : 'null'}`;
}
