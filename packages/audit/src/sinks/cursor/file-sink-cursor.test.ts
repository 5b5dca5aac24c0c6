import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFileSinkCursor } from './file-sink-cursor.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-cursor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('file sink cursor', () => {
  it('starts at 0, then reads back what was saved, across instances', async () => {
    const path = join(dir, 'nested', 'a.cursor');
    expect(await createFileSinkCursor(path).load()).toBe(0);
    await createFileSinkCursor(path).save(41);
    const cursor = createFileSinkCursor(path);
    expect(await cursor.load()).toBe(41);
    await cursor.save(42);
    expect(await createFileSinkCursor(path).load()).toBe(42);
  });

  it('replaces the file atomically and leaves no temporary file behind', async () => {
    const folder = join(dir, 'atomic');
    const cursor = createFileSinkCursor(join(folder, 'b.cursor'));
    for (let seq = 1; seq <= 20; seq += 1) await cursor.save(seq);
    expect(readdirSync(folder)).toEqual(['b.cursor']);
    expect(statSync(join(folder, 'b.cursor')).mode & 0o777).toBe(0o600);
  });

  it('refuses a corrupt cursor instead of starting over from 0', async () => {
    const path = join(dir, 'corrupt.cursor');
    for (const content of ['', 'nope', '{"seq":-1}', '{"seq":1.5}', '{"position":3}']) {
      writeFileSync(path, content);
      await expect(createFileSinkCursor(path).load()).rejects.toThrow(/corrupt/);
    }
  });

  it('refuses to save a position that is not a natural number', async () => {
    await expect(createFileSinkCursor(join(dir, 'c.cursor')).save(-1)).rejects.toThrow(RangeError);
  });
});
