import { join } from 'node:path';
import { openSqlDatabase, verifyPassword } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';
import { readAuditLog } from './helpers/audit.js';

interface UserJson {
  sub: string;
  username: string;
  roles: string[];
  created_at: string;
}

async function storedHash(deployment: TestDeployment, username: string): Promise<string | undefined> {
  const sql = openSqlDatabase<{ users: { username: string; password_hash: string } }>({
    sqliteFile: join(deployment.dataDir, 'gatehouse.db'),
  });
  try {
    const row = await sql.db
      .selectFrom('users')
      .select('password_hash')
      .where('username', '=', username)
      .executeTakeFirst();
    return row?.password_hash;
  } finally {
    await sql.close();
  }
}

describe('gatehouse users', () => {
  let deployment: TestDeployment;
  beforeAll(async () => {
    deployment = await createTestDeployment();
  });
  afterAll(async () => {
    await deployment.remove();
  });

  it('create reads the password from stdin (one trailing newline trimmed) and stores a scrypt hash', async () => {
    const password = 'correct horse battery';
    const result = await deployment.run(
      ['users', 'create', '--username', 'alice', '--role', 'admin', '--json'],
      {
        stdin: `${password}\n`,
      },
    );
    expect(result.code).toBe(0);
    const user = JSON.parse(result.stdout) as UserJson;
    expect(user).toMatchObject({ username: 'alice', roles: ['admin'] });
    expect(user.sub).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.stdout + result.stderr).not.toContain(password);
    const hash = await storedHash(deployment, 'alice');
    expect(hash).toMatch(/^\$scrypt\$ln=17,/);
    expect(await verifyPassword(password, hash!)).toBe(true);
    expect(await verifyPassword(`${password}\n`, hash!)).toBe(false);
    const audit = await readAuditLog(deployment.dataDir);
    expect(audit).toContain('"action":"admin.user.create"');
    expect(audit).not.toContain(password);
  });

  it('only one trailing newline is trimmed (CRLF too); inner whitespace is part of the password', async () => {
    const result = await deployment.run(['users', 'create', '--username', 'bob'], {
      stdin: '  spaced pass \n\r\n',
    });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('User created: bob');
    expect(await verifyPassword('  spaced pass \n', (await storedHash(deployment, 'bob'))!)).toBe(true);
  });

  const refused: Array<{ name: string; username: string; stdin: string; says: RegExp }> = [
    { name: 'empty stdin', username: 'carol', stdin: '', says: /empty password is refused/ },
    { name: 'only a newline', username: 'carol', stdin: '\n', says: /empty password is refused/ },
    {
      name: 'too short (NIST SP 800-63B §5.1.1.2)',
      username: 'carol',
      stdin: 'short\n',
      says: /password: 8 to/,
    },
    { name: 'invalid username', username: 'carol!', stdin: 'long enough pw\n', says: /username/ },
    {
      name: 'existing username, any case',
      username: 'ALICE',
      stdin: 'long enough pw\n',
      says: /user alice exists/,
    },
  ];

  it.each(refused)('refuses $name (exit 1, nothing stored)', async ({ username, stdin, says }) => {
    const result = await deployment.run(['users', 'create', '--username', username], { stdin });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(says);
    expect(await storedHash(deployment, 'carol')).toBeUndefined();
  });

  it('list never shows password hashes; delete removes the user', async () => {
    await deployment.run(['users', 'create', '--username', 'dave'], { stdin: 'dave password 1' });
    const listed = await deployment.run(['users', 'list', '--json']);
    expect(listed.code).toBe(0);
    const { users } = JSON.parse(listed.stdout) as { users: UserJson[] };
    expect(users.map((u) => u.username)).toEqual(['alice', 'bob', 'dave']);
    expect(listed.stdout).not.toContain('scrypt');
    expect(listed.stdout).not.toMatch(/password/);
    const table = await deployment.run(['users', 'list']);
    expect(table.stdout).toMatch(/^USERNAME +SUB +ROLES +CREATED$/m);
    expect(table.stdout).toMatch(/^alice +\S+ +admin /m);

    const deleted = await deployment.run(['users', 'delete', 'dave']);
    expect(deleted.code).toBe(0);
    expect(await storedHash(deployment, 'dave')).toBeUndefined();
    const again = await deployment.run(['users', 'delete', 'dave', '--json']);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
    expect(again.stderr).toContain('no user dave');
  });
});
