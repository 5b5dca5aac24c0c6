import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createDevCa } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type StartedGateway } from '../support/start-gateway.js';

const SERVICE_ID = 'spiffe://gatehouse.test/service/accounts';
const GATEWAY_ID = 'spiffe://gatehouse.test/gateway';

let dir: string;
let service: Server;
let serviceUrl: string;
const seen: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-mtls-'));
  const ca = await createDevCa();
  const other = await createDevCa({ commonName: 'Someone else' });
  const server = await ca.issue({
    commonName: 'accounts',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
    uri: [SERVICE_ID],
    usage: 'server',
  });
  const gatewayCert = await ca.issue({ commonName: 'gateway', uri: [GATEWAY_ID], usage: 'client' });
  const rogueCert = await other.issue({ commonName: 'gateway', uri: [GATEWAY_ID], usage: 'client' });
  await Promise.all([
    writeFile(join(dir, 'ca.pem'), ca.certPem),
    writeFile(join(dir, 'other-ca.pem'), other.certPem),
    writeFile(join(dir, 'gateway.pem'), gatewayCert.certPem),
    writeFile(join(dir, 'gateway-key.pem'), gatewayCert.keyPem),
    writeFile(join(dir, 'rogue.pem'), rogueCert.certPem),
    writeFile(join(dir, 'rogue-key.pem'), rogueCert.keyPem),
  ]);
  // The service accepts only client certificates of its CA (the gateway's), at the handshake.
  service = createServer(
    { cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const socket = req.socket;
      const peer =
        'getPeerX509Certificate' in socket ? (socket as TLSSocket).getPeerX509Certificate() : undefined;
      seen.push(peer?.subjectAltName ?? '');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    },
  );
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  serviceUrl = `https://127.0.0.1:${(service.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => service.close(resolve));
});

async function gatewayWith(tls: Record<string, unknown>): Promise<StartedGateway> {
  return startGateway(
    {
      upstreams: { accounts: { targets: [serviceUrl], tls, retries: 0 } },
      routes: [{ id: 'accounts', match: { pathPrefix: '/' }, upstream: 'accounts', auth: 'none' }],
    },
    { baseDir: dir },
  );
}

describe('mTLS to upstreams from the configuration', () => {
  it('presents the gateway certificate, pins the CA and checks the service identity', async () => {
    const gw = await gatewayWith({
      certFile: 'gateway.pem',
      keyFile: 'gateway-key.pem',
      caFile: 'ca.pem',
      identity: { uri: SERVICE_ID },
    });
    try {
      const res = await fetch(`${gw.url}/accounts`);
      expect(res.status).toBe(200);
      expect(seen.at(-1)).toContain(GATEWAY_ID);
    } finally {
      await gw.close();
    }
  });

  it.each([
    ['no client certificate', { caFile: 'ca.pem' }],
    [
      'a client certificate from another CA',
      { certFile: 'rogue.pem', keyFile: 'rogue-key.pem', caFile: 'ca.pem' },
    ],
    [
      'a service certificate the pinned CA did not issue',
      { certFile: 'gateway.pem', keyFile: 'gateway-key.pem', caFile: 'other-ca.pem' },
    ],
    [
      'a service with another identity',
      {
        certFile: 'gateway.pem',
        keyFile: 'gateway-key.pem',
        caFile: 'ca.pem',
        identity: { uri: 'spiffe://gatehouse.test/service/orders' },
      },
    ],
  ])('refuses %s with a generic 502', async (_name, tls) => {
    const gw = await gatewayWith(tls);
    try {
      const before = seen.length;
      const res = await fetch(`${gw.url}/accounts`);
      expect(res.status).toBe(502);
      const text = await res.text();
      expect(text).not.toMatch(/certificate|handshake|ECONN/i);
      expect(seen.length).toBe(before);
    } finally {
      await gw.close();
    }
  });
});
