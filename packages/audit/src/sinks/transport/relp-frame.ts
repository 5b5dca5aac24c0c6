import { SinkError } from '../sink-error.js';

/**
 * RELP framing (librelp doc/relp.md, "RELP FRAME"):
 * `TXNR SP COMMAND SP DATALEN [SP DATA] TRAILER`, TXNR and DATALEN 1–9 digits, COMMAND 1–32 letters,
 * TRAILER a LF. DATA is present (after one SP) only when DATALEN is not 0.
 */
export interface RelpFrame {
  /** 1–999999999 for commands and their responses; 0 for hints such as `serverclose`. */
  readonly txnr: number;
  readonly command: string;
  readonly data: Buffer;
}

/** The status of a `rsp` frame: `STATUS [SP HUMANMSG] [LF CMDDATA]` (relp.md, "Command rsp"). */
export interface RelpResponse {
  /** 200 OK; anything else is an error (the spec defines 500). */
  readonly status: number;
  /** What follows the status line: the accepted offers for `open`, empty otherwise. */
  readonly body: Buffer;
}

/** relp.md: TXNR is latched at 999,999,999; the next one is 1 again (0 is kept for hints). */
export const RELP_MAX_TXNR = 999_999_999;

/** relp.md: "In relp version 1, it is always 128K" — the data size both sides must accept. */
export const RELP_DEFAULT_MAX_DATALEN = 128 * 1024;

const SP = 0x20;
const LF = 0x0a;
const COMMAND = /^[A-Za-z]{1,32}$/;
/** Longest header: 9 digits, SP, 32 letters, SP, 9 digits, then SP or LF. */
const MAX_HEADER = 9 + 1 + 32 + 1 + 9 + 1;

export function nextRelpTxnr(txnr: number): number {
  return txnr >= RELP_MAX_TXNR ? 1 : txnr + 1;
}

/** One frame on the wire. Arguments are ours, never the peer's: a bad one is a programming error. */
export function encodeRelpFrame(txnr: number, command: string, data: Buffer = Buffer.alloc(0)): Buffer {
  if (!Number.isInteger(txnr) || txnr < 0 || txnr > RELP_MAX_TXNR) {
    throw new RangeError(`RELP txnr must be 0-${RELP_MAX_TXNR}`);
  }
  if (!COMMAND.test(command)) throw new RangeError('RELP command must be 1-32 letters');
  if (data.length > RELP_MAX_TXNR) throw new RangeError('RELP data too long');
  const head = data.length === 0 ? `${txnr} ${command} 0` : `${txnr} ${command} ${data.length} `;
  return Buffer.concat([Buffer.from(head, 'ascii'), data, Buffer.from([LF])]);
}

function protocolError(reason: string): SinkError {
  // Fixed reasons only: nothing the peer sent is echoed into logs.
  return new SinkError('ERR_AUDIT_SINK_PROTOCOL', { detail: `RELP: ${reason}` });
}

const isDigit = (byte: number): boolean => byte >= 0x30 && byte <= 0x39;
const isLetter = (byte: number): boolean => (byte | 0x20) >= 0x61 && (byte | 0x20) <= 0x7a;

interface Header {
  readonly txnr: number;
  readonly command: string;
  readonly dataLength: number;
  /** Bytes the header takes, SP before DATA (or the LF of an empty frame) excluded. */
  readonly size: number;
}

/**
 * Reads a header from the start of `buffer`: the header, `undefined` if more bytes are needed, or a
 * throw as soon as a byte cannot belong to a valid header (no waiting for a garbage "header" to end).
 */
function readHeader(buffer: Buffer, maxDataLength: number): Header | undefined {
  let at = 0;
  const field = (accept: (byte: number) => boolean, max: number, what: string): number | undefined => {
    const start = at;
    while (at < buffer.length && accept(buffer[at] as number)) {
      at += 1;
      if (at - start > max) throw protocolError(`${what} too long`);
    }
    if (at === buffer.length) return undefined;
    if (at === start) throw protocolError(`bad ${what}`);
    return start;
  };
  const separator = (what: string): boolean | undefined => {
    if (at === buffer.length) return undefined;
    if (buffer[at] !== SP) throw protocolError(`bad ${what}`);
    at += 1;
    return true;
  };

  const txnrStart = field(isDigit, 9, 'TXNR');
  if (txnrStart === undefined || separator('TXNR') === undefined) return undefined;
  const txnrEnd = at - 1;
  const commandStart = field(isLetter, 32, 'COMMAND');
  if (commandStart === undefined || separator('COMMAND') === undefined) return undefined;
  const commandEnd = at - 1;
  const lengthStart = field(isDigit, 9, 'DATALEN');
  if (lengthStart === undefined) return undefined;
  const next = buffer[at] as number;
  if (next !== SP && next !== LF) throw protocolError('bad DATALEN');

  const txnr = Number(buffer.toString('ascii', txnrStart, txnrEnd));
  const dataLength = Number(buffer.toString('ascii', lengthStart, at));
  if (dataLength > maxDataLength) throw protocolError('DATALEN above the accepted maximum');
  // An empty frame ends with the LF right after DATALEN; a frame with data has SP then DATA.
  if ((dataLength === 0) !== (next === LF)) throw protocolError('DATALEN does not match the frame');
  return { txnr, command: buffer.toString('ascii', commandStart, commandEnd), dataLength, size: at };
}

export interface RelpFrameParserOptions {
  /** Largest DATALEN accepted; a longer frame is refused before its data is buffered (default 128 KiB). */
  readonly maxDataLength?: number;
}

/**
 * An incremental parser: feed it the chunks of a stream as they come (a frame may span chunks, a
 * chunk may hold several frames); it returns the frames completed so far. A malformed frame throws
 * `ERR_AUDIT_SINK_PROTOCOL`, after which the stream is unusable (relp.md, "ERROR HANDLING": the
 * peer that detects a framing error closes the connection).
 */
export function createRelpFrameParser(options: RelpFrameParserOptions = {}): (chunk: Buffer) => RelpFrame[] {
  const maxDataLength = options.maxDataLength ?? RELP_DEFAULT_MAX_DATALEN;
  let pending: Buffer = Buffer.alloc(0);
  let broken = false;

  return (chunk) => {
    if (broken) throw protocolError('stream already failed');
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    const frames: RelpFrame[] = [];
    try {
      for (;;) {
        // Each field is bounded, so garbage fails within MAX_HEADER bytes: nothing piles up.
        const header = readHeader(pending.subarray(0, MAX_HEADER), maxDataLength);
        if (header === undefined) break;
        // Empty: `header LF`; with data: `header SP DATA LF`.
        const dataStart = header.size + 1;
        const end = header.dataLength === 0 ? header.size : dataStart + header.dataLength;
        if (pending.length <= end) break;
        if (pending[end] !== LF) throw protocolError('missing trailer');
        frames.push({
          txnr: header.txnr,
          command: header.command,
          data: header.dataLength === 0 ? Buffer.alloc(0) : Buffer.from(pending.subarray(dataStart, end)),
        });
        pending = pending.subarray(end + 1);
      }
    } catch (err) {
      broken = true;
      pending = Buffer.alloc(0);
      throw err;
    }
    return frames;
  };
}

/** The status and body of a `rsp` frame's data; an empty rsp (librelp's answer to `close`) is 200. */
export function parseRelpResponse(data: Buffer): RelpResponse {
  if (data.length === 0) return { status: 200, body: data };
  const lineEnd = data.indexOf(LF);
  const line = data.toString('latin1', 0, lineEnd === -1 ? data.length : lineEnd);
  const match = /^(\d{3})(?: |$)/.exec(line);
  if (match === null) throw protocolError('bad response status');
  return {
    status: Number(match[1]),
    body: lineEnd === -1 ? Buffer.alloc(0) : data.subarray(lineEnd + 1),
  };
}

/** Offers (`name[=value]` per line, relp.md "OFFERS") as a map; a name may appear once. */
export function parseRelpOffers(body: Buffer): Map<string, string> {
  const offers = new Map<string, string>();
  for (const line of body.toString('utf8').split('\n')) {
    if (line === '') continue;
    const eq = line.indexOf('=');
    const name = eq === -1 ? line : line.slice(0, eq);
    offers.set(name, eq === -1 ? '' : line.slice(eq + 1));
  }
  return offers;
}
