import { timingSafeEqual } from 'node:crypto';

/**
 * Compares two strings without revealing, through timing, how much of them matches: for bindings
 * and hashes an attacker could otherwise guess byte by byte. Length is not secret here.
 */
export function equalsConstantTime(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}
