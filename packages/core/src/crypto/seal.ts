import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GatehouseError } from '../errors/gatehouse-error.js';

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function checkKey(key: Uint8Array): void {
  if (key.length !== 32)
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: 'key-encryption key must be 32 bytes' });
}

/**
 * Encrypts a secret at rest with AES-256-GCM (NIST SP 800-38D): random 96-bit IV, 128-bit tag, and
 * `aad` bound in (e.g. the key id, so a ciphertext cannot be moved to another row).
 * Output: `v1.<iv>.<ciphertext>.<tag>`, base64url parts.
 */
export function sealSecret(key: Uint8Array, plaintext: Uint8Array | string, aad: string): string {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(Buffer.from(aad));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const parts = [iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url'));
  return [VERSION, ...parts].join('.');
}

/** Decrypts what `sealSecret` produced; a wrong key, AAD or any altered byte fails. */
export function openSecret(key: Uint8Array, sealed: string, aad: string): Buffer {
  checkKey(key);
  const [version, iv, ciphertext, tag, extra] = sealed.split('.');
  if (
    version !== VERSION ||
    iv === undefined ||
    ciphertext === undefined ||
    tag === undefined ||
    extra !== undefined
  ) {
    throw new GatehouseError('ERR_STORE_CORRUPT', { detail: 'sealed secret has an unknown format' });
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
  } catch (cause) {
    throw new GatehouseError('ERR_STORE_CORRUPT', { detail: 'sealed secret failed authentication', cause });
  }
}
