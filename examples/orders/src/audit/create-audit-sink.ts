import type { AuditSink, Logger } from '@gatehouse/core';

/**
 * Every decision of this service (peer identity, token, policy) as one pino line `audit`, and to
 * `forward` if given (e.g. a platform audit log). Events never carry a token (core's rule).
 */
export function createAuditSink(logger: Logger, forward: AuditSink | undefined): AuditSink {
  return async (event) => {
    logger.info({ audit: event }, 'audit');
    await forward?.(event);
  };
}
