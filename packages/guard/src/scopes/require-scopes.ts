import { GuardError } from '../errors.js';
import type { Principal } from '../jwt/principal.js';

export interface RequireScopesOptions {
  /** `all` (default): every scope is needed; `any`: one of them suffices. */
  readonly mode?: 'all' | 'any';
}

/**
 * Coarse authorization by scope (RFC 6750 §3.1 `insufficient_scope`, answered with 403 and the
 * needed scopes in the challenge). An empty requirement always passes.
 */
export function requireScopes(
  principal: Pick<Principal, 'scopes'>,
  scopes: readonly string[],
  options: RequireScopesOptions = {},
): void {
  if (scopes.length === 0) return;
  const granted = new Set(principal.scopes);
  const ok =
    options.mode === 'any' ? scopes.some((s) => granted.has(s)) : scopes.every((s) => granted.has(s));
  if (!ok) {
    throw new GuardError('ERR_INSUFFICIENT_SCOPE', {
      requiredScopes: scopes,
      detail: `${options.mode ?? 'all'} of ${scopes.join(' ')}`,
    });
  }
}
