import type { ErrorCode } from '@gatehouse/core';
import { expect } from 'vitest';
import { createVerifier, type Principal, type Verifier, type VerifierOptions } from '../../src/index.js';
import { AUDIENCE, ISSUER, NOW_MS } from './tokens.js';

/** One row of an attack table: a token, where the attack comes from and the refusal it must get. */
export interface AttackCase {
  readonly name: string;
  /** RFC section or CVE the attack is taken from. */
  readonly source: string;
  readonly token: string;
  readonly code: ErrorCode;
}

/** Verifier options every attack table shares: static key set, frozen clock, no result cache. */
type ExtraOptions = Omit<VerifierOptions, 'issuer' | 'audience' | 'jwks' | 'jwksUri' | 'secret'>;

export function jwksVerifier(keys: readonly unknown[], options: ExtraOptions = {}): Verifier {
  return createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwks: { keys },
    now: () => NOW_MS,
    cache: false,
    ...options,
  });
}

export function secretVerifier(secret: string | Uint8Array, options: ExtraOptions = {}): Verifier {
  return createVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    secret,
    now: () => NOW_MS,
    cache: false,
    ...options,
  });
}

/** The token must be refused by guard itself (a GuardError), with exactly `code`. */
export async function expectRefused(verifier: Verifier, token: string, code: ErrorCode): Promise<void> {
  await expect(verifier.verify(token)).rejects.toMatchObject({ name: 'GuardError', code });
}

/** The token must be accepted; returns the principal for further checks. */
export async function expectAccepted(verifier: Verifier, token: string): Promise<Principal> {
  const principal = await verifier.verify(token);
  expect(principal.sub).toBe('user-1');
  return principal;
}

/** Replaces segment `index` of a dot-separated token. */
export function withSegment(token: string, index: number, segment: string): string {
  const parts = token.split('.');
  parts[index] = segment;
  return parts.join('.');
}

/** Segment `index` of a dot-separated token. */
export function segmentOf(token: string, index: number): string {
  return token.split('.')[index] ?? '';
}

/** A copy of `bytes` with one bit flipped. */
export function flipBit(bytes: Uint8Array, byteIndex: number, bit = 0): Buffer {
  const copy = Buffer.from(bytes);
  copy[byteIndex] = (copy[byteIndex] ?? 0) ^ (1 << bit);
  return copy;
}

/** A table's names must be unique so a failing row can be found. */
export function assertUniqueNames(cases: readonly { readonly name: string }[]): void {
  const names = cases.map((c) => c.name);
  expect(new Set(names).size).toBe(names.length);
}

/**
 * Rows for `it.each(...)('%s', ...)`: the full title `name [source] -> code`, which `$name`
 * interpolation would truncate.
 */
export function titled(cases: readonly AttackCase[], prefix = ''): [string, AttackCase][] {
  return cases.map((c) => [`${prefix}${c.name} [${c.source}] -> ${c.code}`, c]);
}
