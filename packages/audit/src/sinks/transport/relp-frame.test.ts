import { describe, expect, it } from 'vitest';
import {
  createRelpFrameParser,
  encodeRelpFrame,
  nextRelpTxnr,
  parseRelpOffers,
  parseRelpResponse,
  RELP_MAX_TXNR,
  type RelpFrame,
} from './relp-frame.js';

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');
const plain = (frames: RelpFrame[]) =>
  frames.map((frame) => ({ txnr: frame.txnr, command: frame.command, data: frame.data.toString('utf8') }));

/** What librelp 1.11 (rsyslog imrelp) answered in one session: open, two messages, close. */
const OPEN_RSP =
  '200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog';
const SESSION = `1 rsp ${Buffer.byteLength(OPEN_RSP)} ${OPEN_RSP}\n2 rsp 6 200 OK\n3 rsp 6 200 OK\n4 rsp 0\n0 serverclose 0\n`;
const SESSION_FRAMES = [
  { txnr: 1, command: 'rsp', data: OPEN_RSP },
  { txnr: 2, command: 'rsp', data: '200 OK' },
  { txnr: 3, command: 'rsp', data: '200 OK' },
  { txnr: 4, command: 'rsp', data: '' },
  { txnr: 0, command: 'serverclose', data: '' },
];

describe('RELP frame writer', () => {
  it('writes TXNR SP COMMAND SP DATALEN [SP DATA] LF, DATALEN in octets', () => {
    expect(encodeRelpFrame(1, 'open', bytes('relp_version=0')).toString()).toBe('1 open 14 relp_version=0\n');
    expect(encodeRelpFrame(7, 'syslog', bytes('é\n')).toString()).toBe('7 syslog 3 é\n\n');
    // No SP and no data when DATALEN is 0.
    expect(encodeRelpFrame(9, 'close').toString()).toBe('9 close 0\n');
    expect(encodeRelpFrame(0, 'serverclose').toString()).toBe('0 serverclose 0\n');
  });

  it.each([
    ['a negative txnr', () => encodeRelpFrame(-1, 'syslog')],
    ['a txnr above 999999999', () => encodeRelpFrame(RELP_MAX_TXNR + 1, 'syslog')],
    ['a fractional txnr', () => encodeRelpFrame(1.5, 'syslog')],
    ['a command with a digit', () => encodeRelpFrame(1, 'sys1og')],
    ['an empty command', () => encodeRelpFrame(1, '')],
    ['a command of 33 letters', () => encodeRelpFrame(1, 'a'.repeat(33))],
  ])('refuses %s', (_name, write) => {
    expect(write).toThrow(RangeError);
  });

  it('counts txnr up to 999999999, then starts again at 1 (0 is for hints)', () => {
    expect(nextRelpTxnr(0)).toBe(1);
    expect(nextRelpTxnr(41)).toBe(42);
    expect(nextRelpTxnr(RELP_MAX_TXNR)).toBe(1);
  });

  it('reads back what it writes', () => {
    const parse = createRelpFrameParser();
    const frame = encodeRelpFrame(123456789, 'syslog', bytes('<14>1 - - - - - - a\nb'));
    expect(plain(parse(frame))).toEqual([
      { txnr: 123456789, command: 'syslog', data: '<14>1 - - - - - - a\nb' },
    ]);
  });
});

describe('RELP frame parser', () => {
  it('reads several frames from one chunk, LF inside data included', () => {
    expect(plain(createRelpFrameParser()(bytes(SESSION)))).toEqual(SESSION_FRAMES);
  });

  it('reads frames split at every possible byte', () => {
    const parse = createRelpFrameParser();
    const frames: RelpFrame[] = [];
    for (const byte of bytes(SESSION)) frames.push(...parse(Buffer.from([byte])));
    expect(plain(frames)).toEqual(SESSION_FRAMES);
  });

  it('reads frames split at arbitrary places', () => {
    const whole = bytes(SESSION.repeat(20));
    let seed = 7;
    // A fixed pseudo-random sequence (LCG): the same splits on every run.
    const nextSize = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return 1 + (seed % 40);
    };
    for (let run = 0; run < 20; run += 1) {
      const parse = createRelpFrameParser();
      const frames: RelpFrame[] = [];
      for (let at = 0, size = nextSize(); at < whole.length; at += size, size = nextSize()) {
        frames.push(...parse(whole.subarray(at, at + size)));
      }
      expect(plain(frames)).toEqual(Array.from({ length: 20 }, () => SESSION_FRAMES).flat());
    }
  });

  it('returns nothing until a frame is complete', () => {
    const parse = createRelpFrameParser();
    expect(parse(bytes('2 rsp 6 200 O'))).toEqual([]);
    expect(parse(bytes('K'))).toEqual([]);
    expect(plain(parse(bytes('\n3 rsp')))).toEqual([{ txnr: 2, command: 'rsp', data: '200 OK' }]);
  });

  const bad: [string, string, RegExp][] = [
    ['a letter in TXNR', 'x1 rsp 0\n', /bad TXNR/],
    ['a TXNR of ten digits', '1234567890 rsp 0\n', /TXNR too long/],
    ['no TXNR', ' rsp 0\n', /bad TXNR/],
    ['two spaces after TXNR', '1  rsp 0\n', /bad COMMAND/],
    ['a digit in COMMAND', '1 rs9 0\n', /bad COMMAND/],
    ['a COMMAND of 33 letters', `1 ${'a'.repeat(33)} 0\n`, /COMMAND too long/],
    ['a LF right after COMMAND', '1 rsp\n', /bad COMMAND/],
    ['a letter in DATALEN', '1 rsp 6x 200 OK\n', /bad DATALEN/],
    ['a negative DATALEN', '1 rsp -6 200 OK\n', /bad DATALEN/],
    ['a DATALEN of ten digits', '1 rsp 1234567890 x\n', /DATALEN too long/],
    ['DATALEN 0 followed by data', '1 rsp 0 200 OK\n', /DATALEN does not match/],
    ['DATALEN above 0 with no data', '1 rsp 6\n', /DATALEN does not match/],
    ['data longer than DATALEN', '1 rsp 2 200 OK\n', /missing trailer/],
    ['data shorter than DATALEN', '1 rsp 9 200 OK\n2 rsp 0\n', /missing trailer/],
    ['a CR LF trailer', '1 rsp 6 200 OK\r\n', /missing trailer/],
    ['an HTTP answer', 'HTTP/1.1 400 Bad Request\r\n', /bad TXNR/],
    ['a TLS alert on a plain connection', '\x15\x03\x03\x00\x02\x02\x46', /bad TXNR/],
  ];

  it.each(bad)('refuses %s with ERR_AUDIT_SINK_PROTOCOL', (_name, wire, reason) => {
    const parse = createRelpFrameParser();
    let thrown: unknown;
    try {
      parse(bytes(wire));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'ERR_AUDIT_SINK_PROTOCOL', detail: expect.stringMatching(reason) });
    // Fixed reasons: nothing the peer sent is echoed.
    expect((thrown as { detail: string }).detail).not.toContain('HTTP');
  });

  it('refuses a DATALEN above its maximum before any data arrives', () => {
    const parse = createRelpFrameParser({ maxDataLength: 1024 });
    expect(parse(bytes('1 rsp 1024 '))).toEqual([]);
    const again = createRelpFrameParser({ maxDataLength: 1024 });
    expect(() => again(bytes('1 rsp 1025 '))).toThrow(
      expect.objectContaining({
        code: 'ERR_AUDIT_SINK_PROTOCOL',
        detail: 'RELP: DATALEN above the accepted maximum',
      }),
    );
    // The default is RELP's 128 KiB.
    expect(() => createRelpFrameParser()(bytes('1 syslog 131073 '))).toThrow(/protocol/);
  });

  it('waits for the longest valid header, and refuses one byte more', () => {
    const parse = createRelpFrameParser();
    const longest = `123456789 ${'a'.repeat(32)} 123456789`;
    expect(parse(bytes(longest))).toEqual([]);
    expect(() => parse(bytes('9'))).toThrow(
      expect.objectContaining({ code: 'ERR_AUDIT_SINK_PROTOCOL', detail: 'RELP: DATALEN too long' }),
    );
  });

  it('stays failed after an error', () => {
    const parse = createRelpFrameParser();
    expect(() => parse(bytes('1 rsp x\n'))).toThrow();
    expect(() => parse(bytes('2 rsp 0\n'))).toThrow(
      expect.objectContaining({ detail: 'RELP: stream already failed' }),
    );
  });
});

describe('RELP responses and offers', () => {
  it.each([
    ['200 OK', 200, ''],
    ['500 error in processing', 500, ''],
    ['500', 500, ''],
    [OPEN_RSP, 200, OPEN_RSP.slice('200 OK\n'.length)],
    // librelp answers `close` with an empty rsp.
    ['', 200, ''],
  ])('reads the status of %j', (data, status, body) => {
    const response = parseRelpResponse(bytes(data));
    expect(response.status).toBe(status);
    expect(response.body.toString()).toBe(body);
  });

  it.each(['OK', '20 OK', '2000 OK', '200OK'])('refuses the status line %j', (data) => {
    expect(() => parseRelpResponse(bytes(data))).toThrow(
      expect.objectContaining({ code: 'ERR_AUDIT_SINK_PROTOCOL', detail: 'RELP: bad response status' }),
    );
  });

  it('reads offers', () => {
    const offers = parseRelpOffers(parseRelpResponse(bytes(OPEN_RSP)).body);
    expect(Object.fromEntries(offers)).toEqual({
      relp_version: '0',
      relp_software: 'librelp,1.11.0,http://librelp.adiscon.com',
      commands: 'syslog',
    });
    expect(Object.fromEntries(parseRelpOffers(bytes('flag\n\nname=a=b')))).toEqual({ flag: '', name: 'a=b' });
  });
});
