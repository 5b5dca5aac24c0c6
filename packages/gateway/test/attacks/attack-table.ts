import { connect } from 'node:net';
import type { ErrorCode } from '@gatehouse/core';
import { expect, it } from 'vitest';
import type { SendRawResult } from '../support/raw-http.js';
import type { RecordedRequest, RecordingUpstream } from '../support/recording-upstream.js';

/**
 * The attack table harness: each case is the exact bytes a client sends, and what the gateway must answer.
 * Every refusal is also checked on the other side: the recording upstream must not have received anything.
 */

/** The gateway's own answer: a status (or one of several the RFCs allow) and the problem `code` it carries. */
export interface Refusal {
  readonly status: number | readonly number[];
  /** The RFC 9457 `code` extension; absent where Node answers before the gateway sees the request. */
  readonly code?: ErrorCode;
  /** The gateway must also close the connection (no later bytes on it are ever parsed). */
  readonly closes?: boolean;
}

export interface AttackCase {
  readonly name: string;
  /** The request exactly as written on the socket (latin1: one char, one byte). */
  readonly request: string;
  /** The refusal, or `closed`: the connection is closed without an answer. */
  readonly refused: Refusal | 'closed';
  /**
   * An open finding against the gateway (what is wrong, where): the case is expected to fail until it is fixed.
   * Temporary by definition — remove it with the fix.
   */
  readonly knownGap?: string;
}

export interface AttackTarget {
  /** Port of the gateway under attack. */
  readonly port: number;
  readonly upstream: RecordingUpstream;
}

export interface ParsedResponse {
  readonly status: number;
  /** Lower-case names; repeated fields joined with `, `. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** The host every case names (no route matches on host). */
export const HOST = 'Host: gateway.test\r\n';

/** Splits the first response of `raw` (Content-Length or chunked framing; what is left otherwise). */
export function parseFirstResponse(raw: string): ParsedResponse | undefined {
  const end = raw.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...fields] = raw.slice(0, end).split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  if (match === null) return undefined;
  const headers: Record<string, string> = {};
  for (const field of fields) {
    const colon = field.indexOf(':');
    const name = field.slice(0, colon).trim().toLowerCase();
    const value = field.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  let rest = raw.slice(end + 4);
  if (headers['content-length'] !== undefined) {
    rest = rest.slice(0, Number(headers['content-length']));
  } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
    let body = '';
    for (;;) {
      const lineEnd = rest.indexOf('\r\n');
      const size = Number.parseInt(rest.slice(0, lineEnd), 16);
      if (lineEnd === -1 || !(size > 0)) break;
      body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
      rest = rest.slice(lineEnd + 4 + size);
    }
    rest = body;
  }
  return { status: Number(match[1]), headers, body: rest };
}

function problemCode(response: ParsedResponse): unknown {
  try {
    return (JSON.parse(response.body) as Record<string, unknown>)['code'];
  } catch {
    return undefined;
  }
}

/** Asserts that `result` is the refusal `refused` describes. */
export function expectRefusal(result: SendRawResult, refused: AttackCase['refused']): void {
  if (refused === 'closed') {
    expect(result.raw, 'no answer at all').toBe('');
    expect(result.closed, 'the gateway closed the connection').toBe(true);
    return;
  }
  const response = parseFirstResponse(result.raw);
  expect(response, `an HTTP answer, got ${JSON.stringify(result.raw.slice(0, 200))}`).toBeDefined();
  if (response === undefined) return;
  const statuses: readonly number[] = typeof refused.status === 'number' ? [refused.status] : refused.status;
  expect(statuses, `status ${response.status}: ${response.body.slice(0, 200)}`).toContain(response.status);
  if (refused.code !== undefined) {
    expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(problemCode(response)).toBe(refused.code);
  }
  if (refused.closes === true) {
    expect(response.headers['connection']?.toLowerCase()).toBe('close');
    expect(result.closed).toBe(true);
  }
}

export interface ExchangeOptions {
  /** How long to wait for the answer (default 5000 ms). */
  readonly timeoutMs?: number;
}

/** Where the first complete response ends in `raw`, or -1 while it is incomplete (1xx answers are skipped). */
function endOfFirstResponse(raw: string): number {
  let start = 0;
  for (;;) {
    const headEnd = raw.indexOf('\r\n\r\n', start);
    if (headEnd === -1) return -1;
    const head = raw.slice(start, headEnd).toLowerCase();
    if (/^http\/1\.[01] 1\d\d/.test(head)) {
      start = headEnd + 4;
      continue;
    }
    const length = /\r\ncontent-length: *(\d+)/.exec(head);
    if (length !== null) {
      const end = headEnd + 4 + Number(length[1]);
      return raw.length >= end ? end : -1;
    }
    if (/\r\ntransfer-encoding: *chunked/.test(head)) {
      const last = raw.indexOf('\r\n0\r\n\r\n', headEnd);
      if (raw.startsWith('0\r\n\r\n', headEnd + 4)) return headEnd + 9;
      return last === -1 ? -1 : last + 7;
    }
    return -1; // delimited by the close
  }
}

/**
 * Writes `bytes` on a new connection and reads the first response. The client never half-closes before that
 * response is complete (a server may take a half-close for an abort); then it half-closes, unless the answer said
 * `Connection: close`, in which case the gateway must close by itself. Resolves once the connection is closed
 * (`closed`), or at the deadline (`closed: false`).
 */
export async function exchange(
  port: number,
  bytes: string,
  options: ExchangeOptions = {},
): Promise<SendRawResult> {
  const { timeoutMs = 5000 } = options;
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  let halfClosed = false;
  const closed = await new Promise<boolean>((resolve, reject) => {
    let connected = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (serverClosed: boolean): void => {
      clearTimeout(timer);
      resolve(serverClosed);
    };
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      if (halfClosed) return;
      const raw = Buffer.concat(chunks).toString('latin1');
      const end = endOfFirstResponse(raw);
      if (end === -1) return;
      if (/\r\nconnection: *close\r\n/i.test(raw.slice(0, raw.indexOf('\r\n\r\n', 0) + 2))) return;
      halfClosed = true;
      socket.end();
    });
    socket.on('error', (error) => {
      if (connected) finish(true);
      else reject(error);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.once('connect', () => {
      connected = true;
      socket.write(Buffer.from(bytes, 'latin1'));
      timer = setTimeout(() => finish(false), timeoutMs);
    });
  });
  socket.destroy();
  const raw = Buffer.concat(chunks).toString('latin1');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return { status: match ? Number(match[1]) : undefined, raw, closed };
}

/**
 * Sends one case on a fresh connection and asserts the refusal, and that the upstream received nothing
 * while the gateway handled it (the answer is complete, the connection closed, before we look).
 */
export async function expectRefused(
  target: AttackTarget,
  attack: AttackCase,
  options: ExchangeOptions = {},
): Promise<SendRawResult> {
  const before = target.upstream.requests.length;
  const result = await exchange(target.port, attack.request, options);
  expectRefusal(result, attack.refused);
  expect(target.upstream.requests.slice(before), 'requests the upstream received').toEqual([]);
  return result;
}

/** A request that must pass, sanitised: its answer, and the one request the upstream received for it. */
export async function expectForwarded(
  target: AttackTarget,
  request: string,
  options: ExchangeOptions = {},
): Promise<{ response: ParsedResponse; received: RecordedRequest }> {
  const before = target.upstream.requests.length;
  const result = await exchange(target.port, request, options);
  const response = parseFirstResponse(result.raw);
  expect(response?.status, JSON.stringify(result.raw.slice(0, 300))).toBe(200);
  const received = target.upstream.requests.slice(before);
  expect(received, 'exactly one request reached the upstream').toHaveLength(1);
  return { response: response as ParsedResponse, received: received[0] as RecordedRequest };
}

export interface DribbleResult extends SendRawResult {
  /** How many parts were written before the gateway closed the connection. */
  readonly written: number;
}

/**
 * A slowloris client: writes `parts` one every `intervalMs` on one connection and never half-closes; stops
 * when the gateway closes on it, or at `deadlineMs` (then `closed` is false).
 */
export async function dribble(
  port: number,
  parts: readonly string[],
  intervalMs: number,
  deadlineMs: number,
): Promise<DribbleResult> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  let written = 0;
  let ticker: NodeJS.Timeout | undefined;
  let deadline: NodeJS.Timeout | undefined;
  const closed = await new Promise<boolean>((resolve, reject) => {
    let connected = false;
    const finish = (serverClosed: boolean): void => {
      clearInterval(ticker);
      clearTimeout(deadline);
      resolve(serverClosed);
    };
    socket.on('error', (error) => {
      if (connected) finish(true);
      else reject(error);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.once('connect', () => {
      connected = true;
      const writeNext = (): void => {
        const part = parts[written];
        if (part === undefined || socket.destroyed || !socket.writable) return;
        written += 1;
        socket.write(Buffer.from(part, 'latin1'));
      };
      writeNext();
      ticker = setInterval(writeNext, intervalMs);
      deadline = setTimeout(() => finish(false), deadlineMs);
    });
  });
  socket.destroy();
  const raw = Buffer.concat(chunks).toString('latin1');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return { status: match ? Number(match[1]) : undefined, raw, closed, written };
}

/** One test per case; a case with a `knownGap` runs as `it.fails` until the gateway is fixed. */
export function itEachCase(
  cases: readonly AttackCase[],
  run: (attack: AttackCase) => Promise<unknown>,
): void {
  const open = cases.filter((attack) => attack.knownGap === undefined);
  const gaps = cases.filter((attack) => attack.knownGap !== undefined);
  if (open.length > 0)
    it.each(open)('$name', async (attack) => {
      await run(attack);
    });
  if (gaps.length > 0)
    it.fails.each(gaps)('$name (open finding: $knownGap)', async (attack) => {
      await run(attack);
    });
}
