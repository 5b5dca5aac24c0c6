import { chmod, mkdir } from 'node:fs/promises';
import type { CertificateAndKey } from '@gatehouse/core';
import type { CertificateFiles } from './locate-pki.js';
import { writeFileAtomic } from './write-file-atomic.js';

/** Owner only: the folder and the keys. Certificates are public. */
const PRIVATE_FOLDER_MODE = 0o700;
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

/** The pki folder, created owner-only or tightened to owner-only: it holds private keys. */
export async function ensurePkiFolder(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true, mode: PRIVATE_FOLDER_MODE });
  await chmod(folder, PRIVATE_FOLDER_MODE);
}

/**
 * Key first, certificate second, each atomically: a server that reloads when the certificate
 * changes finds the matching key already in place.
 */
export async function writeCertificatePair(files: CertificateFiles, pair: CertificateAndKey): Promise<void> {
  await writeFileAtomic(files.key, pair.keyPem, KEY_MODE);
  await writeFileAtomic(files.cert, pair.certPem, CERT_MODE);
}
