import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { GatehouseError } from '@gatehouse/core';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----/g;

type PemInput = string | Buffer | readonly (string | Buffer)[] | undefined;

/** Every certificate of a PEM bundle (or of several); a bundle without one is a configuration error. */
export function parsePemCertificates(input: PemInput, origin: string): X509Certificate[] {
  if (input === undefined) return [];
  const texts = (Array.isArray(input) ? input : [input]) as readonly (string | Buffer)[];
  const certificates: X509Certificate[] = [];
  for (const text of texts) {
    const blocks = (typeof text === 'string' ? text : text.toString('utf8')).match(PEM_BLOCK) ?? [];
    for (const block of blocks) {
      try {
        certificates.push(new X509Certificate(block));
      } catch (cause) {
        throw new GatehouseError('ERR_CONFIG_INVALID', {
          detail: `${origin}: unreadable certificate`,
          cause,
        });
      }
    }
  }
  if (certificates.length === 0) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `${origin}: no PEM certificate` });
  }
  return certificates;
}

/** `mtls.caFile`, resolved against the configuration file's folder. */
export function loadTrustAnchors(file: string, baseDir: string): X509Certificate[] {
  let text: string;
  try {
    text = readFileSync(resolve(baseDir, file), 'utf8');
  } catch (cause) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `mtls.caFile ${file} unreadable`, cause });
  }
  return parsePemCertificates(text, 'mtls.caFile');
}
