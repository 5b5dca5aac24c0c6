import { createVerifier } from '@gatehouse/guard';
import { afterAll, describe, expect, it } from 'vitest';
import type { SigningAlgorithm } from '../src/keys/key-service.js';
import { startAuthServer, type TestAuthServer } from './helpers/harness.js';

const IN_FLIGHT = 100;

describe('signing on the thread pool: concurrent signatures stay with their own payloads', () => {
  const servers: TestAuthServer[] = [];
  afterAll(async () => {
    for (const server of servers) await server.close();
  });

  it.each<SigningAlgorithm>(['ES256', 'EdDSA', 'RS256', 'PS256'])(
    '%s: many signatures in flight at once each verify with their own claims',
    async (algorithm) => {
      const as = await startAuthServer({ config: { keys: { algorithm } } });
      servers.push(as);
      const iat = Math.floor(as.clock.ms / 1000);
      const payloads = Array.from({ length: IN_FLIGHT }, (_, i) => ({
        iss: as.url,
        aud: 'api',
        sub: `user-${String(i)}`,
        iat,
        exp: iat + 300,
        jti: `jti-${String(i)}`,
      }));
      // All started before any is awaited: the jobs overlap on the pool.
      const signed = await Promise.all(payloads.map((p) => as.server.services.keys.sign(p, 'at+jwt')));
      const verifier = createVerifier({
        issuer: as.url,
        audience: 'api',
        jwks: await as.server.services.keys.jwks(),
        algorithms: [algorithm],
        now: as.clock.now,
        cache: false,
      });
      const verified = await Promise.all(signed.map(({ jwt }) => verifier.verify(jwt)));
      expect(verified.map((principal) => [principal.sub, principal.jti])).toEqual(
        payloads.map((p) => [p.sub, p.jti]),
      );
      verifier.close();
    },
  );
});
