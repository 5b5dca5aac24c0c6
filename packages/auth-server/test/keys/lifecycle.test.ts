import { createVerifier } from '@gatehouse/guard';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildAuthServerConfig } from '../../src/config/schema.js';
import { createKeyService, type SigningAlgorithm } from '../../src/keys/key-service.js';
import {
  describeEachStore,
  startAuthServer,
  type StartOptions,
  type TestAuthServer,
} from '../helpers/harness.js';
import { headerOf, transitions } from '../helpers/signing-keys.js';

const DAY = 86_400;

describeEachStore('signing key lifecycle', (stores) => {
  const servers: TestAuthServer[] = [];
  afterEach(async () => {
    for (const server of servers.reverse()) await server.close();
    servers.length = 0;
  });
  async function start(options: Omit<StartOptions, 'stores'> = {}): Promise<TestAuthServer> {
    const server = await startAuthServer({ stores, ...options });
    servers.push(server);
    return server;
  }
  const statuses = async (as: TestAuthServer) =>
    (await as.server.services.keys.list()).map((k) => `${k.generation}:${k.status}`);

  it('creates one active key on first start (also when two instances start together); it signs at once', async () => {
    const as = await start();
    const second = await start({ shareWith: as });
    const list = await as.server.services.keys.list();
    expect(list).toEqual([
      expect.objectContaining({
        generation: 1,
        status: 'active',
        alg: 'ES256',
        createdAt: as.clock.ms,
        activatedAt: as.clock.ms,
        rotatesAt: as.clock.ms + 30 * DAY * 1000,
      }),
    ]);
    const kid = list[0]?.kid ?? '';
    expect((await second.server.services.keys.sign({ sub: 'x' }, 'JWT')).kid).toBe(kid);
    expect(transitions([...as.audit, ...second.audit])).toEqual([`${kid}: created active`]);
  });

  it('pre-publishes the successor prePublishSec before the rotation; it signs from the rotation on', async () => {
    const as = await start();
    const { keys } = as.server.services;
    const [first] = await keys.list();
    const rotatesAt = first?.rotatesAt ?? 0;
    as.clock.ms = rotatesAt - DAY * 1000 - 1000;
    await keys.tick();
    expect(await statuses(as)).toEqual(['1:active']);
    as.clock.advance(1);
    await keys.tick();
    const pending = (await keys.list())[1];
    expect(pending).toMatchObject({ status: 'pending', createdAt: as.clock.ms, activatesAt: rotatesAt });
    expect((await keys.jwks()).keys.map((k) => k.kid)).toEqual([first?.kid, pending?.kid]);
    as.clock.ms = rotatesAt - 1;
    expect((await keys.sign({ sub: 'x' }, 'JWT')).kid).toBe(first?.kid);
    // No tick in between: `sign` notices the rotation is due and promotes first.
    as.clock.ms = rotatesAt;
    expect((await keys.sign({ sub: 'x' }, 'JWT')).kid).toBe(pending?.kid);
    expect(await statuses(as)).toEqual(['1:retiring', '2:active']);
  });

  it('keeps the demoted key published for the longest token lifetime + a tick + 60 s, wiping its private key', async () => {
    const as = await start();
    const { keys } = as.server.services;
    // A client with hour-long access tokens: the longest lifetime anything is signed with.
    await as.server.services.clients.create({
      name: 'long tokens',
      grantTypes: ['client_credentials'],
      tokenFormat: 'jwt',
      accessTokenTtlSec: 3600,
    });
    const old = (await keys.list())[0]?.kid ?? '';
    const successor = await keys.rotate();
    as.clock.ms = successor.activatesAt;
    await keys.tick();
    const demotedAt = as.clock.ms;
    const retiring = (await keys.list())[0];
    expect(retiring).toMatchObject({
      kid: old,
      status: 'retiring',
      retiringAt: demotedAt,
      unpublishAt: demotedAt + (3600 + 60 + 60) * 1000,
    });
    const privateKey = async () =>
      (
        await as.deps.db
          .selectFrom('signing_keys')
          .select('private_key')
          .where('kid', '=', old)
          .executeTakeFirstOrThrow()
      ).private_key;
    expect(await privateKey()).toBeNull();

    as.clock.ms = (retiring?.unpublishAt ?? 0) - 1;
    await keys.tick();
    expect((await keys.jwks()).keys.map((k) => k.kid)).toContain(old);
    as.clock.advance(0.001);
    await keys.tick();
    expect((await keys.list())[0]).toMatchObject({ status: 'retired', retiredAt: as.clock.ms });
    expect(await privateKey()).toBeNull();
    expect((await keys.jwks()).keys.map((k) => k.kid)).not.toContain(old);
    expect(transitions(as.audit).filter((t) => t.startsWith(old))).toEqual([
      `${old}: created active`,
      `${old}: rotation brought forward`,
      `${old}: active -> retiring`,
      `${old}: retiring -> retired`,
    ]);
  });

  it('postpones unpublication while a recorded token signed by the key is still valid', async () => {
    const as = await start();
    const { keys } = as.server.services;
    const old = (await keys.list())[0]?.kid ?? '';
    as.clock.ms = (await keys.rotate()).activatesAt;
    await keys.tick();
    const unpublishAt = (await keys.list())[0]?.unpublishAt ?? 0;
    // As an instance that missed the promotion would have recorded it: it expires after the plan.
    const expiresAt = unpublishAt + 600_000;
    await as.deps.db
      .insertInto('access_tokens')
      .values({
        jti: 'late',
        format: 'jwt',
        token_hash: null,
        grant_id: null,
        client_id: 'c',
        sub: 's',
        scope: '',
        audience: as.url,
        dpop_jkt: null,
        kid: old,
        parent_jti: null,
        created_at: as.clock.ms,
        expires_at: expiresAt,
        revoked_at: null,
      })
      .execute();
    as.clock.ms = unpublishAt;
    await keys.tick();
    expect((await keys.list())[0]).toMatchObject({ status: 'retiring', unpublishAt: expiresAt + 60_000 });
    as.clock.ms = expiresAt + 60_000;
    await keys.tick();
    expect((await keys.list())[0]?.status).toBe('retired');
  });

  it('rotate() brings the rotation forward without skipping pre-publication, once', async () => {
    const as = await start();
    const { keys } = as.server.services;
    const t0 = as.clock.ms;
    const pending = await keys.rotate();
    expect(pending).toMatchObject({
      status: 'pending',
      generation: 2,
      createdAt: t0,
      activatesAt: t0 + DAY * 1000,
    });
    expect((await keys.list())[0]?.rotatesAt).toBe(t0 + DAY * 1000);
    // Asked again: the same successor, no second one.
    as.clock.advance(3600);
    expect((await keys.rotate()).kid).toBe(pending.kid);
    expect(await statuses(as)).toEqual(['1:active', '2:pending']);
    as.clock.ms = pending.activatesAt - 1;
    await keys.tick();
    expect(await statuses(as)).toEqual(['1:active', '2:pending']);
    // Asked once pre-publication is over: it takes over at once.
    as.clock.ms = pending.activatesAt;
    expect(await keys.rotate()).toMatchObject({ kid: pending.kid, status: 'active' });
    expect(await statuses(as)).toEqual(['1:retiring', '2:active']);
  });

  it('pre-publishes at least one JWKS max-age plus one tick, whatever prePublishSec says', async () => {
    const as = await start({
      config: { keys: { prePublishSec: 300, jwksMaxAgeSec: 300, checkIntervalSec: 60 } },
    });
    const pending = await as.server.services.keys.rotate();
    expect(pending.activatesAt - pending.createdAt).toBe(360_000);
  });

  it('a running instance switches to the new key as soon as another promotes it', async () => {
    const as = await start();
    const other = await start({ shareWith: as });
    const pending = await as.server.services.keys.rotate();
    as.clock.ms = pending.activatesAt;
    await as.server.services.keys.tick();
    // The other instance hears of it on the key channel (its own tick is a minute away).
    await vi.waitFor(async () => {
      expect((await other.server.services.keys.sign({ sub: 'x' }, 'JWT')).kid).toBe(pending.kid);
    });
    // An instance that heard nothing catches up at its next tick.
    const deaf = createKeyService(as.deps, () => Promise.resolve(300));
    await deaf.tick();
    const next = await as.server.services.keys.rotate();
    as.clock.ms = next.activatesAt;
    await as.server.services.keys.tick();
    expect((await deaf.sign({ sub: 'x' }, 'JWT')).kid).toBe(pending.kid);
    await deaf.tick();
    expect((await deaf.sign({ sub: 'x' }, 'JWT')).kid).toBe(next.kid);
  });

  it('a change of algorithm takes effect at the next rotation; tokens of the old key stay valid', async () => {
    const as = await start();
    const ed = await start({ shareWith: as, config: { keys: { algorithm: 'EdDSA' } } });
    const { keys } = ed.server.services;
    const claims = () => {
      const iat = Math.floor(ed.clock.ms / 1000);
      return { iss: 'i', aud: 'a', sub: 's', iat, exp: iat + 300 };
    };
    expect(headerOf((await keys.sign(claims(), 'at+jwt')).jwt).alg).toBe('ES256');
    const pending = await keys.rotate();
    expect(pending.alg).toBe('EdDSA');
    ed.clock.ms = pending.activatesAt - 1000;
    const { jwt: before } = await keys.sign(claims(), 'at+jwt');
    ed.clock.ms = pending.activatesAt;
    await keys.tick();
    const { jwt: after } = await keys.sign(claims(), 'at+jwt');
    expect([headerOf(before).alg, headerOf(after).alg]).toEqual(['ES256', 'EdDSA']);
    expect((await keys.list()).map((k) => `${k.alg}:${k.status}`)).toEqual([
      'ES256:retiring',
      'EdDSA:active',
    ]);
    const verifier = createVerifier({
      issuer: 'i',
      audience: 'a',
      jwks: await keys.jwks(),
      now: ed.clock.now,
      cache: false,
    });
    await expect(verifier.verify(before)).resolves.toMatchObject({ sub: 's' });
    await expect(verifier.verify(after)).resolves.toMatchObject({ sub: 's' });
  });

  it.each<SigningAlgorithm>(['ES256', 'EdDSA', 'RS256', 'PS256'])(
    'signs %s tokens that guard verifies',
    async (algorithm) => {
      const as = await start({ config: { keys: { algorithm } } });
      const iat = Math.floor(as.clock.ms / 1000);
      const { jwt, kid } = await as.server.services.keys.sign(
        { iss: as.url, aud: 'api', sub: 'alice', iat, exp: iat + 300, jti: 'j' },
        'at+jwt',
      );
      expect(headerOf(jwt)).toEqual({ alg: algorithm, typ: 'at+jwt', kid });
      const verifier = createVerifier({
        issuer: as.url,
        audience: 'api',
        jwks: await as.server.services.keys.jwks(),
        algorithms: [algorithm],
        now: as.clock.now,
        cache: false,
      });
      await expect(verifier.verify(jwt)).resolves.toMatchObject({ sub: 'alice' });
    },
  );
});

describe('keys configuration', () => {
  it('refuses a pre-publication shorter than the JWKS cache lifetime', () => {
    expect(() =>
      buildAuthServerConfig({
        issuer: 'https://as.example',
        keys: { prePublishSec: 299, jwksMaxAgeSec: 300 },
      }),
    ).toThrow(/keys\.prePublishSec must be at least keys\.jwksMaxAgeSec/);
    expect(
      buildAuthServerConfig({
        issuer: 'https://as.example',
        keys: { prePublishSec: 300, jwksMaxAgeSec: 300 },
      }).keys,
    ).toMatchObject({ prePublishSec: 300, jwksMaxAgeSec: 300 });
  });
});
