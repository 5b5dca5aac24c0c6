import { Writable } from 'node:stream';
import { createDevCa, createLogger } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import { readForwardedCertificate } from './forwarded-certificate.js';

describe('readForwardedCertificate', () => {
  const lines: string[] = [];
  const logger = createLogger({
    component: 'test',
    level: 'info',
    destination: new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    }),
  });

  let value = '';
  let first: ReturnType<typeof readForwardedCertificate>;

  it('parses a value once and answers the same certificate again from its cache', async () => {
    const ca = await createDevCa({ commonName: 'cache' });
    const { certPem } = await ca.issue({ commonName: 'client', usage: 'client' });
    value = encodeURIComponent(certPem);
    first = readForwardedCertificate([value], logger);
    expect(first?.subject).toContain('CN=client');
    expect(readForwardedCertificate([value], logger)).toBe(first);
  });

  it('reads nothing from no field, a repeated field, an empty or a malformed value', () => {
    const before = lines.length;
    expect(readForwardedCertificate(undefined, logger)).toBeUndefined();
    expect(readForwardedCertificate([''], logger)).toBeUndefined();
    expect(readForwardedCertificate([':AAAA:', ':AAAA:'], logger)).toBeUndefined();
    expect(readForwardedCertificate(['%zz'], logger)).toBeUndefined();
    // Logged once per distinct malformed value (then cached), never with the value itself.
    expect(readForwardedCertificate(['%zz'], logger)).toBeUndefined();
    const logged = lines.slice(before);
    expect(logged.filter((line) => line.includes('repeated'))).toHaveLength(1);
    expect(logged.filter((line) => line.includes('unreadable'))).toHaveLength(1);
    expect(logged.join('')).not.toContain('%zz');
  });

  it('stays bounded: a spray of distinct values empties the cache instead of growing it', () => {
    for (let i = 0; i < 1100; i++) expect(readForwardedCertificate([`v${i}`], logger)).toBeUndefined();
    // The first value was forgotten with the rest: parsed anew, the same certificate.
    const again = readForwardedCertificate([value], logger);
    expect(again).not.toBe(first);
    expect(again?.fingerprint256).toBe(first?.fingerprint256);
  });
});
