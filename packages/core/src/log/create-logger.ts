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

/**
 * What an HTTP request or response contributes to a log line: method, path (the query string is
 * cut, since it can carry codes or state), status. Frameworks log `{ req }` / `{ res }` objects whose
 * fields are getters, which a plain copy would lose.
 */
function describeHttp(record: Record<string, unknown>): Record<string, unknown> {
  const { req, res } = record;
  if (!isInstance(req) && !isInstance(res)) return record;
  const out = { ...record };
  if (isInstance(req)) {
    const { method, url, id } = req as { method?: unknown; url?: unknown; id?: unknown };
    out['req'] = {
      method: typeof method === 'string' ? method : undefined,
      path: typeof url === 'string' ? url.split('?')[0] : undefined,
      ...(typeof id === 'string' ? { id } : {}),
    };
  }
  if (isInstance(res)) {
    const { statusCode } = res as { statusCode?: unknown };
    out['res'] = { statusCode: typeof statusCode === 'number' ? statusCode : undefined };
  }
  return out;
}

/** A class instance (a framework's request or reply), as opposed to plain data logged on purpose. */
function isInstance(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto !== Object.prototype && proto !== null;
}

interface BindingMethods {
  readonly child: (this: Logger, bindings: Bindings, options?: Parameters<Logger['child']>[1]) => Logger;
  readonly setBindings: (this: Logger, bindings: Bindings) => void;
}

/**
 * A pino logger whose every record, bindings included, has secrets redacted (see `redactSecrets`).
 * Errors are logged with pino's standard serializer; `req` / `res` as method, path and status.
 */
export function createLogger(options: LoggerOptions): Logger {
  const config = {
    level: options.level ?? 'info',
    base: { component: options.component },
    formatters: {
      log: (record: Record<string, unknown>) =>
        redactSecrets(describeHttp(record)) as Record<string, unknown>,
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
