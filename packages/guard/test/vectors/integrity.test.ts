import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VECTORS_DIR, readVectorBytes, readVectorJson } from '../helpers/vectors-wycheproof.js';

/**
 * The vector copies are exactly the upstream files recorded in fixtures/vectors/MANIFEST.json
 * (repository, commit, path, licence, SHA-256): a changed, truncated or unlisted file fails here.
 */
interface ManifestEntry {
  readonly local: string;
  readonly repo: string;
  readonly commit: string;
  readonly path: string;
  readonly license: string;
  readonly sha256: string;
  readonly bytes: number;
}

const manifest = readVectorJson('MANIFEST.json') as { files: readonly ManifestEntry[] };
const OWN_FILES = new Set(['MANIFEST.json', 'PROVENANCE.md']);

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listFiles(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

describe('public test vector copies', () => {
  it.each(manifest.files)('$local matches its recorded sha256', ({ local, sha256, bytes }) => {
    const content = readVectorBytes(local);
    expect(content).toHaveLength(bytes);
    expect(createHash('sha256').update(content).digest('hex')).toBe(sha256);
  });

  it('holds exactly the files the manifest lists, each with its licence file alongside', () => {
    const present = listFiles(VECTORS_DIR)
      .map((file) => relative(VECTORS_DIR, file).split(sep).join('/'))
      .filter((file) => !OWN_FILES.has(file))
      .sort();
    expect(present).toEqual(manifest.files.map((entry) => entry.local).sort());
    for (const { local, repo } of manifest.files) {
      const root = local.split('/')[0] ?? '';
      const licence = manifest.files.find((entry) => entry.local === `${root}/LICENSE`);
      expect(licence?.repo, local).toBe(repo);
    }
  });

  it('documents every file in PROVENANCE.md with its repository, commit, path, licence and sha256', () => {
    const provenance = readVectorBytes('PROVENANCE.md').toString('utf8');
    for (const entry of manifest.files) {
      const row = provenance.split('\n').find((line) => line.startsWith(`| \`${entry.local}\` |`));
      expect(row, entry.local).toBeDefined();
      for (const value of [entry.repo, entry.commit, entry.path, entry.license, entry.sha256]) {
        expect(row, `${entry.local}: ${value}`).toContain(value);
      }
    }
  });
});
