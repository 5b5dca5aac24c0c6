import { createDevCa, type CertificateAndKey } from '@gatehouse/core';
import { GATEWAY_ID } from './constants.js';

export interface TestPki {
  readonly caPem: string;
  /** The service's server certificate (127.0.0.1, localhost). */
  readonly service: CertificateAndKey;
  /** The gateway's client certificate: dev CA, SAN URI `GATEWAY_ID`. */
  readonly gateway: CertificateAndKey;
  /** Same CA, another workload's identity. */
  readonly otherIdentity: CertificateAndKey;
  /** Same CA, the gateway's name as CN only (no SAN URI). */
  readonly commonNameOnly: CertificateAndKey;
  /** The gateway's SAN URI, issued by a CA the service does not trust. */
  readonly rogue: CertificateAndKey;
  /** The gateway's identity from the dev CA, expired. */
  readonly expired: CertificateAndKey;
}

export async function createTestPki(): Promise<TestPki> {
  const ca = await createDevCa();
  const rogueCa = await createDevCa({ commonName: 'Gatehouse Development CA' });
  const gateway = { commonName: 'gateway', uri: [GATEWAY_ID], usage: 'client' } as const;
  return {
    caPem: ca.certPem,
    service: await ca.issue({
      commonName: 'service',
      dns: ['localhost'],
      ip: ['127.0.0.1'],
      usage: 'server',
    }),
    gateway: await ca.issue(gateway),
    otherIdentity: await ca.issue({
      commonName: 'orders',
      uri: ['spiffe://gatehouse.local/orders'],
      usage: 'client',
    }),
    commonNameOnly: await ca.issue({ commonName: GATEWAY_ID, usage: 'client' }),
    rogue: await rogueCa.issue(gateway),
    expired: await ca.issue({
      ...gateway,
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    }),
  };
}
