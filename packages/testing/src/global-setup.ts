import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Vitest global setup: gives suites a file to note skips in, and prints every skip with its
 * reason at the end of the run so a partial run is never mistaken for a full one.
 */
export default function setup(): () => void {
  // Each project of the run (unit, integration) calls this: the first one owns the log.
  if (process.env['GATEHOUSE_SKIP_LOG'] !== undefined) return () => undefined;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-skips-'));
  const log = join(dir, 'skips.log');
  process.env['GATEHOUSE_SKIP_LOG'] = log;
  return () => {
    let text = '';
    try {
      text = readFileSync(log, 'utf8');
    } catch {
      // no suite skipped
    }
    rmSync(dir, { recursive: true, force: true });
    const lines = [...new Set(text.split('\n').filter(Boolean))];
    if (lines.length > 0) {
      process.stdout.write(
        `\nSkipped suites (${lines.length}) — set GATEHOUSE_REQUIRE_ALL=1 to make these failures:\n` +
          lines.map((line) => `  - ${line}\n`).join(''),
      );
    }
  };
}
