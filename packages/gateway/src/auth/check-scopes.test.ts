import { describe, expect, it } from 'vitest';
import { checkScopes } from './check-scopes.js';

describe('checkScopes', () => {
  const granted = new Set(['accounts:read', 'orders:read']);
  it.each([
    [[], true],
    [['accounts:read'], true],
    [['accounts:read', 'orders:read'], true],
    [['accounts:write'], false],
    [['accounts:read', 'accounts:write'], false],
    [['Accounts:read'], false],
    [['accounts'], false],
  ])('requires every scope of %j → %s', (required, expected) => {
    expect(checkScopes(granted, required)).toBe(expected);
  });
  it('nothing granted passes only when nothing is required', () => {
    expect(checkScopes(new Set(), [])).toBe(true);
    expect(checkScopes(new Set(), ['a'])).toBe(false);
  });
});
