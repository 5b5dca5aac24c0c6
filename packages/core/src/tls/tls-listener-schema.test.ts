import { describe, expect, it } from 'vitest';
import { tlsListenerSchema } from './tls-listener-schema.js';

describe('tlsListenerSchema', () => {
  it('defaults to TLS 1.2 minimum without client certificates', () => {
    expect(tlsListenerSchema.parse({ certFile: 'c.pem', keyFile: 'k.pem' })).toEqual({
      certFile: 'c.pem',
      keyFile: 'k.pem',
      clientAuth: 'none',
      minVersion: 'TLSv1.2',
    });
  });

  it.each([
    ['an unknown key', { certFile: 'c', keyFile: 'k', ciphers: 'ALL' }, 'ciphers'],
    ['TLS 1.1', { certFile: 'c', keyFile: 'k', minVersion: 'TLSv1.1' }, 'minVersion'],
    ['no key file', { certFile: 'c' }, 'keyFile'],
    ['an empty certificate path', { certFile: '', keyFile: 'k' }, 'certFile'],
    [
      'required client certificates without a CA',
      { certFile: 'c', keyFile: 'k', clientAuth: 'require' },
      'caFile',
    ],
    ['an unknown clientAuth', { certFile: 'c', keyFile: 'k', clientAuth: 'request' }, 'clientAuth'],
  ])('refuses %s', (_name, input, path) => {
    const result = tlsListenerSchema.safeParse(input);
    expect(result.success).toBe(false);
    const problems = result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
    expect(problems?.join('\n')).toContain(path);
  });

  it('accepts required client certificates with a CA, and optional ones without', () => {
    expect(
      tlsListenerSchema.parse({ certFile: 'c', keyFile: 'k', caFile: 'ca', clientAuth: 'require' })
        .clientAuth,
    ).toBe('require');
    expect(
      tlsListenerSchema.parse({ certFile: 'c', keyFile: 'k', clientAuth: 'optional' }).caFile,
    ).toBeUndefined();
  });
});
