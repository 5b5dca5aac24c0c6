import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSecret } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadKek, type LoadKekOptions } from '../../src/keys/kek.js';
import { describeEachStore, startAuthServer, TEST_KEK, type TestAuthServer } from '../helpers/harness.js';

const aad = (kid: string): string => `gatehouse:signing-key:${kid}`;

describeEachStore('private signing keys at rest', (stores) => {
  let as: TestAuthServer;
  beforeAll(async () => {
    as = await startAuthServer({ stores });
    await as.server.services.keys.rotate();
  });
  afterAll(async () => {
    await as.close();
  });

  const sealedRows = () =>
    as.deps.db
      .selectFrom('signing_keys')
      .select(['kid', 'status', 'private_key'])
      .where('private_key', 'is not', null)
      .orderBy('generation')
      .execute();

  it('are sealed with AES-256-GCM under the KEK, bound to their kid: no PEM in the database', async () => {
    const rows = await sealedRows();
    expect(rows.map((r) => r.status)).toEqual(['active', 'pending']);
    for (const row of rows) {
      const sealed = row.private_key ?? '';
      expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
      const pem = openSecret(TEST_KEK, sealed, aad(row.kid)).toString('utf8');
      expect(pem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
      // Neither the armour nor any 12-character run of the key's base64 body is in the stored value
      // (a fixed fragment such as `MII` would turn up by chance in random base64url about once in 600 keys).
      expect(sealed).not.toMatch(/BEGIN|PRIVATE/);
      const body = pem
        .replace(/-----[A-Z ]+-----|\s/g, '')
        .replace(/\+/g, '-')
        .replace(/\//g, '_');
      for (let at = 0; at + 12 <= body.length; at += 12)
        expect(sealed).not.toContain(body.slice(at, at + 12));
    }
  });

  const TAMPERED = 'tampered';
  const attacks: Array<{ name: string; source: string; tamper?: () => Promise<void>; kek?: Buffer }> = [
    {
      name: 'a server started with another KEK',
      source: 'issue 3, Keys: private keys encrypted at rest under the KEK',
      kek: Buffer.alloc(32, 9),
    },
    {
      name: 'a sealed key moved to another row (its kid is the AAD)',
      source: 'NIST SP 800-38D §5.2.1 (additional authenticated data)',
      tamper: async () => {
        const [active, pending] = await sealedRows();
        await as.deps.db
          .updateTable('signing_keys')
          .set({ private_key: active?.private_key ?? null })
          .where('kid', '=', pending?.kid ?? '')
          .execute();
      },
    },
    {
      name: 'one ciphertext character changed',
      source: 'NIST SP 800-38D §5.2.2 (authentication tag)',
      tamper: async () => {
        const [, pending] = await sealedRows();
        const parts = (pending?.private_key ?? '').split('.');
        const body = parts[2] ?? '';
        parts[2] = `${body.slice(0, 10)}${body[10] === 'A' ? 'B' : 'A'}${body.slice(11)}`;
        await as.deps.db
          .updateTable('signing_keys')
          .set({ private_key: parts.join('.') })
          .where('kid', '=', pending?.kid ?? '')
          .execute();
      },
    },
    {
      name: 'a value that is not a sealed secret',
      source: 'stored data integrity',
      tamper: async () => {
        const [, pending] = await sealedRows();
        await as.deps.db
          .updateTable('signing_keys')
          .set({ private_key: TAMPERED })
          .where('kid', '=', pending?.kid ?? '')
          .execute();
      },
    },
  ];

  it.each(attacks)('refuse to start on $name ($source) without changing any key', async ({ tamper, kek }) => {
    const original = await sealedRows();
    try {
      await tamper?.();
      const before = await as.server.services.keys.list();
      await expect(
        startAuthServer({ shareWith: as, ...(kek === undefined ? {} : { kek }) }),
      ).rejects.toMatchObject({
        code: 'ERR_STORE_CORRUPT',
      });
      expect(await as.server.services.keys.list()).toEqual(before);
    } finally {
      for (const row of original) {
        await as.deps.db
          .updateTable('signing_keys')
          .set({ private_key: row.private_key })
          .where('kid', '=', row.kid)
          .execute();
      }
    }
  });

  it('start with the right KEK on the same database', async () => {
    const second = await startAuthServer({ shareWith: as });
    try {
      const { kid } = await second.server.services.keys.sign({ sub: 'x' }, 'JWT');
      expect(kid).toBe((await sealedRows())[0]?.kid);
    } finally {
      await second.close();
    }
  });
});

describe('a restart on the same SQLite file', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-restart-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps its keys with the same KEK and refuses to start with another', async () => {
    const sqliteFile = join(dir, 'auth.sqlite');
    const first = await startAuthServer({ sqliteFile });
    const kid = (await first.server.services.keys.sign({ sub: 'x' }, 'JWT')).kid;
    const clock = first.clock;
    await first.close();

    await expect(startAuthServer({ sqliteFile, clock, kek: Buffer.alloc(32, 1) })).rejects.toMatchObject({
      code: 'ERR_STORE_CORRUPT',
    });
    const again = await startAuthServer({ sqliteFile, clock });
    try {
      expect((await again.server.services.keys.sign({ sub: 'x' }, 'JWT')).kid).toBe(kid);
      expect((await again.server.services.keys.list()).map((k) => k.status)).toEqual(['active']);
    } finally {
      await again.close();
    }
  });
});

describe('loadKek', () => {
  const key = randomBytes(32);
  let root: string;
  let n = 0;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'gatehouse-kek-'));
  });
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
  });
  const fresh = (): string => {
    const dir = join(root, `case-${n++}`);
    mkdirSync(dir);
    return dir;
  };
  const dev = (options: Partial<LoadKekOptions>): LoadKekOptions => ({
    env: {},
    production: false,
    ...options,
  });
  const prod = (options: Partial<LoadKekOptions>): LoadKekOptions => ({
    env: {},
    production: true,
    ...options,
  });
  const writeKey = (dir: string, contents: string | Buffer, mode = 0o600): string => {
    const file = join(dir, 'kek.key');
    writeFileSync(file, contents);
    chmodSync(file, mode);
    return file;
  };

  it.each([
    ['base64, padded', key.toString('base64')],
    ['base64, unpadded', key.toString('base64').replace(/=+$/, '')],
    ['base64url', key.toString('base64url')],
    ['hex, lower case', key.toString('hex')],
    ['hex, upper case', key.toString('hex').toUpperCase()],
    ['base64 with a trailing newline', `${key.toString('base64')}\n`],
  ])('reads GATEHOUSE_KEK as %s', async (_name, value) => {
    for (const production of [false, true]) {
      const loaded = await loadKek({ env: { GATEHOUSE_KEK: value }, production });
      expect(loaded).toEqual({ kek: key, source: 'env' });
    }
  });

  const refusals: Array<{ name: string; value: string; detail: RegExp }> = [
    { name: '31 bytes', value: randomBytes(31).toString('base64'), detail: /32 bytes.*31/ },
    { name: '33 bytes', value: randomBytes(33).toString('base64url'), detail: /32 bytes.*33/ },
    { name: 'a 128-bit key', value: randomBytes(16).toString('hex'), detail: /must be 32 bytes/ },
    { name: '63 hex characters', value: key.toString('hex').slice(1), detail: /32 bytes/ },
    { name: 'a passphrase', value: 'correct horse battery staple!', detail: /not base64, base64url or hex/ },
    {
      name: 'base64 and base64url alphabets mixed',
      value: `+_${key.toString('base64url').slice(2)}`,
      detail: /not base64, base64url or hex/,
    },
  ];

  it.each(refusals)('refuses GATEHOUSE_KEK of $name, never echoing it', async ({ value, detail }) => {
    const error = await loadKek(dev({ env: { GATEHOUSE_KEK: value } })).catch((err: unknown) => err);
    expect(error).toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      detail: expect.stringMatching(detail) as unknown,
    });
    expect(JSON.stringify(error)).not.toContain(value.trim());
  });

  it('prefers GATEHOUSE_KEK to a key file, and treats an empty GATEHOUSE_KEK as unset', async () => {
    const dir = fresh();
    const other = randomBytes(32);
    writeKey(dir, other.toString('base64'));
    await expect(
      loadKek(prod({ env: { GATEHOUSE_KEK: key.toString('hex') }, dataDir: dir })),
    ).resolves.toMatchObject({
      kek: key,
      source: 'env',
    });
    await expect(loadKek(prod({ env: { GATEHOUSE_KEK: '' }, dataDir: dir }))).resolves.toEqual({
      kek: other,
      source: 'file',
    });
  });

  it.each([
    ['32 raw bytes', () => key],
    ['base64 text with a newline', () => `${key.toString('base64')}\n`],
    ['hex text', () => key.toString('hex')],
  ])('reads a key file of %s (configured path or <dataDir>/kek.key)', async (_name, contents) => {
    const dir = fresh();
    const file = writeKey(dir, contents());
    await expect(loadKek(prod({ kekFile: file }))).resolves.toEqual({ kek: key, source: 'file' });
    await expect(loadKek(prod({ dataDir: dir }))).resolves.toEqual({ kek: key, source: 'file' });
  });

  it('generates <dataDir>/kek.key in development: mode 0600, a loud warning, the same key afterwards', async () => {
    const dir = join(fresh(), 'data');
    const generated = await loadKek(dev({ dataDir: dir }));
    const file = join(dir, 'kek.key');
    expect(generated.source).toBe('generated');
    expect(generated.kek).toHaveLength(32);
    expect(generated.warning).toContain(file);
    expect(generated.warning).toMatch(/production refuses/);
    expect(generated.warning).not.toContain(generated.kek.toString('base64url'));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url')).toEqual(generated.kek);
    await expect(loadKek(dev({ dataDir: dir }))).resolves.toEqual({ kek: generated.kek, source: 'file' });
    expect(readdirSync(dir)).toEqual(['kek.key']);
  });

  it('generates one key when several instances start together', async () => {
    const dir = fresh();
    const loaded = await Promise.all(Array.from({ length: 6 }, () => loadKek(dev({ dataDir: dir }))));
    expect(loaded.filter((l) => l.source === 'generated')).toHaveLength(1);
    expect(new Set(loaded.map((l) => l.kek.toString('hex'))).size).toBe(1);
    expect(readdirSync(dir)).toEqual(['kek.key']);
  });

  it('warns in development, and refuses in production, a key file others can read', async () => {
    const dir = fresh();
    const file = writeKey(dir, key, 0o644);
    const loaded = await loadKek(dev({ kekFile: file }));
    expect(loaded).toMatchObject({
      kek: key,
      source: 'file',
      warning: expect.stringMatching(/0644.*chmod 600/) as unknown,
    });
    await expect(loadKek(prod({ kekFile: file }))).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      detail: expect.stringMatching(/group or others \(mode 0644\)/) as unknown,
    });
    chmodSync(file, 0o640);
    await expect(loadKek(prod({ dataDir: dir }))).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
  });

  const startupRefusals: Array<{ name: string; options: () => LoadKekOptions; detail: RegExp }> = [
    {
      name: 'production with neither GATEHOUSE_KEK nor a key file',
      options: () => prod({ dataDir: fresh() }),
      detail: /production requires a key-encryption key: set GATEHOUSE_KEK/,
    },
    {
      name: 'a configured key file that does not exist (development too: never a new key there)',
      options: () => dev({ kekFile: join(fresh(), 'missing.key'), dataDir: fresh() }),
      detail: /does not exist/,
    },
    {
      name: 'a key file of the wrong size',
      options: () => prod({ kekFile: writeKey(fresh(), randomBytes(24).toString('base64')) }),
      detail: /32 bytes.*24/,
    },
    {
      name: 'a key file that is a directory',
      options: () => prod({ kekFile: fresh() }),
      detail: /not a regular file/,
    },
    {
      name: 'no KEK, no key file and no data directory',
      options: () => dev({}),
      detail: /set GATEHOUSE_KEK/,
    },
  ];

  it.each(startupRefusals)('refuses $name', async ({ options, detail }) => {
    const opts = options();
    await expect(loadKek(opts)).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      detail: expect.stringMatching(detail) as unknown,
    });
    // Nothing generated on a refusal.
    if (opts.dataDir !== undefined) expect(readdirSync(opts.dataDir)).toEqual([]);
  });
});
