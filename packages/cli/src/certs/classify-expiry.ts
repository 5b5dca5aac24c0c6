export type ExpiryStatus = 'ok' | 'expiring' | 'expired';

export const DAY_MS = 86_400_000;

/** Whole days left, rounded toward zero: 0 on the last day, -1 a day after expiry. */
export const daysLeft = (notAfter: Date, now: number): number =>
  Math.trunc((notAfter.getTime() - now) / DAY_MS) || 0;

/** `expired` from notAfter on (RFC 5280 §4.1.2.5: the last valid instant), `expiring` within the window. */
export function classifyExpiry(notAfter: Date, now: number, withinDays: number): ExpiryStatus {
  const left = notAfter.getTime() - now;
  if (left <= 0) return 'expired';
  return left < withinDays * DAY_MS ? 'expiring' : 'ok';
}
