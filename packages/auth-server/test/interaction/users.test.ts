import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserStore, type UserStore } from '../../src/users/user-store.js';
import { describeEachStore, startAuthServer, type TestAuthServer } from '../helpers/harness.js';

describeEachStore('user store', (stores) => {
  let as: TestAuthServer;
  let users: UserStore;
  beforeAll(async () => {
    as = await startAuthServer({ stores });
    users = createUserStore(as.deps);
  });
  afterAll(async () => {
    await as.close();
  });

  it('creates a user with a random UUID sub and an scrypt hash at the configured cost', async () => {
    const user = await users.create({
      username: 'Carol',
      password: 'carol password 1',
      roles: ['admin', 'admin', 'ops'],
      name: 'Carol C',
      email: 'carol@example.com',
    });
    expect(user).toEqual({
      sub: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      username: 'carol',
      roles: ['admin', 'ops'],
      name: 'Carol C',
      email: 'carol@example.com',
      createdAt: as.clock.ms,
    });
    const row = await as.deps.db
      .selectFrom('users')
      .select('password_hash')
      .where('sub', '=', user.sub)
      .executeTakeFirstOrThrow();
    // passwordLogN of the test deps (10); production keeps the OWASP default 17.
    expect(row.password_hash).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect(row.password_hash).not.toContain('carol password 1');
  });

  it('keeps usernames unique regardless of case and finds them case-insensitively', async () => {
    const dave = await users.create({ username: 'dave', password: 'dave password 1' });
    await expect(users.create({ username: 'DAVE', password: 'another password' })).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
    });
    expect((await users.findByUsername('DaVe'))?.sub).toBe(dave.sub);
    expect((await users.get(dave.sub))?.username).toBe('dave');
    expect(await users.get('no-such-sub')).toBeUndefined();
  });

  const invalid: Array<{
    name: string;
    input: { username: string; password: string; roles?: string[]; email?: string };
  }> = [
    { name: 'empty username', input: { username: '', password: 'long enough 1' } },
    { name: '65-character username', input: { username: 'a'.repeat(65), password: 'long enough 1' } },
    { name: 'username with a space', input: { username: 'ann smith', password: 'long enough 1' } },
    {
      name: 'username with a control character',
      input: { username: 'ann\u0000', password: 'long enough 1' },
    },
    { name: 'username with markup', input: { username: '<b>ann</b>', password: 'long enough 1' } },
    {
      name: 'password under 8 characters (NIST SP 800-63B §5.1.1.2)',
      input: { username: 'ann', password: 'short' },
    },
    { name: 'role with a space', input: { username: 'ann', password: 'long enough 1', roles: ['a b'] } },
    {
      name: 'email without @',
      input: { username: 'ann', password: 'long enough 1', email: 'ann.example.com' },
    },
  ];
  it.each(invalid)('refuses $name', async ({ input }) => {
    await expect(users.create(input)).rejects.toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    expect(await users.findByUsername('ann')).toBeUndefined();
  });

  it('accepts a 64-character username (the upper bound)', async () => {
    const user = await users.create({ username: 'b'.repeat(64), password: 'long enough 1' });
    expect(user.username).toHaveLength(64);
  });

  it('lists users in username order without any password hash', async () => {
    await users.create({ username: 'erin', password: 'erin password 1' });
    const listed = await users.list();
    const names = listed.map((u) => u.username);
    expect(names).toEqual([...names].sort());
    expect(names).toContain('erin');
    const text = JSON.stringify(listed);
    expect(text).not.toContain('$scrypt$');
    expect(text).not.toContain('password');
  });

  it('verifies credentials: right password only, username case-insensitive, unknown users refused', async () => {
    const frank = await users.create({ username: 'frank', password: 'frank password 1' });
    expect((await users.verifyCredentials('FRANK', 'frank password 1'))?.sub).toBe(frank.sub);
    expect(await users.verifyCredentials('frank', 'frank password 2')).toBeUndefined();
    expect(await users.verifyCredentials('frank', '')).toBeUndefined();
    expect(await users.verifyCredentials('nobody', 'frank password 1')).toBeUndefined();
    expect(await users.verifyCredentials('x'.repeat(5000), 'p')).toBeUndefined();
  });

  it('deletes by username or by sub, ends sessions and forgets consents; false when absent', async () => {
    const gina = await users.create({ username: 'gina', password: 'gina password 1' });
    const hank = await users.create({ username: 'hank', password: 'hank password 1' });
    const now = as.clock.ms;
    await as.deps.db
      .insertInto('sessions')
      .values({
        sid: 'sid-gina',
        cookie_hash: 'h-gina',
        sub: gina.sub,
        auth_time: now,
        created_at: now,
        expires_at: now + 1e6,
        ended_at: null,
      })
      .execute();
    await as.deps.db
      .insertInto('consents')
      .values({ sub: gina.sub, client_id: 'some-client', scope: 'openid', granted_at: now })
      .execute();

    expect(await users.delete('GINA')).toBe(true);
    expect(await users.delete(hank.sub)).toBe(true);
    expect(await users.delete('gina')).toBe(false);
    expect(await users.findByUsername('gina')).toBeUndefined();
    expect(await users.get(hank.sub)).toBeUndefined();
    const session = await as.deps.db
      .selectFrom('sessions')
      .select('ended_at')
      .where('sid', '=', 'sid-gina')
      .executeTakeFirstOrThrow();
    expect(session.ended_at).toBe(now);
    const consents = await as.deps.db
      .selectFrom('consents')
      .selectAll()
      .where('sub', '=', gina.sub)
      .execute();
    expect(consents).toEqual([]);
  });
});

describe('user store defaults', () => {
  it('hashes at the OWASP default cost (ln=17) when the deps do not lower it', async () => {
    const as = await startAuthServer();
    try {
      const { db, now, state, logger } = as.deps;
      const users = createUserStore({ db, now, state, logger });
      const user = await users.create({ username: 'ivy', password: 'ivy password 1' });
      const row = await as.deps.db
        .selectFrom('users')
        .select('password_hash')
        .where('sub', '=', user.sub)
        .executeTakeFirstOrThrow();
      expect(row.password_hash.startsWith('$scrypt$ln=17,r=8,p=1$')).toBe(true);
    } finally {
      await as.close();
    }
  });
});
