import { describe, expect, it } from 'vitest';
import { parseNodeSubject, parseRfc4514, sameDistinguishedName } from './distinguished-name.js';

describe('parseRfc4514 (RFC 4514 §3)', () => {
  it.each([
    ['CN=billing,O=Partner GmbH,C=DE', [['C=DE'], ['O=Partner GmbH'], ['CN=billing']]],
    ['cn=billing, o=Partner GmbH , c=DE', [['C=DE'], ['O=Partner GmbH'], ['CN=billing']]],
    ['2.5.4.3=billing,organizationName=Partner GmbH', [['O=Partner GmbH'], ['CN=billing']]],
    ['UID=42+CN=billing', [['CN=billing', 'UID=42']]],
    ['CN=a\\,b\\+c\\"d\\\\e\\<f\\>g\\;h', [['CN=a,b+c"d\\e<f>g;h']]],
    ['CN=\\ padded\\ ', [['CN= padded ']]],
    ['CN=Lu\\C4\\8Di\\C4\\87', [['CN=Lučić']]],
    ['CN=Lučić', [['CN=Lučić']]],
    ['E=a@b.example', [['EMAILADDRESS=a@b.example']]],
  ])('%s', (text, expected) => {
    expect(parseRfc4514(text)).toEqual(expected);
  });

  it.each([
    ['', 'empty'],
    ['partner', 'no type'],
    ['=x', 'empty type'],
    ['CN=#0403616263', 'hex-encoded BER value'],
    ['CN=trailing\\', 'dangling backslash'],
    ['CN=\\FF', 'escaped bytes that are not UTF-8'],
    ['C N=x', 'a type with a space'],
    ['CN=a,,O=b', 'an empty RDN'],
  ])('refuses %s (%s)', (text) => {
    expect(parseRfc4514(text)).toBeUndefined();
  });
});

describe('parseNodeSubject (X509Certificate#subject)', () => {
  it('reads lines in certificate order, multi-valued RDNs and RFC 2253 escapes', () => {
    expect(parseNodeSubject('C=US\nO=Acme\\, Inc.\nOU=a + CN=x\\+y\nCN=\\  lead\\"q=\\<\\>#\\;\\\\')).toEqual(
      [['C=US'], ['O=Acme, Inc.'], ['CN=x+y', 'OU=a'], ['CN=  lead"q=<>#;\\']],
    );
  });

  it('equals the RFC 4514 form of the same name, and only of it', () => {
    const subject = parseNodeSubject('C=DE\nO=Partner GmbH\nCN=billing')!;
    expect(sameDistinguishedName(subject, parseRfc4514('CN=billing,O=Partner GmbH,C=DE')!)).toBe(true);
    for (const other of [
      'CN=Billing,O=Partner GmbH,C=DE',
      'CN=billing,O=Partner GmbH',
      'O=Partner GmbH,CN=billing,C=DE',
      'CN=billing,O=Partner GmbH,C=DE,DC=x',
      'CN=billing+UID=1,O=Partner GmbH,C=DE',
    ]) {
      expect(sameDistinguishedName(subject, parseRfc4514(other)!), other).toBe(false);
    }
  });
});
