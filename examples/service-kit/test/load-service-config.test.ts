import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadServiceConfig } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'service-config-'));
for (const name of ['svc.pem', 'svc.key', 'ca.pem']) writeFileSync(join(dir, name), `PEM ${name}`);
const valid = {
  port: 4101,
  tls: { certFile: 'svc.pem', keyFile: 'svc.key', caFile: 'ca.pem' },
  gatewayIdentity: 'spiffe://gatehouse.local/gateway',
  issuer: 'http://127.0.0.1:4000',
  jwksUri: 'http://127.0.0.1:4000/jwks',
  databaseFile: 'data/service.sqlite',
};
const write = (config: unknown): string => {
  const file = join(dir, `config-${String(Math.random()).slice(2)}.json`);
  writeFileSync(file, JSON.stringify(config));
  return file;
};

describe('loadServiceConfig', () => {
  it('reads the PEM files and resolves paths against the config file', () => {
    expect(loadServiceConfig(write(valid))).toEqual({
      host: '127.0.0.1',
      port: 4101,
      tls: { cert: 'PEM svc.pem', key: 'PEM svc.key', ca: 'PEM ca.pem' },
      gatewayIdentity: valid.gatewayIdentity,
      issuer: valid.issuer,
      jwksUri: valid.jwksUri,
      databaseFile: join(dir, 'data/service.sqlite'),
      logLevel: 'info',
    });
  });

  it('refuses unknown keys and lists every violation at once', () => {
    const file = write({ ...valid, port: -1, issuer: 'not a url', extra: true });
    expect(() => loadServiceConfig(file)).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG_INVALID',
        detail: expect.stringMatching(/port:.*issuer:.*unrecognized key/is),
      }),
    );
  });

  it('refuses a file that is not JSON', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{');
    expect(() => loadServiceConfig(file)).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });
});
