import { hashToken } from '@gatehouse/core';
import type { AuthServerDeps } from '../context.js';

/** Longest progressive delay before a login answer. */
export const MAX_LOGIN_DELAY_MS = 2000;

export interface ThrottleStatus {
  /** Set while the account or the source address is locked out: when the lock ends (epoch ms). */
  readonly lockedUntil: number | undefined;
  /** Delay to apply before answering (earlier failures × delayStepMs, capped at 2 s). */
  readonly delayMs: number;
}

export interface FailureOutcome {
  /** Which lockouts this failure started. */
  readonly lockedAccount: boolean;
  readonly lockedIp: boolean;
  readonly accountFailures: number;
  readonly ipFailures: number;
  /**
   * Set when this failure made the address reach `stuffingDistinctAccounts` distinct usernames failed
   * within the window (credential stuffing: one list of breached credentials tried account after
   * account), once per window; the address is locked out with it.
   */
  readonly stuffing: { readonly distinctAccounts: number } | undefined;
}

export interface LoginThrottle {
  status(username: string, ip: string): Promise<ThrottleStatus>;
  recordFailure(username: string, ip: string): Promise<FailureOutcome>;
  /** A successful login clears the account's failures (not the address's: spraying stays visible). */
  recordSuccess(username: string): Promise<void>;
}

/**
 * Brute-force protection (OWASP Authentication Cheat Sheet, NIST SP 800-63B §5.2.2): failed logins
 * are counted per account and per source address in shared state (every instance sees them), each
 * answer is delayed in proportion to earlier failures, and too many failures lock the account or
 * the address for a while. Counters exist for unknown usernames too, so a lockout reveals nothing.
 * Lock expiry follows the injected clock; the shared-state TTLs only bound the memory used.
 */
export function createLoginThrottle(deps: Pick<AuthServerDeps, 'state' | 'now' | 'config'>): LoginThrottle {
  const cfg = deps.config.login;
  const windowMs = cfg.failureWindowSec * 1000;
  const lockMs = cfg.lockoutSec * 1000;
  // The username is hashed: counters never hold what a user typed (it may be a password).
  const account = (username: string): string => `login:account:${hashToken(username)}`;
  const address = (ip: string): string => `login:ip:${ip}`;

  async function count(keyName: string): Promise<number> {
    const value = await deps.state.get(`${keyName}:failures`);
    return value === undefined ? 0 : Number(value);
  }

  async function lockedUntil(keyName: string): Promise<number | undefined> {
    const value = await deps.state.get(`${keyName}:locked`);
    const until = value === undefined ? undefined : Number(value);
    return until !== undefined && until > deps.now() ? until : undefined;
  }

  async function lock(keyName: string): Promise<void> {
    await deps.state.set(`${keyName}:locked`, String(deps.now() + lockMs), lockMs);
  }

  return {
    async status(username, ip) {
      const [accountLock, ipLock, accountFailures, ipFailures] = await Promise.all([
        lockedUntil(account(username)),
        lockedUntil(address(ip)),
        count(account(username)),
        count(address(ip)),
      ]);
      const locks = [accountLock, ipLock].filter((t) => t !== undefined);
      return {
        lockedUntil: locks.length === 0 ? undefined : Math.max(...locks),
        delayMs: Math.min(MAX_LOGIN_DELAY_MS, cfg.delayStepMs * Math.max(accountFailures, ipFailures)),
      };
    },

    async recordFailure(username, ip) {
      const [accountFailures, ipFailures, firstForAccount] = await Promise.all([
        deps.state.increment(`${account(username)}:failures`, windowMs),
        deps.state.increment(`${address(ip)}:failures`, windowMs),
        // Distinct usernames per address: a marker per (address, account) pair, counted when new.
        deps.state.setIfAbsent(`${address(ip)}:tried:${hashToken(username)}`, '1', windowMs),
      ]);
      const distinctAccounts = firstForAccount
        ? await deps.state.increment(`${address(ip)}:accounts`, windowMs)
        : Number((await deps.state.get(`${address(ip)}:accounts`)) ?? '0');
      const stuffing =
        distinctAccounts >= cfg.stuffingDistinctAccounts &&
        (await deps.state.setIfAbsent(`${address(ip)}:stuffing`, '1', windowMs))
          ? { distinctAccounts }
          : undefined;
      const lockedAccount = accountFailures >= cfg.maxFailuresPerAccount;
      const lockedIp = ipFailures >= cfg.maxFailuresPerIp || stuffing !== undefined;
      if (lockedAccount) await lock(account(username));
      if (lockedIp) await lock(address(ip));
      return { lockedAccount, lockedIp, accountFailures, ipFailures, stuffing };
    },

    async recordSuccess(username) {
      await deps.state.delete(`${account(username)}:failures`);
    },
  };
}
