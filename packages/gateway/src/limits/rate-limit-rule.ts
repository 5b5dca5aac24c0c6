/** One limit of a route, as compiled from the config (`routes[].rateLimits[]`). */
export interface RateLimitRule {
  /** Policy name: the `RateLimit-Policy` item, metrics label and part of every counter key. */
  readonly id: string;
  readonly algorithm: 'gcra' | 'sliding-window';
  /** Requests allowed per window (GCRA: the sustained rate is `limit / windowMs`). */
  readonly limit: number;
  readonly windowMs: number;
  /** GCRA only: requests that may arrive at once on a full quota (default `limit`). */
  readonly burst?: number;
  /**
   * What the limit counts per. Rules with the same id and key share their counters, so a rule
   * reused on several routes is one budget across them unless `route` is part of the key.
   */
  readonly key: readonly ('ip' | 'client_id' | 'sub' | 'route')[];
}

/** Who a request counts against. */
export interface RateLimitSubject {
  ip: string;
  clientId: string | undefined;
  sub: string | undefined;
  /** The matched route id. */
  route: string;
}

/**
 * Client ids and subjects come from tokens and may hold any character; `|` separates the parts of
 * a key, so a value holding `|` or `%` is percent-encoded and no two subjects share a key.
 */
function encodePart(value: string): string {
  return value.includes('|') || value.includes('%') ? encodeURIComponent(value) : value;
}

/**
 * The counter key of `subject` under `rule`: `rule-id|ip=…|cid=…`. A rule keyed by client_id or
 * sub counts an anonymous request (no such value) per client IP instead, so an unauthenticated
 * caller cannot escape a per-client limit by presenting no token, nor share one bucket with every
 * other anonymous caller. Each part is tagged, so a client id equal to an IP is still its own key.
 */
export function buildRateLimitKey(rule: RateLimitRule, subject: RateLimitSubject): string {
  let key = encodePart(rule.id);
  let ipUsed = false;
  for (const part of rule.key) {
    let value: string | undefined;
    switch (part) {
      case 'route':
        key += `|route=${encodePart(subject.route)}`;
        continue;
      case 'client_id':
        value = subject.clientId;
        if (value !== undefined) {
          key += `|cid=${encodePart(value)}`;
          continue;
        }
        break;
      case 'sub':
        value = subject.sub;
        if (value !== undefined) {
          key += `|sub=${encodePart(value)}`;
          continue;
        }
        break;
      case 'ip':
        break;
    }
    // `ip`, or the fallback of a missing client id / subject: counted once however often it falls back.
    if (!ipUsed) {
      key += `|ip=${subject.ip}`;
      ipUsed = true;
    }
  }
  return key;
}
