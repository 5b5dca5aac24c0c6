import { describe, expect, it } from 'vitest';
import { GuardError, isGuardError, requireScopes } from '../../src/index.js';

const granted = { scopes: ['orders:read', 'orders:write', 'profile'] };

interface Case {
  readonly name: string;
  readonly scopes: readonly string[];
  readonly mode?: 'all' | 'any';
  readonly allowed: boolean;
}

const cases: Case[] = [
  { name: 'one granted scope', scopes: ['orders:read'], allowed: true },
  { name: 'every scope granted (all, default)', scopes: ['orders:read', 'profile'], allowed: true },
  { name: 'one of two missing (all, default)', scopes: ['orders:read', 'admin'], allowed: false },
  {
    name: 'one of two missing (all, explicit)',
    scopes: ['orders:read', 'admin'],
    mode: 'all',
    allowed: false,
  },
  { name: 'one of two granted (any)', scopes: ['admin', 'profile'], mode: 'any', allowed: true },
  { name: 'none granted (any)', scopes: ['admin', 'root'], mode: 'any', allowed: false },
  { name: 'no scope needed (all)', scopes: [], allowed: true },
  { name: 'no scope needed (any)', scopes: [], mode: 'any', allowed: true },
  // Scopes compare exactly (RFC 6749 §3.3: case-sensitive strings), with no prefix matching.
  { name: 'different case', scopes: ['Orders:Read'], allowed: false },
  { name: 'a prefix of a granted scope', scopes: ['orders'], allowed: false },
  { name: 'a granted scope as prefix', scopes: ['orders:read:all'], allowed: false },
];

describe('requireScopes', () => {
  it.each(cases)('$name -> allowed: $allowed', ({ scopes, mode, allowed }) => {
    const run = (): void => {
      requireScopes(granted, scopes, mode === undefined ? {} : { mode });
    };
    if (allowed) {
      expect(run).not.toThrow();
      return;
    }
    expect(run).toThrow(GuardError);
    try {
      run();
    } catch (err) {
      expect(isGuardError(err)).toBe(true);
      expect(err).toMatchObject({
        code: 'ERR_INSUFFICIENT_SCOPE',
        status: 403,
        expose: true,
        requiredScopes: scopes,
        detail: `${mode ?? 'all'} of ${scopes.join(' ')}`,
      });
    }
  });

  it('isGuardError tells GuardErrors apart', () => {
    expect(isGuardError(new GuardError('ERR_INSUFFICIENT_SCOPE'))).toBe(true);
    expect(isGuardError(new Error('x'))).toBe(false);
    expect(isGuardError({ code: 'ERR_INSUFFICIENT_SCOPE' })).toBe(false);
  });

  it('a principal with no scopes passes only an empty requirement', () => {
    expect(() => {
      requireScopes({ scopes: [] }, []);
    }).not.toThrow();
    expect(() => {
      requireScopes({ scopes: [] }, ['profile'], { mode: 'any' });
    }).toThrow(expect.objectContaining({ code: 'ERR_INSUFFICIENT_SCOPE' }) as Error);
  });
});
