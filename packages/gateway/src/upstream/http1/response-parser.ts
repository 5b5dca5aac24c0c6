/**
 * A strict, incremental reader of HTTP/1.1 answers (RFC 9112) on one upstream connection: the part
 * of an HTTP client that decides where an answer ends, which is where response splitting and desync
 * attacks live. What it does not understand it refuses, and the connection must then be closed:
 *
 * - status line `HTTP/1.1` or `HTTP/1.0`, a status code 100–599 (RFC 9112 §4);
 * - field lines `token ":" OWS value OWS` only: no obs-fold, no whitespace before the colon, no bare
 *   CR or LF, no control character in a value (RFC 9112 §5, RFC 9110 §5.5); limits on the head's size
 *   and on the number of fields;
 * - framing (RFC 9112 §6.3): no body for HEAD, 1xx, 204 and 304; `Transfer-Encoding` only as exactly
 *   `chunked`, never together with `Content-Length`; one `Content-Length` of digits only; otherwise
 *   the body runs to the end of the connection, which is then not reused;
 * - chunked bodies with a strict chunk-size line, CRLF after each chunk, trailers read and dropped;
 * - interim answers (1xx but 101) skipped; 101 refused (the gateway never asks for an upgrade);
 * - anything after a complete answer refused (nothing else was asked on this connection).
 */

/** Why an answer was refused: `reason` says what was wrong (never a value from the answer). */
export class ResponseParseError extends Error {
  readonly code = 'ERR_UPSTREAM_RESPONSE_INVALID';
  constructor(readonly reason: string) {
    super(`invalid upstream response: ${reason}`);
    this.name = 'ResponseParseError';
  }
}

export interface ParsedHead {
  readonly statusCode: number;
  /** Every field as received, a flat list: lower-case names, values without surrounding OWS. */
  readonly headers: string[];
  /** The connection may carry the next request once this answer is complete. */
  readonly keepAlive: boolean;
  /** The upstream's `Keep-Alive: timeout=N` (RFC 9112 appendix C.2.2 keeps the field), in ms. */
  readonly keepAliveTimeoutMs: number | undefined;
}

export interface ResponseEvents {
  /** The final head of the answer (interim 1xx heads are skipped). */
  onHead(head: ParsedHead): void;
  /** A part of the body, a view of the bytes received (not copied). */
  onBody(chunk: Buffer): void;
  onComplete(): void;
}

export interface ResponseLimits {
  /** Largest head (status line and fields), and largest trailer section, in bytes. */
  readonly maxHeadBytes: number;
  /** Most fields in a head, or in a trailer section. */
  readonly maxFields: number;
}

export const DEFAULT_RESPONSE_LIMITS: ResponseLimits = { maxHeadBytes: 16 * 1024, maxFields: 100 };

const CR = 13;
const LF = 10;
const CRLF = Buffer.from('\r\n', 'latin1');
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
/** A chunk-size line (size and extensions) longer than this is refused. */
const MAX_CHUNK_LINE = 1024;

/** RFC 9110 §5.6.2 tchar. */
const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
  TCHAR[c.charCodeAt(0)] = 1;
/** RFC 9110 §5.5 field-vchar, SP and HTAB (obs-text included). */
const FIELD_CHAR = new Uint8Array(256);
FIELD_CHAR[9] = 1;
for (let c = 0x20; c <= 0xff; c++) if (c !== 0x7f) FIELD_CHAR[c] = 1;
/** A character no field value may hold (what FIELD_CHAR leaves out), found in one scan. */
const INVALID_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 16; c++) HEX['0123456789abcdef'.charCodeAt(c)] = c;
for (let c = 10; c < 16; c++) HEX['ABCDEF'.charCodeAt(c - 10)] = c;

const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const DIGITS = /^\d{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,6})(?:$|[,;\s])/i;

type State =
  'idle' | 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close';

/** Whether every character of `text` from `from` to `to` is in `table`. */
function allIn(text: string, table: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (table[text.charCodeAt(i)] !== 1) return false;
  return true;
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

interface FieldLines {
  readonly headers: string[];
  /** Every `Content-Length` value, in order. */
  readonly lengths: string[];
  readonly codings: string[];
  readonly connection: string[];
  readonly keepAlive: string[];
}

/** Field lines (`lines` from `from`) per RFC 9112 §5; throws on anything else. */
function parseFields(lines: readonly string[], from: number, maxFields: number): FieldLines {
  if (lines.length - from > maxFields) throw new ResponseParseError('too many fields');
  const fields: FieldLines = { headers: [], lengths: [], codings: [], connection: [], keepAlive: [] };
  for (let i = from; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    // A line starting with whitespace is obs-fold (§5.2); whitespace before the colon is refused (§5.1).
    if (colon <= 0 || !allIn(line, TCHAR, 0, colon)) throw new ResponseParseError('field name');
    let start = colon + 1;
    let end = line.length;
    while (start < end && isOws(line.charCodeAt(start))) start++;
    while (end > start && isOws(line.charCodeAt(end - 1))) end--;
    const value = line.slice(start, end);
    if (INVALID_VALUE.test(value)) throw new ResponseParseError('field value');
    const name = line.slice(0, colon).toLowerCase();
    fields.headers.push(name, value);
    if (name === 'content-length') fields.lengths.push(value);
    else if (name === 'transfer-encoding') fields.codings.push(value);
    else if (name === 'connection') fields.connection.push(value);
    else if (name === 'keep-alive') fields.keepAlive.push(value);
  }
  return fields;
}

/** Splits a head (without its final CRLF CRLF) into lines; a CR or LF left inside a line is bare. */
function splitLines(head: string): string[] {
  const lines = head.split('\r\n');
  for (const line of lines) {
    if (line.includes('\n') || line.includes('\r')) throw new ResponseParseError('bare CR or LF');
  }
  return lines;
}

function listTokens(values: readonly string[]): string[] {
  const tokens: string[] = [];
  for (const value of values) {
    for (const part of value.split(',')) {
      const token = part.trim().toLowerCase();
      if (token !== '') tokens.push(token);
    }
  }
  return tokens;
}

/**
 * Reads the answers of one connection, one at a time: `begin(method)` for each request sent, then
 * every byte received through `execute`, and `finish` when the connection closes. Throws
 * `ResponseParseError` at the first byte it refuses; the connection must then be closed.
 */
export class ResponseParser {
  private state: State = 'idle';
  private method = '';
  /** Bytes of a head, a chunk-size line or a trailer section not complete yet. */
  private pending: Buffer | undefined;
  /** Body bytes still to come (`length`, `chunk-data`). */
  private remaining = 0;
  private received = false;

  constructor(
    private readonly events: ResponseEvents,
    private readonly limits: ResponseLimits = DEFAULT_RESPONSE_LIMITS,
  ) {}

  /** Whether no answer is expected or in progress (a connection that may take a request). */
  get idle(): boolean {
    return this.state === 'idle';
  }

  /** Whether any byte of the current answer arrived (a request the upstream certainly received). */
  get receivedAny(): boolean {
    return this.received;
  }

  /** Expects the answer to a request of `method` (HEAD answers have no body). */
  begin(method: string): void {
    if (this.state !== 'idle') throw new Error('an answer is still expected on this connection');
    this.method = method;
    this.state = 'head';
    this.pending = undefined;
    this.received = false;
  }

  execute(data: Buffer): void {
    let offset = 0;
    while (offset < data.length) {
      switch (this.state) {
        case 'idle':
          throw new ResponseParseError('data after the response');
        case 'head':
          offset = this.readHead(data, offset);
          break;
        case 'length':
          offset = this.readBody(data, offset);
          if (this.remaining === 0) this.complete();
          break;
        case 'chunk-size':
          offset = this.readChunkSize(data, offset);
          break;
        case 'chunk-data':
          offset = this.readBody(data, offset);
          if (this.remaining === 0) {
            this.state = 'chunk-end';
            this.remaining = 2;
          }
          break;
        case 'chunk-end': {
          // Exactly CRLF after a chunk's data (RFC 9112 §7.1).
          const expected = this.remaining === 2 ? CR : LF;
          if (data[offset] !== expected) throw new ResponseParseError('chunk not followed by CRLF');
          offset += 1;
          this.remaining -= 1;
          if (this.remaining === 0) this.state = 'chunk-size';
          break;
        }
        case 'trailers':
          offset = this.readTrailers(data, offset);
          break;
        case 'until-close':
          this.events.onBody(offset === 0 ? data : data.subarray(offset));
          offset = data.length;
          break;
      }
    }
  }

  /** The connection closed: ends a body that runs to the close; throws if an answer was cut short. */
  finish(): void {
    if (this.state === 'idle') return;
    if (this.state === 'until-close') {
      this.complete();
      return;
    }
    throw new ResponseParseError('connection closed before the response was complete');
  }

  /** Hands on the body bytes still due (`remaining`) that `data` holds from `offset`; returns the new offset. */
  private readBody(data: Buffer, offset: number): number {
    const take = Math.min(this.remaining, data.length - offset);
    this.remaining -= take;
    this.events.onBody(data.subarray(offset, offset + take));
    return offset + take;
  }

  /** Appends `data` from `offset` to what is pending; returns the whole. */
  private gather(data: Buffer, offset: number): Buffer {
    const rest = offset === 0 ? data : data.subarray(offset);
    return this.pending === undefined ? rest : Buffer.concat([this.pending, rest]);
  }

  private readHead(data: Buffer, offset: number): number {
    this.received = true;
    const bytes = this.gather(data, offset);
    const end = bytes.indexOf(HEAD_END);
    if (end === -1 || end + 4 > this.limits.maxHeadBytes) {
      if (bytes.length > this.limits.maxHeadBytes) throw new ResponseParseError('head too large');
      this.pending = Buffer.from(bytes);
      return data.length;
    }
    this.pending = undefined;
    const consumed = end + 4 - (bytes.length - (data.length - offset));
    this.onHead(bytes.toString('latin1', 0, end));
    return offset + consumed;
  }

  private onHead(text: string): void {
    const lines = splitLines(text);
    const status = STATUS_LINE.exec(lines[0] as string);
    if (status === null) throw new ResponseParseError('status line');
    const statusCode = Number(status[2]);
    const fields = parseFields(lines, 1, this.limits.maxFields);
    if (statusCode < 200) {
      // RFC 9110 §15.2: interim answers precede the final one; a switch of protocols was never asked for.
      if (statusCode === 101) throw new ResponseParseError('switching protocols');
      this.state = 'head';
      return;
    }
    if (fields.codings.length > 0 && fields.lengths.length > 0)
      throw new ResponseParseError('both Transfer-Encoding and Content-Length');
    let length: number | undefined;
    if (fields.lengths.length > 0) {
      const value = fields.lengths[0] as string;
      if (fields.lengths.length > 1 || !DIGITS.test(value)) throw new ResponseParseError('Content-Length');
      length = Number(value);
    }
    let chunked = false;
    if (fields.codings.length > 0) {
      const codings = listTokens(fields.codings);
      if (codings.length !== 1 || codings[0] !== 'chunked')
        throw new ResponseParseError('transfer coding other than chunked');
      chunked = true;
    }
    const noBody = this.method === 'HEAD' || statusCode === 204 || statusCode === 304;
    const byClose = !noBody && !chunked && length === undefined;
    const keepAlive = status[1] === '1' && !byClose && !listTokens(fields.connection).includes('close');
    const hint = KEEP_ALIVE_TIMEOUT.exec(fields.keepAlive.join(','));
    this.events.onHead({
      statusCode,
      headers: fields.headers,
      keepAlive,
      keepAliveTimeoutMs: hint === null ? undefined : Number(hint[1]) * 1000,
    });
    if (noBody || length === 0) this.complete();
    else if (chunked) this.state = 'chunk-size';
    else if (length !== undefined) {
      this.state = 'length';
      this.remaining = length;
    } else this.state = 'until-close';
  }

  private readChunkSize(data: Buffer, offset: number): number {
    const bytes = this.gather(data, offset);
    const end = bytes.indexOf(CRLF);
    if (end === -1) {
      if (bytes.length > MAX_CHUNK_LINE) throw new ResponseParseError('chunk-size line too long');
      this.pending = Buffer.from(bytes);
      return data.length;
    }
    if (end > MAX_CHUNK_LINE) throw new ResponseParseError('chunk-size line too long');
    this.pending = undefined;
    const line = bytes.toString('latin1', 0, end);
    let size = 0;
    let i = 0;
    for (; i < line.length; i++) {
      const digit = HEX[line.charCodeAt(i)] as number;
      if (digit === -1) break;
      size = size * 16 + digit;
    }
    // 1*HEXDIG (§7.1), at most 13 digits (below 2^53); then nothing, or extensions after BWS ";".
    if (i === 0 || i > 13) throw new ResponseParseError('chunk size');
    const rest = line.slice(i);
    if (rest !== '' && (!/^[ \t]*;/.test(rest) || !allIn(rest, FIELD_CHAR, 0, rest.length)))
      throw new ResponseParseError('chunk extension');
    const consumed = end + 2 - (bytes.length - (data.length - offset));
    if (size === 0) {
      this.state = 'trailers';
    } else {
      this.state = 'chunk-data';
      this.remaining = size;
    }
    return offset + consumed;
  }

  private readTrailers(data: Buffer, offset: number): number {
    const bytes = this.gather(data, offset);
    // No trailer fields: the section is just CRLF.
    if (bytes.length >= 2 && bytes[0] === CR && bytes[1] === LF) {
      this.pending = undefined;
      const consumed = 2 - (bytes.length - (data.length - offset));
      this.complete();
      return offset + consumed;
    }
    if (bytes.length < 2) {
      this.pending = Buffer.from(bytes);
      return data.length;
    }
    const end = bytes.indexOf(HEAD_END);
    if (end === -1 || end + 4 > this.limits.maxHeadBytes) {
      if (bytes.length > this.limits.maxHeadBytes) throw new ResponseParseError('trailers too large');
      this.pending = Buffer.from(bytes);
      return data.length;
    }
    this.pending = undefined;
    // Trailer fields are read (§7.1.2: the same syntax as header fields) and dropped.
    parseFields(splitLines(bytes.toString('latin1', 0, end)), 0, this.limits.maxFields);
    const consumed = end + 4 - (bytes.length - (data.length - offset));
    this.complete();
    return offset + consumed;
  }

  private complete(): void {
    this.state = 'idle';
    this.pending = undefined;
    this.events.onComplete();
  }
}
