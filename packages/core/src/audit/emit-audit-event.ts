import type { AuditActor, AuditEvent, AuditSink } from './audit-event.js';

/** The actor of an event from whoever the request acts for (user or client). */
export function buildAuditActor(principal: {
  readonly sub: string;
  readonly clientId?: string | undefined;
}): AuditActor {
  return principal.clientId === undefined
    ? { sub: principal.sub }
    : { sub: principal.sub, clientId: principal.clientId };
}

/**
 * Hands an event to a sink without letting the sink break the request: a synchronous throw or a
 * rejected promise goes to `onError`. (A sink that must not lose events is a durable one; this
 * only keeps a failing sink from turning a decision into a 500.)
 */
export function emitAuditEvent(
  sink: AuditSink | undefined,
  event: AuditEvent,
  onError: (err: unknown) => void,
): void {
  if (sink === undefined) return;
  try {
    const result = sink(event);
    if (result instanceof Promise) result.catch(onError);
  } catch (err) {
    onError(err);
  }
}
