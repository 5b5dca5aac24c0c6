import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachStore, startAuthServer, type TestAuthServer } from './helpers/harness.js';

describeEachStore('discovery and JWKS', (stores) => {
  let as: TestAuthServer;
  beforeAll(async () => {
    as = await startAuthServer({ stores });
  });
  afterAll(async () => {
    await as.close();
  });

  it('publishes RFC 8414 and OIDC metadata with the issuer and endpoint URLs', async () => {
    const oidc = await fetch(`${as.url}/.well-known/openid-configuration`);
    expect(oidc.status).toBe(200);
    const metadata = (await oidc.json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      issuer: as.url,
      token_endpoint: `${as.url}/token`,
      jwks_uri: `${as.url}/jwks`,
      code_challenge_methods_supported: ['S256'],
      response_types_supported: ['code'],
      authorization_response_iss_parameter_supported: true,
    });
    const rfc8414 = await fetch(`${as.url}/.well-known/oauth-authorization-server`);
    expect(await rfc8414.json()).toEqual(metadata);
  });

  it('serves the active key in the JWKS, cacheable, without private members', async () => {
    const response = await fetch(`${as.url}/jwks`);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect(as.audit.some((e) => e.action === 'key.transition')).toBe(true);
  });
});
