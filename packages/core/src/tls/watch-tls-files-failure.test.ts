import { EventEmitter } from 'node:events';
import type * as Fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTlsFixture, type TlsFixture } from '../../test/support/tls-fixture.js';
import { createLogger } from '../log/create-logger.js';
import { tlsListenerSchema } from './tls-listener-schema.js';
import { watchTlsFiles } from './watch-tls-files.js';

// The operating system's watcher failing (out of inotify watches, a watched folder unmounted)
// cannot be caused from a test: only this one function of node:fs is replaced.
const watchFailure: { mode: 'throw' | 'emit'; emitter: EventEmitter | undefined } = vi.hoisted(() => ({
  mode: 'throw',
  emitter: undefined,
}));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof Fs>();
  return {
    ...fs,
    watch: () => {
      if (watchFailure.mode === 'throw') {
        throw Object.assign(new Error('System limit for number of file watchers reached'), {
          code: 'ENOSPC',
        });
      }
      const emitter = Object.assign(new EventEmitter(), { close: () => undefined });
      watchFailure.emitter = emitter;
      return emitter;
    },
  };
});

describe('watchTlsFiles when the folder cannot be watched', () => {
  let fixture: TlsFixture;
  const config = tlsListenerSchema.parse({ certFile: 'server.pem', keyFile: 'server-key.pem' });
  const server = { setSecureContext: () => undefined };

  beforeAll(async () => {
    fixture = await createTlsFixture();
  });

  afterAll(() => fixture.remove());

  function recording(): { logger: ReturnType<typeof createLogger>; warnings: string[] } {
    const warnings: string[] = [];
    const logger = createLogger({
      component: 'test',
      destination: {
        write(line: string) {
          const record = JSON.parse(line) as { level: number; msg: string; err?: { code?: string } };
          if (record.level === 40) warnings.push(`${record.msg} (${record.err?.code ?? ''})`);
        },
      },
    });
    return { logger, warnings };
  }

  it('starts anyway and says to reload with SIGHUP when watching is refused', async () => {
    watchFailure.mode = 'throw';
    const { logger, warnings } = recording();
    const reloader = watchTlsFiles(server, config, fixture.dir, { logger });
    expect(warnings).toEqual(['cannot watch the TLS files: reload them with SIGHUP (ENOSPC)']);
    expect(await reloader.reload()).toBe(true);
    reloader.close();
  });

  it('reports a watcher that fails later', () => {
    watchFailure.mode = 'emit';
    const { logger, warnings } = recording();
    const reloader = watchTlsFiles(server, config, fixture.dir, { logger });
    watchFailure.emitter?.emit('error', Object.assign(new Error('gone'), { code: 'EIO' }));
    expect(warnings).toEqual(['cannot watch the TLS files: reload them with SIGHUP (EIO)']);
    reloader.close();
  });
});
