import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createDevCa, type AuditEvent } from '@gatehouse/core';
import { expect } from 'vitest';

/** A varied audit event: both outcomes, optional fields present or not, values rsyslog must unescape. */
export function sampleEvent(n: number): AuditEvent {
  const failure = n % 3 === 0;
  return {
    time: new Date(Date.UTC(2026, 2, 1, 12, 0, 0, n)).toISOString(),
    action: failure ? 'auth.login' : 'token.issue',
    outcome: failure ? 'failure' : 'success',
    component: 'auth-server',
    actor: n % 2 === 0 ? { sub: `user-${n}`, clientId: 'partner' } : { clientId: 'partner' },
    sourceIp: `192.0.2.${n % 250}`,
    requestId: `req-${n}`,
    ...(failure ? { reason: `bad "credentials" [${n}] \\ é` } : {}),
  };
}

/** The dev CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a foreign CA, as files. */
export async function writePki(dir: string): Promise<{
  caFile: string;
  otherCaFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  serverCert: string;
  serverKey: string;
}> {
  const ca = await createDevCa();
  const other = await createDevCa({ commonName: 'Some Other CA' });
  const server = await ca.issue({
    commonName: 'localhost',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
    usage: 'server',
  });
  const client = await ca.issue({ commonName: 'gatehouse-audit-sink', usage: 'client' });
  const files = {
    caFile: join(dir, 'ca.pem'),
    otherCaFile: join(dir, 'other-ca.pem'),
    serverCertFile: join(dir, 'server.pem'),
    serverKeyFile: join(dir, 'server-key.pem'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client-key.pem'),
  };
  await writeFile(files.caFile, ca.certPem);
  await writeFile(files.otherCaFile, other.certPem);
  await writeFile(files.serverCertFile, server.certPem);
  await writeFile(files.serverKeyFile, server.keyPem, { mode: 0o600 });
  await writeFile(files.clientCertFile, client.certPem);
  await writeFile(files.clientKeyFile, client.keyPem, { mode: 0o600 });
  return { ...files, serverCert: server.certPem, serverKey: server.keyPem };
}

/**
 * At-least-once, checked: every expected sequence number arrived, first arrivals in store order,
 * and the repeats (re-sent batches) number at most `window`.
 */
export function expectAtLeastOnce(
  received: readonly number[],
  expected: readonly number[],
  window: number,
): void {
  const seen = new Set<number>();
  const firsts: number[] = [];
  let repeats = 0;
  for (const seq of received) {
    if (seen.has(seq)) repeats += 1;
    else {
      seen.add(seq);
      firsts.push(seq);
    }
  }
  expect(firsts).toEqual(expected);
  expect(repeats).toBeLessThanOrEqual(window);
}

export const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);
