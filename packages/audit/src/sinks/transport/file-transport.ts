import { mkdir, open } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatEcsJson } from '../format/format-ecs.js';
import { SinkError } from '../sink-error.js';
import { describeSystemError } from '../sink-error.js';
import type { AuditRecord, SinkTransport } from '../types.js';

export interface FileTransportOptions {
  /** The JSON-lines file, appended to (created with mode 0600). */
  readonly path: string;
}

export function buildJsonLines(records: readonly AuditRecord[]): string {
  return records.map((record) => `${formatEcsJson(record)}\n`).join('');
}

/**
 * ECS JSON lines appended to a file, fsynced per batch. The file is opened per batch, so a log
 * rotation that moves it away (logrotate without copytruncate) is followed on the next batch.
 */
export function createFileTransport(options: FileTransportOptions): SinkTransport {
  let folderReady = false;
  return {
    kind: 'file',
    async deliver(records, signal) {
      if (signal.aborted) throw new SinkError('ERR_AUDIT_SINK_ABORTED');
      try {
        if (!folderReady) {
          await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
          folderReady = true;
        }
        const file = await open(options.path, 'a', 0o600);
        try {
          await file.writeFile(buildJsonLines(records), 'utf8');
          await file.sync();
        } finally {
          await file.close();
        }
      } catch (err) {
        const code = err instanceof Error ? describeSystemError(err) : undefined;
        throw new SinkError('ERR_AUDIT_SINK_WRITE', {
          detail: `file sink: ${code ?? 'write failed'}`,
          cause: err,
        });
      }
    },
    close: () => Promise.resolve(),
  };
}
