import { buildIpSet } from '../net/ip-set.js';

export interface IpRulesOptions {
  /** IPs/CIDRs that may call; empty admits everyone (not denied). */
  readonly allow: readonly string[];
  /** IPs/CIDRs always refused. */
  readonly deny: readonly string[];
}

export interface IpRules {
  decide(ip: string): 'allow' | 'deny';
}

/**
 * Static IP rules of the config, compiled once (a bad entry throws at load, never per request).
 * Deny wins over allow, so carving an address out of an allowed block works; a non-empty allow
 * list admits only its members.
 */
export function buildIpRules(options: IpRulesOptions): IpRules {
  const allow = buildIpSet(options.allow);
  const deny = buildIpSet(options.deny);
  const allowAll = allow.size === 0;
  const denyNone = deny.size === 0;
  return {
    decide(ip) {
      if (!denyNone && deny.contains(ip)) return 'deny';
      return allowAll || allow.contains(ip) ? 'allow' : 'deny';
    },
  };
}
