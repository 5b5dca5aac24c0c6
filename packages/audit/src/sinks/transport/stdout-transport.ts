import type { Writable } from 'node:stream';
import { SinkError } from '../sink-error.js';
import type { SinkTransport } from '../types.js';
import { buildJsonLines } from './file-transport.js';

export interface StdoutTransportOptions {
  /** Where the lines go (default `process.stdout`). */
  readonly stream?: Writable;
}

/**
 * ECS JSON lines on standard output, for a log collector reading the container's output. A batch
 * counts as delivered once the stream accepted it (there is nothing to fsync on a pipe).
 */
export function createStdoutTransport(options: StdoutTransportOptions = {}): SinkTransport {
  const stream: Writable = options.stream ?? process.stdout;
  return {
    kind: 'stdout',
    deliver(records, signal) {
      if (signal.aborted) return Promise.reject(new SinkError('ERR_AUDIT_SINK_ABORTED'));
      return new Promise<void>((resolve, reject) => {
        stream.write(buildJsonLines(records), 'utf8', (err: Error | null | undefined) => {
          if (err) reject(new SinkError('ERR_AUDIT_SINK_WRITE', { detail: 'stdout sink', cause: err }));
          else resolve();
        });
      });
    },
    close: () => Promise.resolve(),
  };
}
