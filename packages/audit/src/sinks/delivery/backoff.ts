/**
 * Exponential backoff with full jitter: a delay drawn uniformly from [0, min(cap, base × 2^(n-1)))
 * for the n-th consecutive failure. Jitter spreads the retries of many senders after a shared outage
 * instead of having them all return at once.
 */
export function fullJitterDelay(
  failures: number,
  initialDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** exponent);
  return Math.floor(random() * ceiling);
}
