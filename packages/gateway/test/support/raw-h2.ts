import { connect as tlsConnect, type TLSSocket } from 'node:tls';

/**
 * A deliberately bad HTTP/2 client: it writes frames exactly as told (RFC 9113 §4.1, §6), so that tests can send
 * what a well-behaved client library refuses to — malformed header lists, CONTINUATION floods, streams reset as
 * soon as they are opened — and see which frames the server answers with. Header blocks are HPACK literals
 * without indexing and without Huffman coding (RFC 7541 §6.2.2), which every decoder must accept.
 */

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  GOAWAY: 0x7,
  CONTINUATION: 0x9,
} as const;

export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4 } as const;

/** RFC 9113 §7 error codes the tests look for. */
export const H2_ERROR = {
  NO_ERROR: 0x0,
  PROTOCOL_ERROR: 0x1,
  INTERNAL_ERROR: 0x2,
  REFUSED_STREAM: 0x7,
  CANCEL: 0x8,
  COMPRESSION_ERROR: 0x9,
  ENHANCE_YOUR_CALM: 0xb,
} as const;

/** RFC 7541 Appendix A: the `:status` entries of the static table, by index. */
const STATIC_STATUS: Readonly<Record<number, number>> = {
  8: 200,
  9: 204,
  10: 206,
  11: 304,
  12: 400,
  13: 404,
  14: 500,
};

export interface Frame {
  readonly type: number;
  readonly flags: number;
  readonly stream: number;
  readonly payload: Buffer;
}

/** RFC 7541 §5.1 integer with an N-bit prefix. */
function encodeInteger(value: number, prefixBits: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [value];
  const bytes = [max];
  let rest = value - max;
  while (rest >= 128) {
    bytes.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return bytes;
}

function encodeString(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  return Buffer.concat([Buffer.from(encodeInteger(bytes.length, 7)), bytes]);
}

/** A header block: each field a literal without indexing, new name (RFC 7541 §6.2.2), in the order given. */
export function headerBlock(fields: readonly (readonly [string, string])[]): Buffer {
  return Buffer.concat(
    fields.flatMap(([name, value]) => [Buffer.of(0), encodeString(name), encodeString(value)]),
  );
}

export function frame(
  type: number,
  flags: number,
  stream: number,
  payload: Buffer = Buffer.alloc(0),
): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}

/** RST_STREAM with `code` (RFC 9113 §6.4). */
export function resetFrame(stream: number, code: number): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(code);
  return frame(FRAME.RST_STREAM, 0, stream, payload);
}

/** A header block split into HEADERS + CONTINUATION frames of at most `size` bytes (RFC 9113 §6.10). */
export function headerFrames(stream: number, block: Buffer, endStream: boolean, size = 16_384): Buffer[] {
  const frames: Buffer[] = [];
  for (let offset = 0; offset === 0 || offset < block.length; offset += size) {
    const last = offset + size >= block.length;
    const flags = (last ? FLAG.END_HEADERS : 0) | (offset === 0 && endStream ? FLAG.END_STREAM : 0);
    frames.push(
      frame(
        offset === 0 ? FRAME.HEADERS : FRAME.CONTINUATION,
        flags,
        stream,
        block.subarray(offset, offset + size),
      ),
    );
  }
  return frames;
}

export interface RawH2Connection {
  readonly socket: TLSSocket;
  /** Every frame received so far, in order. */
  readonly frames: readonly Frame[];
  readonly closed: boolean;
  /** The code of the socket error after the connection opened (`ECONNRESET`: the server reset it). */
  readonly error: string | undefined;
  send(bytes: Buffer | readonly Buffer[]): void;
  /** Resolves once `predicate` holds, the connection closed, or `timeoutMs` passed. */
  until(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** The GOAWAY received, if any (RFC 9113 §6.8). */
  goaway(): { readonly lastStream: number; readonly code: number } | undefined;
  /** The error code of the RST_STREAM received on `stream`, if any. */
  resetCode(stream: number): number | undefined;
  /** Whether a response HEADERS frame arrived on `stream`. */
  answered(stream: number): boolean;
  /**
   * The response status on `stream` when the server sent it as an indexed field of the HPACK static table
   * (RFC 7541 Appendix A: 200, 204, 206, 304, 400, 404, 500), which nghttp2 does for these; else undefined.
   */
  status(stream: number): number | undefined;
  /** Resolves once the server's SETTINGS arrived (and were acknowledged): its limits are in force from then on. */
  settled(): Promise<void>;
  close(): void;
}

/** Opens a TLS connection offering only `h2`, sends the preface and empty SETTINGS, and acknowledges the server's. */
export function connectRawH2(port: number, ca: string): Promise<RawH2Connection> {
  return new Promise((resolve, reject) => {
    const frames: Frame[] = [];
    const waiters: (() => void)[] = [];
    let buffered = Buffer.alloc(0);
    let closed = false;
    let error: string | undefined;
    const wake = (): void => {
      for (const waiter of waiters.splice(0)) waiter();
    };
    const socket = tlsConnect(
      { port, host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['h2'] },
      () => {
        if (socket.alpnProtocol !== 'h2') {
          reject(new Error(`the server chose ${String(socket.alpnProtocol)}, not h2`));
          socket.destroy();
          return;
        }
        socket.write(
          Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(FRAME.SETTINGS, 0, 0)]),
        );
        resolve(connection);
      },
    );
    socket.once('error', (err: NodeJS.ErrnoException) => {
      error = err.code ?? err.message;
      if (!closed) reject(err);
    });
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      while (buffered.length >= 9) {
        const length = buffered.readUIntBE(0, 3);
        if (buffered.length < 9 + length) break;
        const received: Frame = {
          type: buffered[3] as number,
          flags: buffered[4] as number,
          stream: buffered.readUInt32BE(5) & 0x7fffffff,
          payload: buffered.subarray(9, 9 + length),
        };
        buffered = buffered.subarray(9 + length);
        frames.push(received);
        if (received.type === FRAME.SETTINGS && (received.flags & FLAG.ACK) === 0 && !socket.destroyed)
          socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
      }
      wake();
    });
    socket.on('close', () => {
      closed = true;
      wake();
    });
    const connection: RawH2Connection = {
      socket,
      frames,
      get closed() {
        return closed;
      },
      get error() {
        return error;
      },
      send(bytes) {
        if (!socket.destroyed) socket.write(Buffer.isBuffer(bytes) ? bytes : Buffer.concat(bytes));
      },
      async until(predicate, timeoutMs = 5000) {
        const deadline = Date.now() + timeoutMs;
        while (!predicate() && !closed && Date.now() < deadline) {
          await new Promise<void>((wakeUp) => {
            waiters.push(wakeUp);
            setTimeout(wakeUp, 50);
          });
        }
      },
      goaway() {
        const found = frames.find((f) => f.type === FRAME.GOAWAY);
        return found === undefined
          ? undefined
          : { lastStream: found.payload.readUInt32BE(0) & 0x7fffffff, code: found.payload.readUInt32BE(4) };
      },
      resetCode(stream) {
        return frames
          .find((f) => f.type === FRAME.RST_STREAM && f.stream === stream)
          ?.payload.readUInt32BE(0);
      },
      answered(stream) {
        return frames.some((f) => f.type === FRAME.HEADERS && f.stream === stream);
      },
      status(stream) {
        const first = frames.find((f) => f.type === FRAME.HEADERS && f.stream === stream)?.payload[0];
        return first === undefined || (first & 0x80) === 0 ? undefined : STATIC_STATUS[first & 0x7f];
      },
      async settled() {
        await connection.until(() =>
          frames.some((f) => f.type === FRAME.SETTINGS && (f.flags & FLAG.ACK) === 0),
        );
      },
      close() {
        socket.destroy();
      },
    };
  });
}
