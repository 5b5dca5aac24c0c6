import { createServer } from 'node:net';

/** A port on 127.0.0.1 held by a probe listener until `release()`. */
export interface ReservedPort {
  readonly port: number;
  /** Frees the port: call it right before the server that must know its port listens on it. */
  release(): Promise<void>;
}

/**
 * Reserves a TCP port on 127.0.0.1 for a server that must know its port before it listens (its
 * URL goes into its own configuration). Holding the port until the server is about to listen
 * keeps other processes, and the ephemeral ports of outgoing connections, off it in between:
 * releasing it at once left seconds for that, and CI met EADDRINUSE.
 */
export async function reservePort(): Promise<ReservedPort> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  // A reservation never keeps the process alive (a setup that failed before releasing it).
  probe.unref();
  const { port } = probe.address() as { port: number };
  let released: Promise<void> | undefined;
  return {
    port,
    release: () => (released ??= new Promise<void>((resolve) => probe.close(() => resolve()))),
  };
}

/** A TCP port on 127.0.0.1 free right now (see `reservePort` for a server started later). */
export async function freePort(): Promise<number> {
  const reserved = await reservePort();
  await reserved.release();
  return reserved.port;
}
