import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import prettier from 'prettier';
import { afterEach, describe, expect, it } from 'vitest';
import { renderConfigDoc } from '../src/index.js';
import { createTestDeployment, type TestDeployment } from './helpers/cli.js';

describe('gatehouse config validate', () => {
  let deployment: TestDeployment | undefined;
  afterEach(async () => {
    await deployment?.remove();
    deployment = undefined;
  });

  it('accepts a valid file (exit 0) and prints development warnings on stderr', async () => {
    deployment = await createTestDeployment(`authServer:\n  issuer: http://127.0.0.1:4000\n`);
    const result = await deployment.run(['config', 'validate', '--config', 'gatehouse.yaml']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('gatehouse.yaml: valid');
    expect(result.stderr).toMatch(/warning: admin\.token is not set/);
  });

  it('lists every problem at once and exits non-zero', async () => {
    deployment = await createTestDeployment(
      [
        'colour: blue',
        'database:',
        '  url: mysql://db',
        'admin:',
        '  token: short',
        '  listen:',
        '    port: 99999',
        'authServer:',
        '  issuer: not a url',
        '  tokens:',
        '    accessTokenTtlSec: -5',
        '  keys:',
        '    algorithm: HS256',
        'sharedState:',
        '  url: ${REDIS_SOMEWHERE}',
        '',
      ].join('\n'),
    );
    const result = await deployment.run(['config', 'validate']);
    expect(result.code).toBe(1);
    for (const path of [
      'colour',
      'database.url',
      'admin.token',
      'admin.listen.port',
      'authServer.issuer',
      'authServer.tokens.accessTokenTtlSec',
      'authServer.keys.algorithm',
      'sharedState.url: environment variable REDIS_SOMEWHERE is not set',
    ]) {
      expect(result.stderr).toContain(path);
    }
  });

  it('--json: one document with the problems', async () => {
    deployment = await createTestDeployment('authServer: {}\n');
    const result = await deployment.run(['config', 'validate', '--json']);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { valid: boolean; problems: string[]; file: string };
    expect(report.valid).toBe(false);
    expect(report.file).toBe(deployment.configFile);
    expect(report.problems).toEqual([expect.stringMatching(/^authServer\.issuer: /)]);
  });

  it('refuses production settings that would not start (NODE_ENV=production)', async () => {
    deployment = await createTestDeployment(`authServer:\n  issuer: http://auth.example.com\n`);
    const result = await deployment.run(['config', 'validate', '--json'], {
      env: { NODE_ENV: 'production' },
    });
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as { valid: boolean; findings: { message: string }[] };
    expect(report.valid).toBe(false);
    expect(report.findings.map((f) => f.message)).toEqual([
      expect.stringMatching(/issuer http:\/\/auth\.example\.com is plain HTTP/),
      expect.stringMatching(/admin\.token is not set/),
    ]);
    const dev = await deployment.run(['config', 'validate']);
    expect(dev.code).toBe(0);
    expect(dev.stderr).toMatch(/warning: authServer\.issuer .* plain HTTP/);
  });

  it('substitutes ${ENV} values, and DATABASE_URL / REDIS_URL must be the right kind of URL', async () => {
    deployment = await createTestDeployment(
      'admin:\n  token: ${GATEHOUSE_ADMIN_TOKEN}\nauthServer:\n  issuer: https://auth.example.com\n',
    );
    const ok = await deployment.run(['config', 'validate'], { env: { NODE_ENV: 'production' } });
    expect(ok.code).toBe(0);
    expect(ok.stderr).toBe('');
    const bad = await deployment.run(['clients', 'list'], { env: { DATABASE_URL: 'mysql://x' } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/DATABASE_URL: a postgres:\/\/ or postgresql:\/\/ URL/);
  });
});

interface SchemaNode {
  readonly $schema?: string;
  readonly additionalProperties?: boolean;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly required?: readonly string[];
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly minLength?: number;
}

describe('gatehouse config schema', () => {
  it('prints the JSON Schema of the file: strict objects, defaults, descriptions', async () => {
    const deployment = await createTestDeployment();
    try {
      const result = await deployment.run(['config', 'schema']);
      expect(result.code).toBe(0);
      const schema = JSON.parse(result.stdout) as SchemaNode;
      const at = (...path: string[]): SchemaNode =>
        path.reduce<SchemaNode>((node, name) => node.properties?.[name] ?? {}, schema);
      expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(schema.additionalProperties).toBe(false);
      expect(schema.required).toEqual(['authServer']);
      expect(at('dataDir').default).toBe('.gatehouse');
      expect(at('admin', 'listen', 'port').default).toBe(9090);
      expect(at('admin', 'token')).not.toHaveProperty('default');
      expect(at('admin', 'token').minLength).toBe(32);
      expect(at('authServer').required).toEqual(['issuer']);
      expect(at('authServer', 'keys', 'algorithm').enum).toContain('ES256');
    } finally {
      await deployment.remove();
    }
  });
});

describe('docs/configuration.md', () => {
  it('is the text generated from the schema (npm run docs:config)', async () => {
    const file = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));
    const options = (await prettier.resolveConfig(file)) ?? {};
    const expected = await prettier.format(renderConfigDoc(), { ...options, filepath: file });
    expect(readFileSync(file, 'utf8'), 'docs/configuration.md is stale: run `npm run docs:config`').toBe(
      expected,
    );
  });
});
