import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { redactSecrets } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** Component name, logged as `component` on every line. */
  readonly component: string;
  readonly level?: LevelWithSilent;
  /** Where lines go (default stdout). */
  readonly destination?: DestinationStream;
}

/**
 * A pino logger whose every record, bindings included, has secrets redacted (see `redactSecrets`).
 * Errors are logged with pino's standard serializer.
 */
export function createLogger(options: LoggerOptions): Logger {
  const config = {
    level: options.level ?? 'info',
    base: { component: options.component },
    formatters: {
      log: (record: Record<string, unknown>) => redactSecrets(record) as Record<string, unknown>,
      bindings: (bindings: Record<string, unknown>) => redactSecrets(bindings) as Record<string, unknown>,
    },
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}
