import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevCa, type CertificateAndKey, type DevCa, type TlsListenerInput } from '@gatehouse/core';
import { writePem } from '../support/tls-gateway.js';

/** Certificates of a TLS external-authorization listener, as files in a folder of their own. */
export interface ExtAuthzPki {
  /** The gateway's base folder: `ca.pem`, `ext-authz.pem`, `ext-authz-key.pem`, `data-plane{,-key}.pem`. */
  readonly dir: string;
  /** Issues the listener's certificate and the data plane's, and is the listener's `caFile`. */
  readonly ca: DevCa;
  /** The data plane's client certificate (also in `data-plane.pem` / `data-plane-key.pem`). */
  readonly dataPlane: CertificateAndKey;
  /** `extAuthz.listen.tls` for these files: mutual TLS required. */
  readonly tls: TlsListenerInput;
  remove(): void;
}

/** A development CA, the listener's certificate (`server`: its SAN) and a data plane's certificate. */
export async function createExtAuthzPki(
  name: string,
  server: { readonly dns?: readonly string[]; readonly ip?: readonly string[] },
): Promise<ExtAuthzPki> {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-ext-authz-${name}-`));
  const ca = await createDevCa();
  const listener = await ca.issue({ commonName: 'gatehouse ext-authz', usage: 'server', ...server });
  const dataPlane = await ca.issue({ commonName: 'data plane', usage: 'client' });
  writePem(dir, 'ca.pem', ca.certPem);
  writePem(dir, 'ext-authz.pem', listener.certPem);
  writePem(dir, 'ext-authz-key.pem', listener.keyPem);
  writePem(dir, 'data-plane.pem', dataPlane.certPem);
  writePem(dir, 'data-plane-key.pem', dataPlane.keyPem);
  return {
    dir,
    ca,
    dataPlane,
    tls: { certFile: 'ext-authz.pem', keyFile: 'ext-authz-key.pem', caFile: 'ca.pem', clientAuth: 'require' },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
