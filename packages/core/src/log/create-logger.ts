import { pino, type Bindings, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';
import { redactSecrets } from './redact.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** Component name, logged as `component` on every line. */
  readonly component: string;
  readonly level?: LevelWithSilent;
  /** Where lines go (default stdout). */
  readonly destination?: DestinationStream;
}

interface BindingMethods {
  readonly child: (this: Logger, bindings: Bindings, options?: Parameters<Logger['child']>[1]) => Logger;
  readonly setBindings: (this: Logger, bindings: Bindings) => void;
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
  const logger = options.destination === undefined ? pino(config) : pino(config, options.destination);
  // pino applies `formatters.bindings` to the root logger only and resets it for children
  // (lib/proto.js child()), so `logger.child({ token })` would log the token. Children are created
  // with Object.create(parent), so these own methods are inherited by every descendant.
  const base = Object.getPrototypeOf(logger) as BindingMethods;
  Object.assign(logger, {
    child(this: Logger, bindings: Bindings, childOptions?: Parameters<Logger['child']>[1]): Logger {
      return base.child.call(this, redactSecrets(bindings) as Bindings, childOptions);
    },
    setBindings(this: Logger, bindings: Bindings): void {
      base.setBindings.call(this, redactSecrets(bindings) as Bindings);
    },
  });
  return logger;
}
