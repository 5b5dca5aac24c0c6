import { createLogger } from '@gatehouse/core';
import { describe, expect, it, vi } from 'vitest';
import { createAccessLog, type AccessRecord } from './access-log.js';

const base: AccessRecord = {
  requestId: 'gw-1',
  route: 'accounts',
  method: 'GET',
  path: '/api/accounts/5',
  status: 200,
  clientIp: '203.0.113.9',
  clientId: 'client-a',
  sub: 'user-1',
  durationMs: 1.234,
  upstreamMs: 0.5,
  aborted: false,
};

// record → what the line must carry as pino would
// prettier-ignore
const records: ReadonlyArray<readonly [string, AccessRecord]> = [
  ['an authenticated request', base],
  ['no client, subject or upstream time (left out)', { ...base, clientId: undefined, sub: undefined, upstreamMs: undefined, status: 401 }],
  ['an aborted request without method or path', { ...base, method: undefined, path: undefined, status: 499, aborted: true }],
  ['quotes, backslashes and control bytes in the path', { ...base, path: '/a"b\\c\u0000\u001f\u007f' }],
  ['latin-1 bytes of a raw request line', { ...base, path: '/caf\u00c3\u00a9' }],
];

describe('createAccessLog', () => {
  it.each(records)('writes the line pino writes for %s', (_, record) => {
    const written: string[] = [];
    const logger = createLogger({
      component: 'gatehouse',
      destination: { write: (line: string) => void written.push(line) },
    });
    logger
      .child({ service: 'gateway', log: 'access' }, { formatters: { log: (r: object) => r } })
      .info(record);
    const child = vi.spyOn(logger, 'child');
    const accessLog = createAccessLog(logger);
    // The access log's own line, not pino's walk over the record.
    const info = vi.spyOn(child.mock.results[0]?.value as typeof logger, 'info');
    accessLog.write(record);
    expect(info).not.toHaveBeenCalled();
    const [expected, actual] = written.map((line) => line.replace(/"time":\d+/, '"time":0'));
    expect(actual).toBe(expected);
    expect(JSON.parse(actual ?? '')).toMatchObject({
      component: 'gatehouse',
      service: 'gateway',
      log: 'access',
      status: record.status,
    });
  });
});
