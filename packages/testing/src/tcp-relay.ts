import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A TCP target of the relay: `host:port`. */
export interface RelayTarget {
  readonly host: string;
  readonly port: number;
}

export interface TcpRelay {
  /** The port the relay listens on (127.0.0.1); stays the same across `cut` and `restore`. */
  readonly port: number;
  /** `scheme://127.0.0.1:port` for URLs in configurations. */
  url(scheme: string): string;
  /** Connections accepted so far, per target index (load-balancer spread). */
  readonly accepted: number[];
  /** Severs every open connection and stops listening (the dependency is down: connection refused). */
  cut(): Promise<void>;
  /** Listens again on the same port. */
  restore(): Promise<void>;
  /**
   * Severs every open connection but keeps listening: new connections are accepted and then held
   * without an answer while `blackhole` is on (a dependency that hangs rather than refuses).
   */
  setBlackhole(on: boolean): void;
  /** Which targets new connections go to (round-robin); existing connections are left alone. */
  setTargets(targets: readonly RelayTarget[]): void;
  /** Closes every connection and the listener. */
  close(): Promise<void>;
}

/** `host:port` of a URL such as `redis://127.0.0.1:6379` or `postgres://u@h:5432/db`. */
export function relayTargetOf(url: string, defaultPort: number): RelayTarget {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || defaultPort) };
}

/**
 * A TCP relay on 127.0.0.1 in front of real services: a round-robin load balancer over several
 * instances of a component (a refused connection goes to the next instance), or a cable to
 * PostgreSQL or Redis that a fault test cuts and restores on the same port. Nothing is parsed:
 * bytes are piped both ways.
 */
export async function startTcpRelay(initialTargets: readonly RelayTarget[], port = 0): Promise<TcpRelay> {
  let targets = [...initialTargets];
  let next = 0;
  let blackhole = false;
  let server: Server | undefined;
  let boundPort = port;
  const sockets = new Set<Socket>();
  const accepted = targets.map(() => 0);

  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
  };

  const onConnection = (client: Socket): void => {
    track(client);
    if (blackhole || targets.length === 0) return;
    // As a load balancer does with a backend that refuses (nginx `proxy_next_upstream error`): a
    // connection a target refuses is tried on the next one, each target once. Bytes are relayed only
    // once a target accepted, so nothing the client sent is lost on the way.
    client.pause();
    const first = next++;
    const tryTarget = (attempt: number): void => {
      const index = (first + attempt) % targets.length;
      const target = targets[index];
      if (client.destroyed || attempt >= targets.length || target === undefined) {
        client.destroy();
        return;
      }
      const upstream = connect(target.port, target.host);
      track(upstream);
      const refused = (): void => tryTarget(attempt + 1);
      upstream.once('error', refused);
      upstream.once('connect', () => {
        upstream.off('error', refused);
        if (client.destroyed) {
          upstream.destroy();
          return;
        }
        accepted[index] = (accepted[index] ?? 0) + 1;
        upstream.on('close', () => client.destroy());
        client.on('close', () => upstream.destroy());
        client.pipe(upstream).pipe(client);
      });
    };
    tryTarget(0);
  };

  const listen = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const created = createServer(onConnection);
      created.once('error', reject);
      created.listen(boundPort, '127.0.0.1', () => {
        created.off('error', reject);
        boundPort = (created.address() as AddressInfo).port;
        server = created;
        resolve();
      });
    });

  const severAll = (): void => {
    for (const socket of sockets) socket.destroy();
    sockets.clear();
  };

  const cut = async (): Promise<void> => {
    const current = server;
    server = undefined;
    severAll();
    if (current !== undefined) await new Promise<void>((resolve) => current.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return boundPort;
    },
    url: (scheme) => `${scheme}://127.0.0.1:${boundPort}`,
    accepted,
    cut,
    restore: async () => {
      if (server === undefined) await listen();
    },
    setBlackhole: (on) => {
      blackhole = on;
      if (on) severAll();
    },
    setTargets: (list) => {
      targets = [...list];
      for (let i = accepted.length; i < targets.length; i++) accepted.push(0);
    },
    close: cut,
  };
}
