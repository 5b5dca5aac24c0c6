import { describe, expect, it } from 'vitest';
import { newClientId } from '../../src/clients/client-store.js';

describe('newClientId', () => {
  it('gives 128-bit base64url ids that start with a letter or digit (never read as a CLI option), all distinct', () => {
    // One id in 32 of plain base64url starts with '-' or '_': 4,000 draws would show it about 125 times.
    const ids = Array.from({ length: 4000 }, () => newClientId());
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{21}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
