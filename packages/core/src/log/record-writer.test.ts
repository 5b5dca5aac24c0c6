import { pino } from 'pino';
import { describe, expect, it, vi } from 'vitest';
import { createLogger, type Logger } from './create-logger.js';
import { createRecordWriter, jsonMember, numberMember } from './record-writer.js';

interface Access {
  requestId: string;
  path: string | undefined;
  status: number;
  durationMs: number | undefined;
  aborted: boolean;
}

function serialize(record: Access): string {
  return (
    jsonMember('requestId', record.requestId) +
    jsonMember('path', record.path) +
    numberMember('status', record.status) +
    numberMember('durationMs', record.durationMs) +
    `,"aborted":${String(record.aborted)}`
  );
}

/** A destination keeping the lines as written. */
function lines(): { destination: { write(line: string): void }; written: string[] } {
  const written: string[] = [];
  return { destination: { write: (line: string) => void written.push(line) }, written };
}

/** The line with its time (the one member that differs between two writes) fixed. */
function fixTime(line: string | undefined): string {
  return (line ?? '').replace(/"time":\d+/, '"time":0');
}

// record → what makes it awkward for a hand-built line
// prettier-ignore
const records: ReadonlyArray<readonly [string, Access]> = [
  ['plain members', { requestId: 'r-1', path: '/items', status: 200, durationMs: 1.25, aborted: false }],
  ['an undefined member (left out)', { requestId: 'r-2', path: undefined, status: 499, durationMs: undefined, aborted: true }],
  ['quotes, backslashes and controls', { requestId: 'a"b\\c\n\u0001', path: '/x"y', status: 400, durationMs: 0, aborted: false }],
  ['latin-1 and non-BMP characters', { requestId: 'é—😀', path: '/caf\u00e9', status: 200, durationMs: 3, aborted: false }],
  ['a number that is not finite (null)', { requestId: 'r-3', path: '/', status: 200, durationMs: Number.NaN, aborted: false }],
  ['a long value', { requestId: 'x'.repeat(300), path: `/${'y'.repeat(300)}"`, status: 200, durationMs: 1e21, aborted: false }],
];

describe('createRecordWriter', () => {
  /** pino's line (written first) and the writer's. */
  function pair(written: string[]): [string, string] {
    return [fixTime(written[0]), fixTime(written[1])];
  }

  it.each(records)('writes the line logger.info writes: %s', (_, record) => {
    const { destination, written } = lines();
    const root = createLogger({ component: 'test', destination });
    // An access log: a child with bindings and no redaction pass (its members are never secrets).
    const logger = root.child(
      { service: 'gateway', log: 'access' },
      { formatters: { log: (r: object) => r } },
    );
    logger.info(record);
    const info = vi.spyOn(logger, 'info');
    createRecordWriter(logger, 'info', serialize).write(record);
    // The line is the writer's own, not pino's walk over the record.
    expect(info).not.toHaveBeenCalled();
    const [expected, actual] = pair(written);
    expect(actual).toBe(expected);
    expect(JSON.parse(actual)).toMatchObject({
      level: 30,
      component: 'test',
      service: 'gateway',
      log: 'access',
    });
  });

  it.each([
    ['a lone surrogate, escaped (RFC 8259 §8.2)', 'a\ud800b', ',"v":"a\\ud800b"'],
    ['a plain value, quoted as is', 'plain', ',"v":"plain"'],
    ['no value, left out', undefined, ''],
  ])('jsonMember: %s', (_, value, expected) => {
    expect(jsonMember('v', value)).toBe(expected);
  });

  it('writes nothing while its level is disabled, and again once it is enabled', () => {
    const { destination, written } = lines();
    const logger = createLogger({ component: 'test', destination, level: 'warn' });
    const writer = createRecordWriter(logger, 'info', serialize);
    writer.write(records[0]![1]);
    expect(written).toEqual([]);
    logger.level = 'info';
    writer.write(records[0]![1]);
    expect(written).toHaveLength(1);
  });

  it('writes at its own level', () => {
    const { destination, written } = lines();
    const logger = createLogger({ component: 'test', destination, level: 'debug' });
    createRecordWriter(logger, 'debug', serialize).write(records[0]![1]);
    expect(JSON.parse(written[0] ?? '')).toMatchObject({ level: 20, requestId: 'r-1' });
  });

  // a logger whose line is not pino's plain one → the writer leaves it to pino
  // prettier-ignore
  const generic: ReadonlyArray<readonly [string, (destination: { write(line: string): void }) => Logger]> = [
    ['a multistream (needs metadata)', (destination) => pino({}, pino.multistream([{ stream: destination }]))],
    ['a mixin', (destination) => pino({ mixin: () => ({ extra: 1 }) }, destination)],
    ['a nested key', (destination) => pino({ nestedKey: 'payload' }, destination)],
    ['a stream-write hook', (destination) => pino({ hooks: { streamWrite: (line) => line.replace('r-1', 'R-1') } }, destination)],
  ];

  it.each(generic)('goes through pino for %s', (_, make) => {
    const { destination, written } = lines();
    const logger = make(destination);
    logger.info(records[0]![1]);
    const info = vi.spyOn(logger, 'info');
    createRecordWriter(logger, 'info', serialize).write(records[0]![1]);
    expect(info).toHaveBeenCalledTimes(1);
    const [expected, actual] = pair(written);
    expect(actual).toBe(expected);
  });
});
