import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Server } from 'node:tls';
import { GatehouseError } from '../errors/gatehouse-error.js';
import type { TlsListenerConfig } from './tls-listener-schema.js';

/** An OCSPResponse (RFC 6960 §4.2.1) is a DER SEQUENCE: its first octet is 0x30. */
function checkOcspResponse(der: Buffer, path: string): Buffer {
  if (der.length < 2 || der[0] !== 0x30) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: `tls.ocspResponseFile: ${path} is not a DER OCSP response`,
    });
  }
  return der;
}

/**
 * OCSP stapling (RFC 6066 §8, the `status_request` extension): a client that asks for the
 * certificate's status receives the DER response of `ocspResponseFile` in the handshake, so it
 * need not ask the CA's responder (privacy, latency, and no soft-fail when the responder is
 * down). The file is checked now and re-read at each use: whatever refreshes it (a cron job with
 * `openssl ocsp -respout`) is picked up without a reload. A file unreadable later staples nothing
 * rather than failing the handshake. No-op without `ocspResponseFile`.
 */
export function attachOcspStapling(server: Server, config: TlsListenerConfig, baseDir: string): void {
  if (config.ocspResponseFile === undefined) return;
  const path = resolve(baseDir, config.ocspResponseFile);
  let first: Buffer;
  try {
    first = readFileSync(path);
  } catch (cause) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: `tls.ocspResponseFile: cannot read ${path} (${String((cause as NodeJS.ErrnoException).code)})`,
      cause,
    });
  }
  checkOcspResponse(first, path);
  server.on('OCSPRequest', (_certificate: Buffer, _issuer: Buffer, callback) => {
    readFile(path).then(
      (der) => {
        callback(null, der.length > 1 && der[0] === 0x30 ? der : null);
      },
      () => {
        callback(null, null);
      },
    );
  });
}
