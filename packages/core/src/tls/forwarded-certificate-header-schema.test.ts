import { describe, expect, it } from 'vitest';
import { forwardedCertificateHeaderSchema } from './forwarded-certificate-header-schema.js';

describe('forwardedCertificateHeaderSchema', () => {
  const schema = forwardedCertificateHeaderSchema('read only from `trustedProxies`');

  it('takes a header name or nothing, and says who is believed', () => {
    expect(schema.parse('Client-Cert')).toBe('Client-Cert');
    expect(schema.parse(undefined)).toBeUndefined();
    expect(schema.description).toMatch(
      /RFC 9440 .*x-forwarded-client-cert.*read only from `trustedProxies`$/,
    );
  });

  it.each(['client cert', 'Client-Cert:', '', 'x\r\ny'])('refuses %j', (value) => {
    expect(schema.safeParse(value).success).toBe(false);
  });
});
