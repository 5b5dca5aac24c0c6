import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { buildCheckServerIdentity } from './check-server-identity.js';

function cert(subjectaltname: string | undefined): PeerCertificate {
  return { subject: { CN: 'x' }, subjectaltname } as unknown as PeerCertificate;
}

describe('buildCheckServerIdentity', () => {
  it('leaves Node’s host name check in place without an expected identity', () => {
    expect(buildCheckServerIdentity(undefined)).toBeUndefined();
    expect(buildCheckServerIdentity({})).toBeUndefined();
  });

  it.each<[string, { uri?: string; dns?: string }, string | undefined, boolean]>([
    ['the URI among others', { uri: 'spiffe://a/b' }, 'DNS:x, URI:spiffe://a/b', true],
    ['a wildcard DNS name', { dns: 'svc.gatehouse.internal' }, 'DNS:*.gatehouse.internal', true],
    ['another URI', { uri: 'spiffe://a/b' }, 'URI:spiffe://a/c', false],
    ['a URI prefix', { uri: 'spiffe://a/b' }, 'URI:spiffe://a/bc', false],
    ['no SAN at all', { uri: 'spiffe://a/b' }, undefined, false],
    [
      'a quoted DNS entry that contains the URI text',
      { uri: 'spiffe://a/b' },
      'DNS:"x, URI:spiffe://a/b"',
      false,
    ],
    ['a wrong DNS name', { dns: 'svc.internal' }, 'DNS:other.internal, URI:spiffe://a/b', false],
  ])('with %s: %s', (_name, identity, san, accepted) => {
    const check = buildCheckServerIdentity(identity);
    const result = check?.('127.0.0.1', cert(san));
    if (accepted) expect(result).toBeUndefined();
    else expect(result).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });
});
