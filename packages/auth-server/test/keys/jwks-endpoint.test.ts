import { calculateJwkThumbprint, type JWK } from 'jose';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

describeEachStore('JWKS endpoint', (stores) => {
  let as: TestAuthServer;
  beforeAll(async () => {
    as = await startAuthServer({ stores, config: { keys: { jwksMaxAgeSec: 120, prePublishSec: 600 } } });
  });
  afterAll(async () => {
    await as.close();
  });

  async function served(): Promise<{ kids: string[]; keys: JWK[] }> {
    const response = await fetch(`${as.url}/jwks`);
    expect(response.status).toBe(200);
    // RFC 7517 §8.5.1 media type; cacheable for max-age (what pre-publication is sized against).
    expect(response.headers.get('content-type')).toMatch(/^application\/jwk-set\+json(;|$)/);
    expect(response.headers.get('cache-control')).toBe('public, max-age=120');
    const body = (await response.json()) as { keys: JWK[] };
    expect(Object.keys(body)).toEqual(['keys']);
    return { kids: body.keys.map((k) => k.kid ?? ''), keys: body.keys };
  }

  it('publishes pending, active and retiring keys, never retired or revoked ones', async () => {
    const { keys } = as.server.services;
    const [a] = await keys.list();
    const first = a?.kid ?? '';
    expect((await served()).kids).toEqual([first]);

    const b = await keys.rotate();
    expect((await served()).kids).toEqual([first, b.kid]);

    as.clock.advance(600);
    await keys.tick();
    expect((await keys.list()).map((k) => k.status)).toEqual(['retiring', 'active']);
    expect((await served()).kids).toEqual([b.kid, first]);

    const c = await keys.rotate();
    expect((await served()).kids).toEqual([b.kid, c.kid, first]);
    await keys.rotateEmergency(c.kid);
    expect((await served()).kids).toEqual([b.kid, first]);

    const retiring = (await keys.list()).find((k) => k.kid === first);
    as.clock.ms = retiring?.unpublishAt ?? 0;
    await keys.tick();
    const list = await keys.list();
    expect(list.map((k) => `${k.kid}:${k.status}`).slice(0, 3)).toEqual([
      `${first}:retired`,
      `${b.kid}:active`,
      `${c.kid}:revoked`,
    ]);
    // The rotation asked for still happens, with a fresh successor in place of the revoked one.
    const d = list[3];
    expect(d?.status).toBe('pending');
    expect((await served()).kids).toEqual([b.kid, d?.kid]);
  });

  it('serves public members only, each kid the RFC 7638 thumbprint of its key', async () => {
    await as.server.services.keys.rotate();
    const { keys } = await served();
    expect(keys.length).toBeGreaterThanOrEqual(2);
    for (const jwk of keys) {
      expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
      expect(await calculateJwkThumbprint(jwk, 'sha256')).toBe(jwk.kid);
    }
  });
});
