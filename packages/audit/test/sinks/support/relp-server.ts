import { createServer, type Server, type Socket } from 'node:net';

interface RelpFrame {
  readonly txnr: number;
  readonly command: string;
  readonly data: Buffer;
}

/** A frame as librelp writes it: `TXNR SP COMMAND SP DATALEN [SP DATA] LF`. */
function encodeRelpFrame(txnr: number, command: string, data = Buffer.alloc(0)): Buffer {
  const head = data.length === 0 ? `${txnr} ${command} 0` : `${txnr} ${command} ${data.length} `;
  return Buffer.concat([Buffer.from(head), data, Buffer.from('\n')]);
}

const HEADER = /^(\d{1,9}) ([a-zA-Z]{1,32}) (\d{1,9})([ \n])/;

/** Reads the client's frames with a codec of its own, so a bug in the sink's codec cannot hide here. */
function createRelpFrameParser(): (chunk: Buffer) => RelpFrame[] {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    const frames: RelpFrame[] = [];
    for (;;) {
      const header = HEADER.exec(pending.toString('latin1', 0, 64));
      if (header === null) {
        if (pending.length >= 64 || !/^[\d a-zA-Z]*$/.test(pending.toString('latin1'))) {
          throw new Error('bad frame');
        }
        return frames;
      }
      const [head, txnr, command, length, separator] = header as unknown as string[];
      const size = Number(length);
      const start = separator === '\n' ? head!.length - 1 : head!.length;
      if (pending.length <= start + size) return frames;
      if (pending[start + size] !== 0x0a) throw new Error('bad trailer');
      frames.push({ txnr: Number(txnr), command: command!, data: pending.subarray(start, start + size) });
      pending = pending.subarray(start + size + 1);
    }
  };
}

/**
 * How the scripted server answers one `syslog` command: a status (`200`, `500`), or a fault —
 * stop answering for the rest of the session, answer another txnr, answer with a broken frame, or
 * send `serverclose` and hang up.
 */
export type RelpAnswer = number | 'hang' | 'wrong-txnr' | 'garbage' | 'serverclose';

export interface ReceivedRelpMessage {
  readonly session: number;
  readonly seq: number;
  readonly answer: RelpAnswer;
}

export interface ScriptedRelpServer {
  readonly port: number;
  /** The answer to the n-th `syslog` command (1-based, over all sessions); default 200. */
  answer: (n: number) => RelpAnswer;
  /** Data of the `rsp` to `open` (default: what librelp 1.11 answers). */
  openAnswer: string;
  /** Holds answers until no command came for `batchAnswersMs`, then answers all (to see the window). */
  batchAnswersMs: number;
  readonly messages: ReceivedRelpMessage[];
  /** Commands other than `syslog`, per session: `open`, `close`. */
  readonly commands: { session: number; command: string }[];
  /** The most `syslog` commands received and not yet answered at any time. */
  maxUnanswered: number;
  /** Sequence numbers answered with 200, in order. */
  accepted(): number[];
  /** Connections still open. */
  openConnections(): number;
  /** Ends every session as imrelp does on shutdown (`serverclose`, then close), and keeps listening. */
  dropSessions(): void;
  close(): Promise<void>;
}

const LIBRELP_OPEN_ANSWER =
  '200 OK\nrelp_version=0\nrelp_software=librelp,1.11.0,http://librelp.adiscon.com\ncommands=syslog';

/**
 * A scripted RELP server for the failures rsyslog cannot be made to produce on demand (a `500`, a
 * wrong txnr, garbage, an answer that never comes). It speaks the wire format of librelp, checked
 * against rsyslog imrelp 8.2302 / librelp 1.11 (relp-rsyslog.test.ts covers the real one).
 */
export async function createScriptedRelpServer(): Promise<ScriptedRelpServer> {
  const sockets = new Set<Socket>();
  let sessions = 0;
  let syslogCount = 0;

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const session = (sessions += 1);
    const parse = createRelpFrameParser();
    let held: Buffer[] = [];
    let unanswered = 0;
    let stuck = false;
    let timer: NodeJS.Timeout | undefined;

    const flush = (): void => {
      unanswered = 0;
      if (held.length > 0 && !socket.destroyed) socket.write(Buffer.concat(held));
      held = [];
    };
    const reply = (frame: Buffer): void => {
      if (scripted.batchAnswersMs === 0) {
        unanswered = 0;
        socket.write(frame);
        return;
      }
      held.push(frame);
      clearTimeout(timer);
      timer = setTimeout(flush, scripted.batchAnswersMs);
    };

    const onSyslog = (frame: RelpFrame): void => {
      syslogCount += 1;
      unanswered += 1;
      scripted.maxUnanswered = Math.max(scripted.maxUnanswered, unanswered);
      // A server that stopped answering stays stuck for the rest of the session.
      const answer = stuck ? 'hang' : scripted.answer(syslogCount);
      stuck = answer === 'hang';
      const seq = Number(/ seq="(\d+)"/.exec(frame.data.toString('utf8'))?.[1]);
      scripted.messages.push({ session, seq, answer });
      if (typeof answer === 'number') {
        reply(encodeRelpFrame(frame.txnr, 'rsp', Buffer.from(answer === 200 ? '200 OK' : `${answer} error`)));
      } else if (answer === 'wrong-txnr') {
        reply(encodeRelpFrame(frame.txnr + 1, 'rsp', Buffer.from('200 OK')));
      } else if (answer === 'garbage') {
        socket.write('HTTP/1.1 400 Bad Request\r\n\r\n');
      } else if (answer === 'serverclose') {
        socket.end(encodeRelpFrame(0, 'serverclose'));
      }
    };

    socket.on('data', (chunk: Buffer) => {
      let frames: RelpFrame[];
      try {
        frames = parse(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const frame of frames) {
        if (frame.command === 'syslog') {
          onSyslog(frame);
          continue;
        }
        scripted.commands.push({ session, command: frame.command });
        if (frame.command === 'open') {
          socket.write(encodeRelpFrame(frame.txnr, 'rsp', Buffer.from(scripted.openAnswer)));
        } else if (frame.command === 'close') {
          flush();
          socket.write(encodeRelpFrame(frame.txnr, 'rsp'));
          socket.end(encodeRelpFrame(0, 'serverclose'));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));

  const scripted: ScriptedRelpServer = {
    port: (server.address() as { port: number }).port,
    answer: () => 200,
    openAnswer: LIBRELP_OPEN_ANSWER,
    batchAnswersMs: 0,
    messages: [],
    commands: [],
    maxUnanswered: 0,
    accepted() {
      return scripted.messages.filter((message) => message.answer === 200).map((message) => message.seq);
    },
    openConnections() {
      return sockets.size;
    },
    dropSessions() {
      for (const socket of sockets) socket.end(encodeRelpFrame(0, 'serverclose'));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return scripted;
}
