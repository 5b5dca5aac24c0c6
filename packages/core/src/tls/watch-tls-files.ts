import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../log/create-logger.js';
import { describeCertificate, type CertificateInfo } from './describe-certificate.js';
import {
  buildTlsServerOptions,
  readTlsFiles,
  type TlsFiles,
  type TlsServerOptions,
} from './load-tls-server-options.js';
import type { TlsListenerConfig } from './tls-listener-schema.js';

/** Swaps a listener's certificate without a restart; see `watchTlsFiles`. */
export interface TlsReloader {
  /**
   * Re-reads the files and installs them (SIGHUP). Resolves true when the new certificate is in
   * force, false when the files were refused and the previous one stays; never rejects.
   */
  reload(): Promise<boolean>;
  /** Stops watching the files. */
  close(): void;
  /** The options in force. */
  current(): TlsServerOptions;
}

export interface WatchTlsFilesOptions {
  readonly logger?: Logger;
  /** Called with the new certificate after each successful (re)load, the first one included. */
  readonly onReload?: (info: CertificateInfo) => void;
  /** Quiet time after the last change before reloading (default 250 ms): writes come in bursts. */
  readonly debounceMs?: number;
  /** Watch the files (default true); false: reload only on `reload()`. */
  readonly watch?: boolean;
}

const DEFAULT_DEBOUNCE_MS = 250;

/** One value for the bytes of all files, to tell a real change from an unrelated event. */
function digestOf(files: TlsFiles): string {
  const hash = createHash('sha256');
  for (const part of [files.cert, files.key, files.ca ?? Buffer.alloc(0)]) {
    hash.update(String(part.length)).update(':').update(part);
  }
  return hash.digest('hex');
}

/**
 * Keeps a TLS server's certificate in step with its files, without restarting it and without
 * dropping a connection: `server.setSecureContext()` applies to handshakes from then on while
 * established connections keep theirs.
 *
 * The folders of the files are watched, not the files: tools replace a certificate by renaming a
 * new file over it (and Kubernetes swaps a symlinked folder), which a watch on the old file would
 * never see. Any event in those folders is debounced, then the files are read and compared with
 * the last ones read: only a change reloads. A broken or half-written state (a key that does not
 * match the certificate yet) is refused and logged; the previous context stays until a good
 * state appears.
 *
 * Loads the files at once (throwing `ERR_CONFIG_INVALID` if they are unusable) and installs them
 * on the server, so the server and `current()` always agree.
 */
export function watchTlsFiles(
  server: { setSecureContext(options: SecureContextOptions): void },
  config: TlsListenerConfig,
  baseDir: string,
  options: WatchTlsFilesOptions = {},
): TlsReloader {
  const { logger, onReload } = options;
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;

  const install = (files: TlsFiles): TlsServerOptions => {
    const next = buildTlsServerOptions(files, config);
    server.setSecureContext(next);
    const info = describeCertificate(files.cert.toString('latin1'));
    logger?.info(
      {
        certFile: config.certFile,
        subject: info.subject,
        notAfter: info.notAfter.toISOString(),
        fingerprint256: info.fingerprint256,
      },
      'TLS certificate loaded',
    );
    if (info.daysLeft < 0) logger?.error({ certFile: config.certFile }, 'TLS certificate has expired');
    onReload?.(info);
    return next;
  };

  const initial = readTlsFiles(config, baseDir);
  let lastDigest = digestOf(initial);
  let current = install(initial);

  // Reloads run one after the other: a watch event during a SIGHUP reload waits its turn.
  let queue: Promise<boolean> = Promise.resolve(true);
  const reloadNow = (): boolean => {
    try {
      const files = readTlsFiles(config, baseDir);
      lastDigest = digestOf(files);
      current = install(files);
      return true;
    } catch (err) {
      logger?.error({ err }, 'TLS reload refused: the previous certificate stays in force');
      return false;
    }
  };
  const reload = (): Promise<boolean> => {
    queue = queue.then(reloadNow);
    return queue;
  };

  const reloadIfChanged = (): void => {
    let digest: string;
    try {
      digest = digestOf(readTlsFiles(config, baseDir));
    } catch {
      // Mid-replacement (the file briefly missing) or gone: the reload reports it.
      digest = 'unreadable';
    }
    if (digest !== lastDigest) {
      lastDigest = digest;
      void reload();
    }
  };

  let timer: NodeJS.Timeout | undefined;
  const onEvent = (): void => {
    clearTimeout(timer);
    timer = setTimeout(reloadIfChanged, debounceMs);
    timer.unref();
  };
  const cannotWatch = (err: unknown, folder: string): void => {
    logger?.warn({ err, folder }, 'cannot watch the TLS files: reload them with SIGHUP');
  };
  const watchers: FSWatcher[] = [];
  if (options.watch ?? true) {
    const paths = [config.certFile, config.keyFile, config.caFile].filter((p) => p !== undefined);
    for (const folder of new Set(paths.map((path) => dirname(resolve(baseDir, path))))) {
      try {
        // persistent: false — a watcher never keeps the process alive on its own.
        const watcher = watch(folder, { persistent: false }, onEvent);
        watcher.on('error', (err) => {
          cannotWatch(err, folder);
        });
        watchers.push(watcher);
      } catch (err) {
        // Out of inotify watches (ENOSPC) and the like: the listener still runs, SIGHUP still works.
        cannotWatch(err, folder);
      }
    }
  }

  return {
    reload,
    close() {
      clearTimeout(timer);
      for (const watcher of watchers) watcher.close();
    },
    current: () => current,
  };
}
