import { describe, expect, it } from 'vitest';
import { continueTraceparent } from './trace-context.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';

function parse(value: string): { traceId: string; parentId: string; flags: string } {
  const match = TRACEPARENT.exec(value);
  if (match === null) throw new Error(`not a version-00 traceparent: ${value}`);
  return { traceId: match[1]!, parentId: match[2]!, flags: match[3]! };
}

describe('continueTraceparent', () => {
  // W3C Trace Context §3.2: a valid header keeps its trace-id and flags, with a new parent-id.
  it.each([
    [`00-${TRACE_ID}-${PARENT_ID}-01`, '01'],
    [`00-${TRACE_ID}-${PARENT_ID}-00`, '00'],
    [`00-${TRACE_ID}-${PARENT_ID}-09`, '09'],
    [`01-${TRACE_ID}-${PARENT_ID}-01`, '01'], // §4.3: a higher version is read as 00
    [`cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-holds`, '01'],
  ])('continues %s', (incoming, flags) => {
    const next = parse(continueTraceparent(incoming));
    expect(next).toMatchObject({ traceId: TRACE_ID, flags });
    expect(next.parentId).not.toBe(PARENT_ID);
    expect(next.parentId).not.toBe('0'.repeat(16));
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['garbage', 'not a traceparent'],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['non-hex version', `0x-${TRACE_ID}-${PARENT_ID}-01`],
    ['version 00 with a suffix', `00-${TRACE_ID}-${PARENT_ID}-01-extra`],
    ['higher version with a bad suffix', `cc-${TRACE_ID}-${PARENT_ID}-01x`],
    ['all-zero trace-id', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    ['all-zero parent-id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`],
    ['upper-case parent-id', `00-${TRACE_ID}-${PARENT_ID.toUpperCase()}-01`],
    ['non-hex flags', `00-${TRACE_ID}-${PARENT_ID}-0g`],
    ['short trace-id', `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
    ['wrong separators', `00_${TRACE_ID}_${PARENT_ID}_01`],
    ['missing first separator', `00x${TRACE_ID}-${PARENT_ID}-01`],
    ['missing last separator', `00-${TRACE_ID}-${PARENT_ID}x01`],
    ['header injection', `00-${TRACE_ID}-${PARENT_ID}-01\r\nx: 1`],
  ])('starts a new sampled trace when %s', (_, incoming) => {
    const next = parse(continueTraceparent(incoming));
    expect(next.traceId).not.toBe(TRACE_ID);
    expect(next.traceId).not.toBe('0'.repeat(32));
    expect(next.flags).toBe('01');
  });

  it('creates distinct trace and parent ids across many calls', () => {
    const values = Array.from({ length: 500 }, () => parse(continueTraceparent(undefined)));
    expect(new Set(values.map((v) => v.traceId)).size).toBe(values.length);
    expect(new Set(values.map((v) => v.parentId)).size).toBe(values.length);
  });
});
