import { X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDevCa, type CertificateAndKey } from '@gatehouse/core';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, TEST_ADMIN_TOKEN, type TestDeployment } from './helpers/cli.js';
import { pollUntil, startGatewayInProcess, startUpstream, type TestUpstream } from './helpers/gateway.js';
import { startCommand } from './helpers/in-process.js';

/**
 * `admin.operators`: operators authenticate to the admin APIs of the auth server and the gateway
 * with a client certificate instead of the admin token. The listeners ask for certificates
 * (`clientAuth: optional`) and verify them against `caFile`; an operator is named by a SAN URI or
 * by the certificate's SHA-256 thumbprint (here in the hex form `gatehouse certs` prints).
 */

const ALICE_URI = 'spiffe://ops.example/alice';

interface Party {
  readonly name: string;
  readonly client?: CertificateAndKey;
}

let deployment: TestDeployment;
let upstream: TestUpstream;
let caPem: string;
let parties: Record<'alice' | 'bob' | 'carol' | 'mallory' | 'nobody', Party>;
let stops: (() => Promise<unknown>)[] = [];
const urls: { authServer: string; gateway: string } = { authServer: '', gateway: '' };

function writePki(name: string, pem: string): void {
  mkdirSync(join(deployment.dir, 'pki'), { recursive: true });
  writeFileSync(join(deployment.dir, 'pki', name), pem);
}

async function startStack(token: boolean): Promise<void> {
  const adminTls =
    '{ certFile: pki/admin.pem, keyFile: pki/admin-key.pem, caFile: pki/ca.pem, clientAuth: optional }';
  const bob = new X509Certificate(parties.bob.client!.certPem).fingerprint256;
  deployment = await createTestDeployment(
    [
      'authServer:',
      '  issuer: http://127.0.0.1:4000',
      '  listen:',
      '    port: 0',
      'admin:',
      ...(token ? ['  token: ${GATEHOUSE_ADMIN_TOKEN}'] : []),
      `  operators: [${JSON.stringify(ALICE_URI)}, ${JSON.stringify(`sha256:${bob}`)}]`,
      '  listen:',
      '    port: 0',
      `    tls: ${adminTls}`,
      'gateway:',
      '  listen:',
      '    port: 0',
      '  admin:',
      '    listen:',
      '      port: 0',
      `      tls: ${adminTls}`,
      '  upstreams:',
      '    echo:',
      `      targets: [${JSON.stringify(upstream.url)}]`,
      '  routes:',
      '    - { id: open, match: { pathPrefix: /open }, upstream: echo, auth: none }',
      '',
    ].join('\n'),
  );
  writePki('ca.pem', caPem);
  writePki('admin.pem', server.certPem);
  writePki('admin-key.pem', server.keyPem);
  const authServer = await startCommand(['auth-server'], deployment, /admin API on \S+\/admin/);
  urls.authServer = /admin API on (\S+)\/admin/.exec(authServer.stderr())![1]!;
  const gateway = await startGatewayInProcess(deployment.dir, deployment.env);
  urls.gateway = gateway.admin;
  stops = [() => gateway.stop(), () => authServer.stop(), () => deployment.remove()];
}

async function stopStack(): Promise<void> {
  for (const stop of stops) await stop();
  stops = [];
}

let server: CertificateAndKey;

beforeAll(async () => {
  upstream = await startUpstream();
  const ca = await createDevCa();
  const other = await createDevCa({ commonName: 'Another CA' });
  caPem = ca.certPem;
  server = await ca.issue({
    commonName: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
    usage: 'server',
  });
  parties = {
    alice: {
      name: 'alice',
      client: await ca.issue({ commonName: 'alice', uri: [ALICE_URI], usage: 'client' }),
    },
    bob: { name: 'bob', client: await ca.issue({ commonName: 'bob', usage: 'client' }) },
    carol: {
      name: 'carol',
      client: await ca.issue({ commonName: 'carol', uri: ['spiffe://ops.example/carol'], usage: 'client' }),
    },
    // Alice's URI in a certificate the listener's CA never issued.
    mallory: {
      name: 'mallory',
      client: await other.issue({ commonName: 'alice', uri: [ALICE_URI], usage: 'client' }),
    },
    nobody: { name: 'nobody' },
  };
});
afterAll(async () => {
  await stopStack();
  await upstream.close();
});

/** GET of one admin path as `party`, with or without the admin token. */
async function call(url: string, party: Party, withToken: boolean): Promise<number> {
  const agent = new Agent({
    connect: {
      ca: caPem,
      ...(party.client === undefined ? {} : { cert: party.client.certPem, key: party.client.keyPem }),
    },
  });
  try {
    const answer = await request(url, {
      dispatcher: agent,
      headers: withToken ? { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } : {},
    });
    await answer.body.dump();
    return answer.statusCode;
  } finally {
    await agent.close();
  }
}

const ADMIN_PATHS = { authServer: '/admin/keys', gateway: '/admin/gateway/routes' } as const;

describe.each(['authServer', 'gateway'] as const)('admin operators on the %s admin API', (component) => {
  const path = ADMIN_PATHS[component];

  describe('operators only (no admin.token)', () => {
    beforeAll(() => startStack(false));
    afterAll(() => stopStack());

    it.each([
      ['alice', 'her SAN URI is listed', 200],
      ['bob', "his certificate's thumbprint is listed", 200],
      ['carol', 'a certificate of the same CA that is not listed', 403],
      ['mallory', "alice's URI in a certificate of another CA (not verified)", 403],
      ['nobody', 'no certificate', 403],
    ] as const)('%s (%s) → %i', async (who, _why, status) => {
      expect(await call(`${urls[component]}${path}`, parties[who], false)).toBe(status);
      // No token is configured: presenting one changes nothing.
      expect(await call(`${urls[component]}${path}`, parties[who], true)).toBe(status);
    });
  });

  describe('operators and the admin token', () => {
    beforeAll(() => startStack(true));
    afterAll(() => stopStack());

    it.each([
      ['alice', false, 200],
      ['carol', true, 200],
      ['carol', false, 401],
      ['mallory', false, 401],
      ['nobody', true, 200],
      ['nobody', false, 401],
    ] as const)('%s, token %s → %i', async (who, withToken, status) => {
      expect(await call(`${urls[component]}${path}`, parties[who], withToken)).toBe(status);
    });
  });
});

describe('what an operator does is attributed to them', () => {
  it("what an operator does is theirs: a ban added with alice's certificate names her URI", async () => {
    await startStack(false);
    try {
      const agent = new Agent({
        connect: { ca: caPem, cert: parties.alice.client!.certPem, key: parties.alice.client!.keyPem },
      });
      const added = await request(`${urls.gateway}/admin/gateway/bans`, {
        method: 'POST',
        dispatcher: agent,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ subject: '203.0.113.9', durationSec: 60, reason: 'test' }),
      });
      expect(added.statusCode).toBe(201);
      expect(await added.body.json()).toMatchObject({ subject: '203.0.113.9', createdBy: ALICE_URI });
      await agent.close();
    } finally {
      await stopStack();
    }
  });

  it("what an operator does is theirs: the audit event of alice's request names her URI", async () => {
    await startStack(false);
    try {
      expect(await call(`${urls.authServer}/admin/clients`, parties.alice, false)).toBe(200);
      const listed = await pollUntil(
        async () =>
          (await deployment.run(['audit', 'export'])).stdout
            .split('\n')
            .filter((line) => line.includes('admin.client.list')),
        (lines) => lines.length > 0,
        5000,
      );
      expect(listed.join('\n')).toContain(`"operator":${JSON.stringify(ALICE_URI)}`);
    } finally {
      await stopStack();
    }
  });
});
