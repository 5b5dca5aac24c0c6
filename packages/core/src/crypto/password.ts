import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { promisify } from 'node:util';

/**
 * Password hashing with scrypt at the OWASP Password Storage Cheat Sheet parameters
 * (N = 2^17, r = 8, p = 1, 128 MiB). Stored as `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` so parameters
 * can be raised later and old hashes still verify.
 */
export interface PasswordHashOptions {
  /** log2 of the CPU/memory cost N (default 17). Tests may lower it; production must not. */
  readonly logN?: number;
  readonly r?: number;
  readonly p?: number;
}

const KEY_BYTES = 32;
const SALT_BYTES = 16;
const FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/;

// Promisified (no hand-written callback): invalid parameters throw synchronously inside, which
// the promise turns into a rejection like any other scrypt failure.
const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Buffer,
  keylen: number,
  options: ScryptOptions,
) => Promise<Buffer>;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  const options: ScryptOptions = { N, r, p, maxmem: 128 * N * r * p + 16 * 1024 * 1024 };
  return scryptAsync(password.normalize('NFKC'), salt, KEY_BYTES, options);
}

export async function hashPassword(password: string, options: PasswordHashOptions = {}): Promise<string> {
  const { logN = 17, r = 8, p = 1 } = options;
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(password, salt, logN, r, p);
  return `$scrypt$ln=${logN},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

/** Constant-time check of a password against a stored hash; false for any malformed hash. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const match = FORMAT.exec(stored);
  if (match === null) return false;
  const [, logN, r, p, salt, expected] = match as unknown as [string, string, string, string, string, string];
  const expectedKey = Buffer.from(expected, 'base64url');
  const [n, rn, pn] = [Number(logN), Number(r), Number(p)];
  // scrypt reads r = 0 / p = 0 as "use the default", so such a row would verify as r=8 / p=1;
  // and at most 1 GiB of memory (ln=20, r=8): a corrupt row must not exhaust the host.
  if (expectedKey.length !== KEY_BYTES || n > 20 || rn < 1 || pn < 1 || 128 * 2 ** n * rn > 2 ** 30) {
    return false;
  }
  let key: Buffer;
  try {
    key = await derive(password, Buffer.from(salt, 'base64url'), n, rn, pn);
  } catch {
    // Parameters scrypt refuses (N = 2^0, or N >= 2^(16 r)): malformed, not an exception.
    return false;
  }
  return timingSafeEqual(key, expectedKey);
}

/** A hash of a random password: verifying against it costs the same as a real one (no user oracle). */
export async function dummyPasswordHash(options: PasswordHashOptions = {}): Promise<string> {
  return hashPassword(randomBytes(16).toString('base64url'), options);
}
