import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GatehouseError } from '../errors/gatehouse-error.js';
import { createLogger, type Logger } from './create-logger.js';
import { REDACTED } from './redact.js';

/** A destination that keeps every line pino writes. */
function capture(): {
  destination: Writable;
  records: () => Array<Record<string, unknown>>;
  raw: () => string;
} {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const raw = (): string => chunks.join('');
  const records = (): Array<Record<string, unknown>> =>
    raw()
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { destination, records, raw };
}

function setup(level?: 'debug' | 'warn'): ReturnType<typeof capture> & { logger: Logger } {
  const sink = capture();
  const logger = createLogger({
    component: 'test-component',
    destination: sink.destination,
    ...(level === undefined ? {} : { level }),
  });
  return { ...sink, logger };
}

const SECRET = 'SECRET-SENTINEL';

describe('createLogger', () => {
  it('writes JSON lines with the component and the message', () => {
    const { logger, records } = setup();
    logger.info({ requestId: 'r1' }, 'hello');
    expect(records()).toEqual([
      expect.objectContaining({ level: 30, component: 'test-component', requestId: 'r1', msg: 'hello' }),
    ]);
  });

  it('defaults to info and honours a level', () => {
    const info = setup();
    info.logger.debug('hidden');
    expect(info.records()).toEqual([]);
    const debug = setup('debug');
    debug.logger.debug('shown');
    expect(debug.records()).toHaveLength(1);
    const warn = setup('warn');
    warn.logger.info('hidden');
    expect(warn.records()).toEqual([]);
  });

  it('writes to stdout when no destination is given', () => {
    const logger = createLogger({ component: 'stdout', level: 'silent' });
    expect(logger.level).toBe('silent');
  });

  it('redacts every sensitive member of a record, at any depth and inside arrays', () => {
    const { logger, records, raw } = setup();
    const input = {
      req: {
        method: 'GET',
        headers: {
          authorization: `Bearer ${SECRET}`,
          cookie: `sid=${SECRET}`,
          'user-agent': 'curl/8',
        },
      },
      res: { headers: { 'set-cookie': [`sid=${SECRET}`], 'content-type': 'text/plain' } },
      body: {
        client_secret: SECRET,
        password: SECRET,
        refresh_token: SECRET,
        access_token: SECRET,
        grant_type: 'refresh_token',
      },
      attempts: [
        { token: SECRET, n: 1 },
        { n: 2, nested: [{ clientSecret: SECRET }] },
      ],
      Authorization: SECRET,
    };
    const snapshot = structuredClone(input);
    logger.info(input, 'request');

    expect(raw()).not.toContain(SECRET);
    const [record] = records();
    expect(record).toMatchObject({
      req: { method: 'GET', headers: { authorization: REDACTED, cookie: REDACTED, 'user-agent': 'curl/8' } },
      res: { headers: { 'set-cookie': REDACTED, 'content-type': 'text/plain' } },
      body: {
        client_secret: REDACTED,
        password: REDACTED,
        refresh_token: REDACTED,
        access_token: REDACTED,
        grant_type: 'refresh_token',
      },
      attempts: [
        { token: REDACTED, n: 1 },
        { n: 2, nested: [{ clientSecret: REDACTED }] },
      ],
      Authorization: REDACTED,
      msg: 'request',
    });
    // The caller's object is left as it was.
    expect(input).toEqual(snapshot);
  });

  it('redacts bindings of child loggers', () => {
    const { logger, records, raw } = setup();
    const child = logger.child({ token: SECRET, requestId: 'r7', auth: { password: SECRET } });
    child.info('from child');
    child.child({ refresh_token: SECRET }).warn('from grandchild');
    expect(raw()).not.toContain(SECRET);
    expect(records()).toEqual([
      expect.objectContaining({
        token: REDACTED,
        requestId: 'r7',
        auth: { password: REDACTED },
        msg: 'from child',
      }),
      expect.objectContaining({ token: REDACTED, refresh_token: REDACTED, msg: 'from grandchild' }),
    ]);
  });

  it('redacts bindings set later and bindings of children created with options', () => {
    const { logger, records, raw } = setup();
    logger.setBindings({ client_secret: SECRET, region: 'eu' });
    logger.info('after setBindings');
    const child = logger.child({ access_token: SECRET }, { level: 'debug' });
    child.debug({ cookie: SECRET }, 'debug child');
    expect(raw()).not.toContain(SECRET);
    expect(records()).toEqual([
      expect.objectContaining({ client_secret: REDACTED, region: 'eu', msg: 'after setBindings' }),
      expect.objectContaining({ access_token: REDACTED, cookie: REDACTED, level: 20, msg: 'debug child' }),
    ]);
  });

  it('redacts members of errors and class instances', () => {
    const { logger, records, raw } = setup();
    const err = Object.assign(new Error('upstream failed'), {
      config: { headers: { Authorization: `Bearer ${SECRET}` } },
      status: 502,
    });
    class Session {
      readonly id = 's1';
      readonly refreshToken = SECRET;
    }
    logger.error({ err, session: new Session() }, 'call failed');
    logger.error(err);
    expect(raw()).not.toContain(SECRET);
    const [first, second] = records();
    expect(first).toMatchObject({
      err: {
        type: 'Error',
        message: 'upstream failed',
        status: 502,
        config: { headers: { Authorization: REDACTED } },
      },
      session: { id: 's1', refreshToken: REDACTED },
    });
    expect(second).toMatchObject({
      err: { message: 'upstream failed', status: 502 },
      msg: 'upstream failed',
    });
    // The logged error itself is left as it was.
    expect(err.config.headers.Authorization).toBe(`Bearer ${SECRET}`);
  });

  it('still serializes Error objects with type, message and stack', () => {
    const { logger, records } = setup();
    logger.error({ err: new TypeError('boom'), requestId: 'r1' }, 'failed');
    logger.error(new GatehouseError('ERR_JWKS_TIMEOUT', { detail: 'after 5000 ms' }));
    const [first, second] = records();
    expect(first).toMatchObject({
      requestId: 'r1',
      msg: 'failed',
      err: { type: 'TypeError', message: 'boom' },
    });
    expect((first?.['err'] as { stack: string }).stack).toContain('TypeError: boom');
    expect(second).toMatchObject({
      err: { type: 'GatehouseError', code: 'ERR_JWKS_TIMEOUT', message: 'key set fetch timed out' },
    });
  });

  it('truncates deeply nested records instead of logging them whole', () => {
    const { logger, records } = setup();
    let deep: Record<string, unknown> = { leaf: 'x' };
    for (let i = 0; i < 12; i++) deep = { child: deep };
    logger.info({ deep });
    const record = records()[0] as Record<string, unknown>;
    expect(JSON.stringify(record)).toContain('[Truncated]');
    expect(JSON.stringify(record)).not.toContain('leaf');
  });
});

describe('createLogger — HTTP requests and responses', () => {
  it('logs method, path without query and status from framework objects with getters', () => {
    const lines: string[] = [];
    const logger = createLogger({
      component: 'test',
      destination: { write: (line: string) => void lines.push(line) },
    });
    class FrameworkRequest {
      get method(): string {
        return 'GET';
      }
      get url(): string {
        return '/callback?code=secret-code&state=s';
      }
      readonly id = 'req-1';
    }
    class FrameworkReply {
      get statusCode(): number {
        return 302;
      }
    }
    logger.info({ req: new FrameworkRequest() }, 'incoming request');
    logger.info({ res: new FrameworkReply(), responseTime: 1.5 }, 'request completed');
    logger.info({ req: 'not an object', res: null }, 'odd');
    const [incoming, completed, odd] = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(incoming?.['req']).toEqual({ method: 'GET', path: '/callback', id: 'req-1' });
    expect(completed?.['res']).toEqual({ statusCode: 302 });
    expect(completed?.['responseTime']).toBe(1.5);
    expect(odd?.['req']).toBe('not an object');
    expect(lines.join('')).not.toContain('secret-code');
  });
});

describe('createLogger with DOMException causes', () => {
  it('serializes an error whose cause is an AbortError without throwing', () => {
    const lines: string[] = [];
    const logger = createLogger({
      component: 'test',
      destination: { write: (line: string) => lines.push(line) },
    });
    const err = new Error('request failed', { cause: new DOMException('aborted', 'AbortError') });
    expect(() => logger.warn({ err }, 'failed')).not.toThrow();
    expect(lines.join('')).toContain('AbortError');
  });
});
