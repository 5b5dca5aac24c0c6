import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { SinkCursor } from '../types.js';

/**
 * A sink cursor in a small file (`{"seq":N}`). A save writes a temporary file in the same folder,
 * fsyncs it, renames it over the cursor (atomic on POSIX file systems) and fsyncs the folder, so a
 * crash leaves either the old or the new position, never a torn file. A missing file is position 0;
 * an unreadable one is an error rather than a silent restart from 0.
 */
export function createFileSinkCursor(path: string): SinkCursor {
  const folder = dirname(path);
  let folderReady = false;

  return {
    async load() {
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
        throw err;
      }
      let seq: unknown;
      try {
        seq = (JSON.parse(text) as { seq?: unknown }).seq;
      } catch {
        seq = undefined;
      }
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) {
        throw new Error(`sink cursor ${path} is corrupt: expected {"seq":<integer>}`);
      }
      return seq;
    },

    async save(seq) {
      if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`invalid cursor position ${seq}`);
      if (!folderReady) {
        await mkdir(folder, { recursive: true, mode: 0o700 });
        folderReady = true;
      }
      const temporary = join(folder, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
      const file = await open(temporary, 'wx', 0o600);
      try {
        await file.writeFile(`${JSON.stringify({ seq })}\n`, 'utf8');
        await file.sync();
      } finally {
        await file.close();
      }
      try {
        await rename(temporary, path);
      } catch (err) {
        await rm(temporary, { force: true });
        throw err;
      }
      // The rename is durable only once the folder entry is on disk.
      const directory = await open(folder, 'r');
      try {
        await directory.sync();
      } finally {
        await directory.close();
      }
    },
  };
}
