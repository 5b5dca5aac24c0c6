import {
  createRecordWriter,
  jsonMember,
  numberMember,
  type Logger,
  type RecordWriter,
} from '@gatehouse/core';

/** One access-log line: never a token, a header or a query string. */
export interface AccessRecord {
  readonly requestId: string;
  readonly route: string;
  readonly method: string | undefined;
  /** The path as received, without its query (RFC 9110 §7.1: a query may carry secrets). */
  readonly path: string | undefined;
  readonly status: number;
  readonly clientIp: string;
  readonly clientId: string | undefined;
  readonly sub: string | undefined;
  readonly durationMs: number;
  readonly upstreamMs: number | undefined;
  readonly aborted: boolean;
}

function serialize(record: AccessRecord): string {
  return (
    jsonMember('requestId', record.requestId) +
    jsonMember('route', record.route) +
    jsonMember('method', record.method) +
    jsonMember('path', record.path) +
    numberMember('status', record.status) +
    jsonMember('clientIp', record.clientIp) +
    jsonMember('clientId', record.clientId) +
    jsonMember('sub', record.sub) +
    numberMember('durationMs', record.durationMs) +
    numberMember('upstreamMs', record.upstreamMs) +
    (record.aborted ? ',"aborted":true' : ',"aborted":false')
  );
}

/**
 * The access log: a line per request at `info`, with `service: gateway` and `log: access`. Its
 * members are fixed and never secrets, so the line skips the redaction pass of other lines and is
 * built without pino's walk over the record (a line per request is on the proxy's hot path).
 */
export function createAccessLog(logger: Logger): RecordWriter<AccessRecord> {
  const child = logger.child(
    { service: 'gateway', log: 'access' },
    { formatters: { log: (record: object) => record } },
  );
  return createRecordWriter(child, 'info', serialize);
}
