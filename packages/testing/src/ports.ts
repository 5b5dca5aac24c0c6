import { createServer, type Server } from 'node:net';

/** A port on 127.0.0.1 held by a probe listener until `release()`. */
export interface ReservedPort {
  readonly port: number;
  /** Frees the port: call it right before the server that must know its port listens on it. */
  release(): Promise<void>;
}

/**
 * Where reserved ports come from: below the ephemeral range of Linux (32768–60999 by default),
 * macOS and Windows (49152–65535), so that no `listen(0)` and no outgoing connection of any
 * process is handed the port between its release and the server's bind (CI met EADDRINUSE when
 * ports came from `listen(0)`), and above the demo stack's port bases (12000–29999, test/support).
 */
const BAND_LOW = 30_000;
const BAND_SIZE = 2_700;

/** Ports this process handed out already: a released one is not handed out twice. */
const handedOut = new Set<number>();

function bind(server: Server, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    };
    server.once('error', onError);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', onError);
      resolve(true);
    });
  });
}

/**
 * Reserves a TCP port on 127.0.0.1 for a server that must know its port before it listens (its
 * URL goes into its own configuration): the port is held until `release()`, to be called right
 * before the server listens; for a process started later, release it just before the spawn.
 */
export async function reservePort(): Promise<ReservedPort> {
  const probe = createServer();
  // A reservation never keeps the process alive (a setup that failed before releasing it).
  probe.unref();
  let port = 0;
  for (let attempt = 0; attempt < 100 && port === 0; attempt++) {
    const candidate = BAND_LOW + Math.floor(Math.random() * BAND_SIZE);
    if (!handedOut.has(candidate) && (await bind(probe, candidate))) port = candidate;
  }
  // The whole band taken: the kernel's choice is still better than failing.
  if (port === 0 && (await bind(probe, 0))) port = (probe.address() as { port: number }).port;
  handedOut.add(port);
  let released: Promise<void> | undefined;
  return {
    port,
    release: () => (released ??= new Promise<void>((resolve) => probe.close(() => resolve()))),
  };
}

/** A TCP port on 127.0.0.1 free right now, for a process started next (see `reservePort`). */
export async function freePort(): Promise<number> {
  const reserved = await reservePort();
  await reserved.release();
  return reserved.port;
}
