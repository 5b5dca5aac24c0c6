import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GatehouseError } from '@gatehouse/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOpenApiDocument } from './load-openapi-document.js';

const fixture = (name: string): string =>
  fileURLToPath(new URL(`../../test/fixtures/openapi/${name}`, import.meta.url));

async function refusal(file: string): Promise<GatehouseError> {
  const error: unknown = await loadOpenApiDocument(file).then(
    () => new Error('accepted'),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(GatehouseError);
  expect((error as GatehouseError).code).toBe('ERR_CONFIG_INVALID');
  return error as GatehouseError;
}

describe('loadOpenApiDocument', () => {
  let dir: string;
  beforeAll(async () => {
    // Written here: a syntax error cannot live among the formatted fixtures.
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-openapi-'));
    await writeFile(join(dir, 'malformed.yaml'), 'openapi: 3.1.0\npaths:\n  /a: { get: [unclosed\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses malformed YAML', async () => {
    const error = await refusal(join(dir, 'malformed.yaml'));
    expect(error.detail).toContain('malformed.yaml is not valid YAML or JSON');
  });

  it('loads the YAML demo API', async () => {
    const routes = await loadOpenApiDocument(fixture('demo-api.yaml'));
    expect(routes.operations).toHaveLength(9);
  });

  it('loads JSON (OpenAPI 3.0, nullable query parameter)', async () => {
    const routes = await loadOpenApiDocument(fixture('minimal.json'));
    const match = routes.match('GET', '/ping');
    expect(typeof match === 'object' && match.validate({ query: 'n=3', headers: {} })).toEqual([]);
    expect(typeof match === 'object' && match.validate({ query: 'n=x', headers: {} })).toEqual([
      { pointer: '/query/n', message: 'must be integer or null' },
    ]);
  });

  it('passes options through', async () => {
    const routes = await loadOpenApiDocument(fixture('minimal.json'), { basePath: '/v1' });
    expect(typeof routes.match('GET', '/v1/ping')).toBe('object');
  });

  it.each([
    ['missing.yaml', 'cannot read OpenAPI document', 'ENOENT'],
    ['duplicate-keys.yaml', 'is not valid YAML or JSON', 'unique'],
    ['alias-bomb.yaml', 'is not valid YAML or JSON', 'alias'],
    [
      'external-ref.yaml',
      'external $ref "paths/things.yaml" refused',
      'external $ref "https://schemas.example.com/thing.json" refused',
    ],
  ])('refuses %s', async (name, first, second) => {
    const error = await refusal(fixture(name));
    expect(error.detail).toContain(first);
    expect(error.detail?.toLowerCase()).toContain(second.toLowerCase());
    expect(error.detail).toContain(name);
  });
});
