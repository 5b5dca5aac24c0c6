import { connect } from 'node:net';

export interface SendRawOptions {
  /** How long to wait for the server to finish answering and close, after our half-close (default 5000). */
  timeoutMs?: number;
  host?: string;
  /**
   * Keep the connection open (no half-close) for this long, as a slowloris client would: `closed` then says
   * whether the server gave up on us first.
   */
  keepOpenMs?: number;
}

export interface SendRawResult {
  /** Status code of the first response, if any. */
  status: number | undefined;
  /** Everything the server sent, as latin1. */
  raw: string;
  /** The server closed (or reset) the connection before our deadline. */
  closed: boolean;
}

/**
 * Writes bytes exactly as given on a new TCP connection — request smuggling, malformed framing and slowloris
 * cases that no HTTP client would send — and collects the answer.
 */
export async function sendRaw(
  port: number,
  bytes: string | Buffer,
  options: SendRawOptions = {},
): Promise<SendRawResult> {
  const { timeoutMs = 5000, host = '127.0.0.1', keepOpenMs } = options;
  const socket = connect({ port, host, allowHalfOpen: true });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));

  const closed = await new Promise<boolean>((resolve, reject) => {
    let connected = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (serverClosed: boolean): void => {
      clearTimeout(timer);
      resolve(serverClosed);
    };
    socket.on('error', (error) => {
      if (connected)
        finish(true); // a reset (ECONNRESET/EPIPE) is the server closing on us too
      else reject(error);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.once('connect', () => {
      connected = true;
      socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
      if (keepOpenMs === undefined) socket.end();
      timer = setTimeout(() => finish(false), keepOpenMs ?? timeoutMs);
    });
  });
  socket.destroy();

  const raw = Buffer.concat(chunks).toString('latin1');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
  return { status: match ? Number(match[1]) : undefined, raw, closed };
}
