import { hashToken, randomToken } from '@gatehouse/core';
import type { AuthServerDeps } from '../context.js';

/** A logout waiting for the user's confirmation (RP-Initiated Logout 1.0 §2, §6). */
export interface PendingLogout {
  readonly id: string;
  readonly csrf: string;
  readonly clientId: string | null;
  /** Already checked against the client's registered URIs. */
  readonly postLogoutRedirectUri: string | null;
  readonly state: string | null;
  readonly expiresAt: number;
}

export interface LogoutStore {
  start(input: Pick<PendingLogout, 'clientId' | 'postLogoutRedirectUri' | 'state'>): Promise<PendingLogout>;
  get(id: string | undefined): Promise<PendingLogout | undefined>;
  /** Removes it once confirmed; true for exactly one caller. */
  finish(pending: PendingLogout): Promise<boolean>;
}

const key = (id: string): string => `logout:${hashToken(id)}`;

export function createLogoutStore(deps: Pick<AuthServerDeps, 'state' | 'now' | 'config'>): LogoutStore {
  const ttlMs = deps.config.login.interactionTtlSec * 1000;
  return {
    async start(input) {
      const pending: PendingLogout = {
        id: randomToken(),
        csrf: randomToken(),
        ...input,
        expiresAt: deps.now() + ttlMs,
      };
      await deps.state.set(key(pending.id), JSON.stringify(pending), ttlMs);
      return pending;
    },
    async get(id) {
      if (id === undefined) return undefined;
      const raw = await deps.state.get(key(id));
      if (raw === undefined) return undefined;
      const pending = JSON.parse(raw) as PendingLogout;
      return pending.expiresAt > deps.now() ? pending : undefined;
    },
    async finish(pending) {
      const first = await deps.state.setIfAbsent(`${key(pending.id)}:done`, '1', ttlMs);
      await deps.state.delete(key(pending.id));
      return first;
    },
  };
}
