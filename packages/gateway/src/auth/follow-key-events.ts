import type { Logger, SharedState } from '@gatehouse/core';

/**
 * The auth server's key channel on the shared state (its `KEY_CHANNEL`, copied: the gateway runs
 * without the auth server package; a test checks both stay equal).
 */
export const KEY_CHANNEL = 'keys';

const KEY_EVENTS = new Set(['created', 'promoted', 'retired', 'revoked', 'rescheduled']);

/** Whether `message` is one key event (`{ event, kid }`); anything else on the channel is ignored. */
export function isKeyEvent(message: string): boolean {
  if (message.length > 2048) return false;
  try {
    const value = JSON.parse(message) as unknown;
    if (typeof value !== 'object' || value === null) return false;
    const { event, kid } = value as Record<string, unknown>;
    return typeof event === 'string' && KEY_EVENTS.has(event) && typeof kid === 'string' && kid !== '';
  } catch {
    return false;
  }
}

export interface FollowKeyEventsOptions {
  readonly logger: Logger;
  /**
   * A second fetch this long after the first: the event may reach this gateway before every auth
   * server instance behind the JWKS URL has reloaded its own keys (default 500 ms).
   */
  readonly settleMs?: number;
}

/**
 * Refreshes the key set whenever an auth server announces a key transition, instead of waiting for
 * the cache or the unknown-kid cooldown: a key published a moment ago is known here before the first
 * token it signs arrives, however often keys rotate. The event is trusted (the shared state is
 * internal) but carries no key material: keys still come only from the JWKS endpoint.
 */
export async function followKeyEvents(
  state: SharedState,
  refresh: () => Promise<void>,
  options: FollowKeyEventsOptions,
): Promise<() => Promise<void>> {
  const settleMs = options.settleMs ?? 500;
  const timers = new Set<NodeJS.Timeout>();
  const run = (): void => {
    refresh().catch((err: unknown) => {
      // The cache and the unknown-kid path still apply; the next event or fetch catches up.
      options.logger.warn({ err }, 'gateway auth: key set refresh after a key event failed');
    });
  };
  const unsubscribe = await state.subscribe(KEY_CHANNEL, (message) => {
    if (!isKeyEvent(message)) return;
    run();
    const timer = setTimeout(() => {
      timers.delete(timer);
      run();
    }, settleMs);
    timer.unref();
    timers.add(timer);
  });
  return async () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
    await unsubscribe();
  };
}
