import { describe, expect, it } from 'vitest';
import { buildBffConfig } from './config/bff-config-schema.js';
import { createBff } from './create-bff.js';

describe('createBff', () => {
  it('refuses plain-HTTP development settings in production', async () => {
    const config = buildBffConfig({
      publicUrl: 'http://127.0.0.1:3000',
      oidc: { issuer: 'http://127.0.0.1:4000', clientId: 'bff', clientSecret: 's' },
      gateway: { url: 'http://127.0.0.1:8080' },
    });
    await expect(createBff({ config, production: true })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
    });
  });
});
