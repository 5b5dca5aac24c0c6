import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatehouseError } from '@gatehouse/core';

/** Name of the environment variable holding the key-encryption key. */
export const KEK_ENV = 'GATEHOUSE_KEK';
const KEK_BYTES = 32;

export interface LoadKekOptions {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** A key file named in configuration (used when GATEHOUSE_KEK is unset). */
  readonly kekFile?: string | undefined;
  /** The data directory: `<dataDir>/kek.key` is the default key file. */
  readonly dataDir?: string | undefined;
  /** NODE_ENV=production: never generate a key, refuse a key file others can read. */
  readonly production: boolean;
}

export interface LoadedKek {
  /** The 32-byte AES-256-GCM key sealing private signing keys at rest. */
  readonly kek: Buffer;
  readonly source: 'env' | 'file' | 'generated';
  /** To be logged loudly by the caller (a generated or loosely protected development key). */
  readonly warning?: string;
}

const HEX = /^[0-9a-fA-F]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

function invalid(detail: string): GatehouseError {
  return new GatehouseError('ERR_CONFIG_INVALID', { detail });
}

/** 64 hex characters, or base64 / base64url (padded or not) of 32 bytes. Never echoes the value. */
function decodeKek(value: string, source: string): Buffer {
  const trimmed = value.trim();
  let bytes: Buffer;
  if (HEX.test(trimmed)) bytes = Buffer.from(trimmed, 'hex');
  else if (BASE64.test(trimmed) || BASE64URL.test(trimmed)) bytes = Buffer.from(trimmed, 'base64');
  else
    throw invalid(
      `${source}: not base64, base64url or hex (expected 32 bytes, e.g. \`openssl rand -base64 32\`)`,
    );
  if (bytes.length !== KEK_BYTES) {
    throw invalid(
      `${source}: the key-encryption key must be 32 bytes (256 bits); it decodes to ${bytes.length}`,
    );
  }
  return bytes;
}

async function statOrUndefined(path: string): Promise<Awaited<ReturnType<typeof stat>> | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw invalid(`key file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** A key file: the key as text (hex / base64 / base64url, trailing newline allowed) or 32 raw bytes. */
async function readKeyFile(path: string, production: boolean): Promise<LoadedKek> {
  const info = await statOrUndefined(path);
  if (info === undefined) throw invalid(`key file ${path}: does not exist`);
  if (!info.isFile()) throw invalid(`key file ${path}: not a regular file`);
  // POSIX permissions only: Windows reports no group/other bits.
  const exposed = process.platform !== 'win32' && (Number(info.mode) & 0o077) !== 0;
  const mode = (Number(info.mode) & 0o777).toString(8).padStart(4, '0');
  if (exposed && production) {
    throw invalid(`key file ${path}: readable or writable by group or others (mode ${mode}); chmod 600 it`);
  }
  let contents: Buffer;
  try {
    contents = await readFile(path);
  } catch (err) {
    throw invalid(`key file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Text when it reads as one of the encodings (a 32-character base64 line is 24 bytes, not a
  // raw key); raw bytes otherwise.
  const asText = contents.toString('latin1').trim();
  const isText = HEX.test(asText) || BASE64.test(asText) || BASE64URL.test(asText);
  const kek = !isText && contents.length === KEK_BYTES ? contents : decodeKek(asText, `key file ${path}`);
  return {
    kek,
    source: 'file',
    ...(exposed
      ? {
          warning: `key file ${path} is accessible to group or others (mode ${mode}): chmod 600 it (production refuses it)`,
        }
      : {}),
  };
}

/**
 * Creates `<dataDir>/kek.key` (mode 0600) with a random key, atomically: written to a private
 * temporary file, then hard-linked into place, which fails if another instance got there first
 * (its key is then the one read). Never overwrites a key: that would orphan every sealed key.
 */
async function generateKeyFile(dataDir: string, path: string): Promise<LoadedKek> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const kek = randomBytes(KEK_BYTES);
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temporary, `${kek.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await chmod(temporary, 0o600);
    await link(temporary, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return await readKeyFile(path, false);
    throw err;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  return {
    kek,
    source: 'generated',
    warning:
      `generated a development key-encryption key at ${path}: private signing keys are sealed with it, ` +
      `so back it up with the data; production refuses to start without ${KEK_ENV} or a key file`,
  };
}

/**
 * The key-encryption key sealing private signing keys (AES-256-GCM), from, in order:
 * `GATEHOUSE_KEK`; the configured key file; `<dataDir>/kek.key`. In development a missing
 * `<dataDir>/kek.key` is generated (with a warning); production refuses to start without a key.
 */
export async function loadKek(options: LoadKekOptions): Promise<LoadedKek> {
  const fromEnv = options.env[KEK_ENV];
  // An empty value (`GATEHOUSE_KEK=` from a compose file) is treated as unset.
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    return { kek: decodeKek(fromEnv, KEK_ENV), source: 'env' };
  }
  if (options.kekFile !== undefined) {
    // A configured file that is missing is an error, never a reason to make a new key.
    return readKeyFile(options.kekFile, options.production);
  }
  if (options.dataDir === undefined) {
    throw invalid(
      `no key-encryption key: set ${KEK_ENV} (32 bytes: base64, base64url or 64 hex characters) or a key file`,
    );
  }
  const path = join(options.dataDir, 'kek.key');
  if ((await statOrUndefined(path)) !== undefined) return readKeyFile(path, options.production);
  if (options.production) {
    throw invalid(
      `production requires a key-encryption key: set ${KEK_ENV} (32 bytes: base64, base64url or 64 hex ` +
        `characters) or provide the key file ${path} (mode 0600); refusing to start without one`,
    );
  }
  return generateKeyFile(options.dataDir, path);
}
