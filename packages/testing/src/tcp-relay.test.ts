import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createHttpServer, request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpRelay, type TcpRelay } from './tcp-relay.js';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** A port nothing listens on (bound, then closed): connections to it are refused. */
async function refusingPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function get(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('startTcpRelay', () => {
  let relay: TcpRelay | undefined;
  const servers: Server[] = [];
  afterEach(async () => {
    await relay?.close();
    for (const server of servers.splice(0)) server.close();
  });

  it('sends a connection a target refuses to the next target, and counts only the accepted ones', async () => {
    const live = createHttpServer((_req, res) => res.end('live'));
    servers.push(live);
    const livePort = await listen(live);
    const deadPort = await refusingPort();
    relay = await startTcpRelay([
      { host: '127.0.0.1', port: deadPort },
      { host: '127.0.0.1', port: livePort },
    ]);
    const answers = await Promise.all(Array.from({ length: 10 }, () => get(relay!.port)));
    expect(answers).toEqual(Array.from({ length: 10 }, () => 'live'));
    expect(relay.accepted).toEqual([0, 10]);
  });

  it('closes the client when every target refuses', async () => {
    relay = await startTcpRelay([{ host: '127.0.0.1', port: await refusingPort() }]);
    await expect(get(relay.port)).rejects.toThrow();
    expect(relay.accepted).toEqual([0]);
  });
});
