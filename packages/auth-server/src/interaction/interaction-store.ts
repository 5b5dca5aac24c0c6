import { createHash, timingSafeEqual } from 'node:crypto';
import { hashToken, randomToken } from '@gatehouse/core';
import type { AuthServerDeps } from '../context.js';
import type { AuthorizationRequest } from './authorization-request.js';

/** The user authenticated during (or before) the interaction. */
export interface InteractionLogin {
  readonly sub: string;
  readonly sid: string;
  readonly authTime: number;
}

/**
 * A pending authorization (login and/or consent) of one browser: the validated request, the CSRF
 * token of its forms and, once known, the user. Kept in shared state (every instance sees it) under
 * the hash of its id; the id lives in an HttpOnly cookie.
 */
export interface Interaction {
  readonly id: string;
  readonly csrf: string;
  readonly request: AuthorizationRequest;
  readonly login: InteractionLogin | null;
  /** Epoch ms (shared-state TTL is the backstop; this follows the injected clock). */
  readonly expiresAt: number;
}

export interface InteractionStore {
  start(request: AuthorizationRequest, login: InteractionLogin | null): Promise<Interaction>;
  get(id: string | undefined): Promise<Interaction | undefined>;
  update(interaction: Interaction): Promise<void>;
  /** Ends the interaction; true for exactly one caller (a double-submitted form completes once). */
  finish(interaction: Interaction): Promise<boolean>;
}

const key = (id: string): string => `interaction:${hashToken(id)}`;

/** Constant-time comparison of a submitted CSRF token (both sides hashed to one length first). */
export function csrfMatches(expected: string, submitted: string | undefined): boolean {
  if (submitted === undefined) return false;
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(submitted).digest();
  return timingSafeEqual(a, b);
}

export function createInteractionStore(
  deps: Pick<AuthServerDeps, 'state' | 'now' | 'config'>,
): InteractionStore {
  const ttlMs = deps.config.login.interactionTtlSec * 1000;
  return {
    async start(request, login) {
      const interaction: Interaction = {
        id: randomToken(),
        csrf: randomToken(),
        request,
        login,
        expiresAt: deps.now() + ttlMs,
      };
      await deps.state.set(key(interaction.id), JSON.stringify(interaction), ttlMs);
      return interaction;
    },
    async get(id) {
      if (id === undefined) return undefined;
      const raw = await deps.state.get(key(id));
      if (raw === undefined) return undefined;
      const interaction = JSON.parse(raw) as Interaction;
      return interaction.expiresAt > deps.now() ? interaction : undefined;
    },
    async update(interaction) {
      const remaining = interaction.expiresAt - deps.now();
      if (remaining > 0) await deps.state.set(key(interaction.id), JSON.stringify(interaction), remaining);
    },
    async finish(interaction) {
      const first = await deps.state.setIfAbsent(`${key(interaction.id)}:done`, '1', ttlMs);
      await deps.state.delete(key(interaction.id));
      return first;
    },
  };
}
