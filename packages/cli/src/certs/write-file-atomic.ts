import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `file` through a temporary file in the same folder, flushed, then renamed over it: a
 * server watching the folder reads the old content or the new, never half a file (rename(2) is
 * atomic within one file system). The mode is set on the temporary file, before the content can
 * be read by anyone.
 */
export async function writeFileAtomic(file: string, text: string, mode: number): Promise<void> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      // open(2) applies the umask; chmod makes the mode exact.
      await handle.chmod(mode);
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
    renamed = true;
  } finally {
    if (!renamed) await rm(temp, { force: true });
  }
}
