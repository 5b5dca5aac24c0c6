import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GatehouseError } from '../errors/gatehouse-error.js';
import { loadConfigFile, parseConfig } from './load-config.js';

const schema = z.strictObject({
  issuer: z.url(),
  server: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.coerce.number().int().min(1).max(65535),
  }),
  scopes: z.array(z.string()).default([]),
  secret: z.string().min(32).optional(),
  mode: z.enum(['embedded', 'distributed']).default('embedded'),
});

const VALID = `
issuer: https://auth.example.com
server:
  port: 4000
scopes: [accounts:read, orders:read]
`;

/** The GatehouseError `parseConfig` throws for `text`. */
function failure(text: string, env: NodeJS.ProcessEnv = {}, s: z.ZodType = schema): GatehouseError {
  try {
    parseConfig(text, s, env);
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    expect(err).toMatchObject({ code: 'ERR_CONFIG_INVALID' });
    return err as GatehouseError;
  }
  throw new Error('parseConfig accepted the text');
}

describe('parseConfig', () => {
  it('parses YAML, applies defaults, and returns the typed result', () => {
    expect(parseConfig(VALID, schema, {})).toEqual({
      issuer: 'https://auth.example.com',
      server: { host: '127.0.0.1', port: 4000 },
      scopes: ['accounts:read', 'orders:read'],
      mode: 'embedded',
    });
  });

  it('parses JSON text (YAML 1.2 is a superset)', () => {
    const json = JSON.stringify({ issuer: 'https://a.example', server: { port: 1 }, mode: 'distributed' });
    expect(parseConfig(json, schema, {})).toMatchObject({ server: { port: 1 }, mode: 'distributed' });
  });

  it('uses YAML 1.2 scalars: NO and yes stay strings (no "Norway problem")', () => {
    const s = z.strictObject({ country: z.string(), answer: z.string() });
    expect(parseConfig('country: NO\nanswer: yes\n', s, {})).toEqual({ country: 'NO', answer: 'yes' });
  });

  it('reports unknown keys, at the root and nested', () => {
    const { detail } = failure(`${VALID}\nisuer: typo\n`.replace('port: 4000', 'port: 4000\n  hots: x'));
    expect(detail).toContain('(root): Unrecognized key: "isuer"');
    expect(detail).toContain('server: Unrecognized key: "hots"');
  });

  it('reports every problem at once, each with its path', () => {
    const text = `
issuer: not a url
server:
  port: 70000
scopes: [a, 5]
mode: clustered
extra: 1
`;
    const { detail } = failure(text, {});
    const lines = detail!
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
    expect(detail!.startsWith('config:\n')).toBe(true);
    expect(lines).toHaveLength(5);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^issuer: /),
        expect.stringMatching(/^server\.port: Too big/),
        expect.stringMatching(/^scopes\.1: /),
        expect.stringMatching(/^mode: Invalid option/),
        '(root): Unrecognized key: "extra"',
      ]),
    );
  });

  it('reports a missing required section', () => {
    const { detail } = failure('issuer: https://a.example\n');
    expect(detail).toMatch(/server: Invalid input/);
  });

  it('names the source in the detail', () => {
    try {
      parseConfig('extra: 1', schema, {}, 'gatehouse.yaml');
    } catch (err) {
      expect((err as GatehouseError).detail).toMatch(/^gatehouse\.yaml:\n/);
      return;
    }
    throw new Error('accepted');
  });

  it('never echoes a rejected value (it may be a secret)', () => {
    const { detail } = failure(VALID.replace('issuer:', 'secret: ${SECRET}\nmode: ${MODE}\nissuer:'), {
      SECRET: 'short-s3cret-value',
      MODE: 'other-s3cret-value',
    });
    expect(detail).toContain('secret: Too small');
    expect(detail).toContain('mode: Invalid option');
    expect(detail).not.toContain('s3cret');
  });

  describe('environment variables', () => {
    it('substitutes ${VAR} and ${VAR:-default} inside string values', () => {
      const text = `
issuer: https://\${HOST}/\${TENANT:-main}
server:
  host: \${BIND:-0.0.0.0}
  port: \${PORT}
scopes: ["\${SCOPE}", "x-\${EMPTY:-}-y", "\${lowercase}"]
`;
      const config = parseConfig(text, schema, { HOST: 'auth.example.com', PORT: '8443', SCOPE: 'a:b' });
      expect(config).toMatchObject({
        issuer: 'https://auth.example.com/main',
        server: { host: '0.0.0.0', port: 8443 },
        // `${lowercase}` is not a variable reference: names are upper case.
        scopes: ['a:b', 'x--y', '${lowercase}'],
      });
    });

    it('prefers a set variable over the default, even when set to the empty string', () => {
      const s = z.strictObject({ a: z.string(), b: z.string() });
      expect(parseConfig('a: ${A:-dflt}\nb: ${B:-dflt}', s, { A: 'set', B: '' })).toEqual({
        a: 'set',
        b: '',
      });
    });

    it('substitutes only in values: keys are never rewritten', () => {
      const s = z.record(z.string(), z.string());
      expect(parseConfig('${KEY}: value\nplain: ${KEY}', s, { KEY: 'k' })).toEqual({
        '${KEY}': 'value',
        plain: 'k',
      });
    });

    it('a value with YAML or JSON syntax stays one string: no structure can be injected', () => {
      const s = z.strictObject({ name: z.string(), list: z.array(z.string()) });
      const injected = '{admin: true}\nextra: 1\n- x\n&a *a';
      expect(parseConfig('name: ${V}\nlist: ["${V}", x]', s, { V: injected })).toEqual({
        name: injected,
        list: [injected, 'x'],
      });
    });

    it('does not expand variables recursively', () => {
      const s = z.strictObject({ a: z.string() });
      expect(parseConfig('a: ${A}', s, { A: '${B}', B: 'expanded' })).toEqual({ a: '${B}' });
    });

    it('reports every unset variable with its path, together with schema problems', () => {
      const text = `
issuer: \${ISSUER}
server:
  port: \${PORT}
scopes: [ok, "\${SCOPE}"]
mode: bad
`;
      const { detail } = failure(text, {});
      expect(detail).toContain('issuer: environment variable ISSUER is not set');
      expect(detail).toContain('server.port: environment variable PORT is not set');
      expect(detail).toContain('scopes[1]: environment variable SCOPE is not set');
      expect(detail).toContain('mode: Invalid option');
    });

    it('reports an unset variable even when the schema would accept the empty result', () => {
      const { detail } = failure('${NAME}', {}, z.string());
      expect(detail).toBe('config:\n  (root): environment variable NAME is not set');
    });

    it('reads process.env by default', () => {
      const name = `GH_TEST_${String(process.pid)}`;
      process.env[name] = 'from-process';
      try {
        expect(parseConfig(`a: \${${name}}`, z.strictObject({ a: z.string() }))).toEqual({
          a: 'from-process',
        });
      } finally {
        Reflect.deleteProperty(process.env, name);
      }
    });
  });

  describe('YAML refused', () => {
    const cases: Array<{ name: string; source: string; text: string; message: RegExp }> = [
      { name: 'unclosed flow sequence', source: 'YAML 1.2 §7.4', text: 'a: [1, 2', message: /Flow sequence/ },
      { name: 'duplicate key', source: 'YAML 1.2 §3.2.1.1', text: 'a: 1\na: 2', message: /unique/ },
      {
        name: 'duplicate nested key',
        source: 'YAML 1.2 §3.2.1.1',
        text: 'server:\n  port: 1\n  port: 2',
        message: /unique/,
      },
      {
        name: 'several documents',
        source: 'YAML 1.2 §9.2',
        text: 'a: 1\n---\nb: 2',
        message: /multiple documents/,
      },
      {
        name: 'alias expansion bomb ("billion laughs")',
        source: 'CWE-776',
        text: [
          'a: &a [x, x, x, x, x, x, x, x, x, x]',
          'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
          'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
          'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
          'e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
        ].join('\n'),
        message: /alias/i,
      },
    ];

    it.each(cases)('$name ($source)', ({ text, message }) => {
      const err = failure(text, {}, z.unknown());
      expect(err.detail).toMatch(/^config: not valid YAML: /);
      expect(err.detail).toMatch(message);
      // One line: the source excerpt yaml appends is left out.
      expect(err.detail).not.toContain('\n');
      expect(err.cause).toBeInstanceOf(Error);
    });

    it('a __proto__ key is an unknown key, not a prototype', () => {
      const { detail } = failure(`${VALID}__proto__: {admin: true}\n`);
      expect(detail).toContain('(root): Unrecognized key: "__proto__"');
      expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
    });
  });

  it.each([
    ['an empty text', ''],
    ['only comments', '# nothing configured yet\n'],
    ['only a document marker', '---\n'],
  ])('%s is an empty object', (_name, text) => {
    const s = z.strictObject({ mode: z.string().default('embedded') });
    expect(parseConfig(text, s, {})).toEqual({ mode: 'embedded' });
    expect(failure(text, {}).detail).toMatch(/issuer: Invalid input/);
  });

  it('returns a deeply frozen result', () => {
    const config = parseConfig(VALID, schema, {});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.server)).toBe(true);
    expect(Object.isFrozen(config.scopes)).toBe(true);
    expect(() => {
      (config.server as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => {
      config.scopes.push('x');
    }).toThrow(TypeError);
  });

  it('freezes around parts that are already frozen', () => {
    const shared = Object.freeze({ level: 'info' });
    const s = z.strictObject({ a: z.string() }).transform((v) => ({ ...v, log: shared, nested: { x: [1] } }));
    const config = parseConfig('a: b', s, {});
    expect(config.log).toBe(shared);
    expect(Object.isFrozen(config.nested.x)).toBe(true);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads, substitutes and validates a file', async () => {
    const file = join(dir, 'gatehouse.yaml');
    writeFileSync(file, VALID.replace('4000', '${PORT:-4000}'));
    await expect(loadConfigFile(file, schema, { PORT: '4443' })).resolves.toMatchObject({
      server: { port: 4443 },
    });
  });

  it('reads process.env by default', async () => {
    const file = join(dir, 'plain.yaml');
    writeFileSync(file, VALID);
    await expect(loadConfigFile(file, schema)).resolves.toMatchObject({ server: { port: 4000 } });
  });

  it('names the file in validation problems', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'extra: 1\n');
    await expect(loadConfigFile(file, schema, {})).rejects.toMatchObject({
      code: 'ERR_CONFIG_INVALID',
      detail: expect.stringMatching(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\n`)),
    });
  });

  it.each([
    ['a missing file', () => join(dir, 'missing.yaml')],
    ['a directory', () => dir],
  ])('reports %s as unreadable', async (_name, path) => {
    const file = path();
    const err = await loadConfigFile(file, schema, {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_CONFIG_INVALID', detail: `${file}: cannot be read` });
    expect((err as Error).cause).toBeInstanceOf(Error);
  });
});
