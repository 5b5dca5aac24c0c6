import { SinkError, type SinkErrorCode } from '../sink-error.js';
import {
  createRelpFrameParser,
  encodeRelpFrame,
  nextRelpTxnr,
  parseRelpOffers,
  parseRelpResponse,
  type RelpFrame,
  type RelpResponse,
} from './relp-frame.js';
import { classifySocketError, connectSyslogSocket, type SyslogEndpoint } from './syslog-connection.js';

export interface RelpSessionOptions extends SyslogEndpoint {
  /** Time allowed to connect, TLS handshake and RELP `open` included. */
  readonly connectTimeoutMs: number;
  /** Most commands sent and not yet answered (relp.md: "the number of outstanding commands is limited by a window"). */
  readonly window: number;
  /** The destination as errors name it (`relp+tls://host:port`). */
  readonly where: string;
}

/** One open RELP session: commands go out in order, answers come back in that order. */
export interface RelpSession {
  /** Resolves once the server accepted `open` with the `syslog` command; rejects otherwise. */
  readonly ready: Promise<void>;
  /** Whether the session has failed or was closed: it takes no more commands. */
  readonly closed: boolean;
  /**
   * Sends a command, or queues it while the window is full. Resolves with the server's answer,
   * whatever its status; rejects if the session fails first (the command's fate is then unknown).
   */
  send(command: string, data: Buffer): Promise<RelpResponse>;
  /** Ends the session politely (relp.md "Command close"), cutting it after `timeoutMs`. Never rejects. */
  close(timeoutMs: number): Promise<void>;
  /** Cuts the connection; everything unanswered fails with `error`. */
  destroy(error: SinkError): void;
  /** Keeps the process alive while a batch is out; an idle session does not (`unref`). */
  ref(): void;
  unref(): void;
}

/**
 * relp.md "OFFERS": `relp_version` is required; librelp speaks version 0 and answers with it.
 * `commands=syslog` asks for the one optional command we use.
 */
const OPEN_OFFERS = Buffer.from('relp_version=0\nrelp_software=gatehouse\ncommands=syslog', 'utf8');

interface Waiting {
  readonly txnr: number;
  readonly resolve: (response: RelpResponse) => void;
  readonly reject: (error: SinkError) => void;
}

interface Queued {
  readonly command: string;
  readonly data: Buffer;
  readonly resolve: (response: RelpResponse) => void;
  readonly reject: (error: SinkError) => void;
}

/** Connects and opens a RELP session (relp.md "Session Startup"); use it once `ready` resolves. */
export function openRelpSession(options: RelpSessionOptions): RelpSession {
  const { where, window } = options;
  if (!Number.isInteger(window) || window < 1) throw new RangeError('RELP window must be a positive integer');
  const socket = connectSyslogSocket(options);
  const parse = createRelpFrameParser();
  const waiting: Waiting[] = [];
  const queued: Queued[] = [];
  let txnr = 0;
  let failure: SinkError | undefined;
  let resolveClosed: () => void = () => undefined;
  const socketClosed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });

  const error = (code: SinkErrorCode, reason: string, cause?: unknown): SinkError =>
    new SinkError(code, { detail: `${where}: ${reason}`, cause });

  /** A codec error with the destination named (the codec's reasons are fixed texts). */
  const protocolFailure = (err: unknown): SinkError =>
    error(
      'ERR_AUDIT_SINK_PROTOCOL',
      (err instanceof SinkError ? err.detail : undefined) ?? 'RELP: bad frame',
      err,
    );

  function fail(reason: SinkError): void {
    if (failure !== undefined) return;
    failure = reason;
    socket.destroy();
    for (const entry of waiting.splice(0)) entry.reject(reason);
    for (const entry of queued.splice(0)) entry.reject(reason);
  }

  function write(entry: Queued): void {
    txnr = nextRelpTxnr(txnr);
    waiting.push({ txnr, resolve: entry.resolve, reject: entry.reject });
    socket.write(encodeRelpFrame(txnr, entry.command, entry.data));
  }

  function onFrame(frame: RelpFrame): void {
    if (frame.txnr === 0) {
      // relp.md "Hint Command serverclose": the server is going away; anything unanswered is lost.
      if (frame.command === 'serverclose')
        fail(error('ERR_AUDIT_SINK_UNREACHABLE', 'receiver closed the session'));
      return; // other hints carry nothing we act on
    }
    const head = waiting[0];
    if (frame.command !== 'rsp') {
      fail(error('ERR_AUDIT_SINK_PROTOCOL', 'RELP: a command from the server'));
      return;
    }
    // relp.md: "Responses must be sent by the server in the exact same order as commands".
    if (head?.txnr !== frame.txnr) {
      fail(error('ERR_AUDIT_SINK_PROTOCOL', 'RELP: response to an unexpected transaction'));
      return;
    }
    let response: RelpResponse;
    try {
      response = parseRelpResponse(frame.data);
    } catch (err) {
      fail(protocolFailure(err));
      return;
    }
    waiting.shift();
    head.resolve(response);
    while (failure === undefined && waiting.length < window) {
      const next = queued.shift();
      if (next === undefined) break;
      write(next);
    }
  }

  function send(command: string, data: Buffer): Promise<RelpResponse> {
    return new Promise<RelpResponse>((resolve, reject) => {
      if (failure !== undefined) {
        reject(failure);
        return;
      }
      const entry = { command, data, resolve, reject };
      if (waiting.length < window && queued.length === 0) write(entry);
      else queued.push(entry);
    });
  }

  socket.on('data', (chunk: Buffer) => {
    let frames: RelpFrame[];
    try {
      frames = parse(chunk);
    } catch (err) {
      fail(protocolFailure(err));
      return;
    }
    for (const frame of frames) {
      if (failure !== undefined) return;
      onFrame(frame);
    }
  });
  socket.once('end', () => {
    fail(error('ERR_AUDIT_SINK_UNREACHABLE', 'connection closed before the receiver answered'));
  });
  socket.once('error', (err: Error) => {
    const { code, reason } = classifySocketError(err);
    fail(error(code, reason, err));
  });
  socket.once('close', () => {
    fail(error('ERR_AUDIT_SINK_UNREACHABLE', 'connection closed before the receiver answered'));
    resolveClosed();
  });

  // Node holds writes until the connection (and TLS handshake) is up, so `open` goes out first.
  async function openSession(): Promise<void> {
    const timer = setTimeout(() => {
      fail(error('ERR_AUDIT_SINK_TIMEOUT', 'no session'));
    }, options.connectTimeoutMs);
    try {
      const refusal = checkOpenResponse(await send('open', OPEN_OFFERS));
      if (refusal !== undefined) {
        const reason = error(refusal.code, refusal.reason);
        fail(reason);
        throw reason;
      }
    } finally {
      clearTimeout(timer);
    }
  }
  const ready = openSession();
  // Awaited by each batch; a session that fails before anyone waits is no unhandled rejection.
  ready.catch(() => undefined);

  return {
    ready,
    get closed() {
      return failure !== undefined;
    },
    send,
    async close(timeoutMs) {
      if (failure !== undefined) return;
      if (waiting.length > 0 || queued.length > 0) {
        fail(error('ERR_AUDIT_SINK_ABORTED', 'session closed with commands unanswered'));
        return;
      }
      const timer = setTimeout(() => {
        fail(error('ERR_AUDIT_SINK_TIMEOUT', 'no answer to close'));
      }, timeoutMs);
      try {
        await send('close', Buffer.alloc(0));
        // relp.md "Command close": once the answer is in, the client closes the connection.
        socket.end();
      } catch {
        // failed meanwhile: the socket is already destroyed
      }
      await socketClosed;
      clearTimeout(timer);
    },
    destroy: fail,
    ref() {
      socket.ref();
    },
    unref() {
      socket.unref();
    },
  };
}

/** relp.md "Command open": the answer must carry `relp_version`, and `commands` must list `syslog`. */
function checkOpenResponse(response: RelpResponse): { code: SinkErrorCode; reason: string } | undefined {
  if (response.status !== 200) {
    return {
      code: 'ERR_AUDIT_SINK_UNAVAILABLE',
      reason: `receiver refused the session (status ${response.status})`,
    };
  }
  const offers = parseRelpOffers(response.body);
  if (!offers.has('relp_version')) {
    return { code: 'ERR_AUDIT_SINK_REJECTED', reason: 'RELP: receiver offered no relp_version' };
  }
  if (!(offers.get('commands') ?? '').split(',').includes('syslog')) {
    return { code: 'ERR_AUDIT_SINK_REJECTED', reason: 'RELP: receiver does not accept the syslog command' };
  }
  return undefined;
}
