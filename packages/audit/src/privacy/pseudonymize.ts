import { createHmac } from 'node:crypto';
import type { AuditEvent } from '@gatehouse/core';

export interface PseudonymizeOptions {
  /** Client addresses: `sourceIp`, and targets of type `ip`. */
  readonly sourceIp: boolean;
  /** Data subjects: `actor.sub`, and targets of type `user` or `subject`. */
  readonly subject: boolean;
}

/** The prefix that marks a pseudonym (so a report or an analyst never mistakes it for a real value). */
export const PSEUDONYM_PREFIX = 'ps_';

/** The smallest key accepted: 256 bits, the HMAC-SHA-256 block security level. */
export const MIN_PSEUDONYM_KEY_BYTES = 32;

export interface Pseudonymizer {
  /** The event with its personal data replaced by keyed pseudonyms; the input is not changed. */
  apply(event: AuditEvent): AuditEvent;
  /** The pseudonym of a subject, to find its records (a data-subject access report). */
  subject(value: string): string;
  /** The pseudonym of an address. */
  ip(value: string): string;
}

/**
 * Keyed pseudonymisation (GDPR Art. 4(5)): HMAC-SHA-256 under a key kept apart from the audit store,
 * per kind of value (a subject and an address that happen to be equal get different pseudonyms),
 * 128 bits base64url. The same value always gets the same pseudonym, so records stay linkable and a
 * subject's records can be found by whoever holds the key; without the key, the store alone does not
 * say who or where.
 */
export function createPseudonymizer(key: Buffer, options: PseudonymizeOptions): Pseudonymizer {
  if (key.length < MIN_PSEUDONYM_KEY_BYTES)
    throw new RangeError(`the pseudonymisation key must be at least ${MIN_PSEUDONYM_KEY_BYTES} bytes`);
  const pseudonym = (kind: string, value: string): string =>
    PSEUDONYM_PREFIX +
    createHmac('sha256', key).update(`${kind}\u0000${value}`).digest().subarray(0, 16).toString('base64url');
  const ip = (value: string): string => pseudonym('ip', value);
  const subject = (value: string): string => pseudonym('sub', value);
  return {
    ip,
    subject,
    apply(event) {
      let out = event;
      if (options.sourceIp && event.sourceIp !== undefined) out = { ...out, sourceIp: ip(event.sourceIp) };
      if (options.subject && event.actor?.sub !== undefined)
        out = { ...out, actor: { ...event.actor, sub: subject(event.actor.sub) } };
      const target = event.target;
      if (target?.id !== undefined) {
        if (options.sourceIp && target.type === 'ip')
          out = { ...out, target: { ...target, id: ip(target.id) } };
        else if (options.subject && (target.type === 'user' || target.type === 'subject'))
          out = { ...out, target: { ...target, id: subject(target.id) } };
      }
      return out;
    },
  };
}
