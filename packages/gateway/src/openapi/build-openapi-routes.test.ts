import { fileURLToPath } from 'node:url';
import { GatehouseError } from '@gatehouse/core';
import { Ajv } from 'ajv';
import { describe, expect, it, vi } from 'vitest';
import { buildOpenApiRoutes } from './build-openapi-routes.js';
import { loadOpenApiDocument } from './load-openapi-document.js';
import type { OpenApiRoutes, OperationMatch, ValidationProblem } from './types.js';

const DEMO = fileURLToPath(new URL('../../test/fixtures/openapi/demo-api.yaml', import.meta.url));
const demo = await loadOpenApiDocument(DEMO);

function matched(routes: OpenApiRoutes, method: string, path: string): OperationMatch {
  const match = routes.match(method, path);
  if (typeof match !== 'object') throw new Error(`${method} ${path} did not match an operation`);
  return match;
}

function problemsOf(routes: OpenApiRoutes, method: string, path: string, query = '', headers = {}) {
  return matched(routes, method, path).validate({ query, headers });
}

function bodyProblems(
  routes: OpenApiRoutes,
  method: string,
  path: string,
  body: unknown,
  mediaType?: string,
) {
  const declared = matched(routes, method, path).body;
  if (declared === undefined) throw new Error('no body declared');
  return mediaType === undefined ? declared.validate(body) : declared.validate(body, mediaType);
}

const problem = (pointer: string, message: string): ValidationProblem => ({ pointer, message });

/** A minimal 3.1 document around one path item. */
function doc31(paths: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { openapi: '3.1.0', info: { title: 't', version: '1' }, paths, ...extra };
}

function refusal(build: () => unknown): string {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(GatehouseError);
    expect((error as GatehouseError).code).toBe('ERR_CONFIG_INVALID');
    return (error as GatehouseError).detail ?? '';
  }
  throw new Error('the document was accepted');
}

describe('demo API: only declared operations match', () => {
  it.each([
    ['GET', '/public/status', 'getStatus'],
    ['GET', '/api/accounts', 'listAccounts'],
    ['POST', '/api/accounts', 'createAccount'],
    ['GET', '/api/accounts/acc_1', 'getAccount'],
    ['get', '/api/accounts/acc_1', 'getAccount'],
    ['PATCH', '/api/accounts/acc_1', 'updateAccount'],
    ['GET', '/api/orders', 'listOrders'],
    ['POST', '/api/orders', 'createOrder'],
    ['GET', '/api/orders/ord_1', 'getOrder'],
    ['GET', '/api/admin/audit', 'listAuditEvents'],
  ])('%s %s → %s', (method, path, operationId) => {
    expect(matched(demo, method, path).operationId).toBe(operationId);
  });

  it.each([
    ['DELETE', '/api/accounts/acc_1'],
    ['PUT', '/api/accounts/acc_1'],
    ['POST', '/api/accounts/acc_1'],
    ['DELETE', '/api/accounts'],
    ['HEAD', '/api/accounts'],
    ['OPTIONS', '/api/accounts'],
    ['TRACE', '/public/status'],
    ['POST', '/public/status'],
    ['PATCH', '/api/orders/ord_1'],
    ['DELETE', '/api/admin/audit'],
  ])('%s %s → method-not-allowed', (method, path) => {
    expect(demo.match(method, path)).toBe('method-not-allowed');
  });

  it.each([
    ['/api/admin', 'a prefix of a declared path'],
    ['/api/admin/audit/1', 'a longer path'],
    ['/api/accounts/', 'an empty parameter'],
    ['/api/accounts/acc_1/', 'a trailing slash'],
    ['/api/accounts/acc_1/orders', 'an undeclared sub-resource'],
    ['/api/accounts/a/b', 'a parameter spanning a slash'],
    ['/API/accounts', 'another case'],
    ['/api/accounts%2Facc_1', 'an encoded slash'],
    ['/public/status.json', 'a suffix'],
    ['/internal/metrics', 'an undeclared path'],
    ['/', 'the root'],
    ['', 'an empty path'],
  ])('%s is undeclared (%s)', (path) => {
    expect(demo.match('GET', path)).toBeUndefined();
  });

  it('decodes path parameters', () => {
    expect(matched(demo, 'GET', '/api/accounts/acc%5F1').params).toEqual({ id: 'acc_1' });
  });

  it('lists the methods of a path for Allow', () => {
    expect(demo.allowedMethods('/api/accounts/acc_1')).toEqual(['GET', 'PATCH']);
    expect(demo.allowedMethods('/api/accounts')).toEqual(['GET', 'POST']);
    expect(demo.allowedMethods('/nope')).toBeUndefined();
  });

  it('exposes every operation with the scopes its security requires', () => {
    expect(demo.operations.map((o) => [o.method, o.pathTemplate, o.operationId, o.scopes])).toEqual([
      ['GET', '/public/status', 'getStatus', []],
      ['GET', '/api/accounts', 'listAccounts', ['accounts:read']],
      ['POST', '/api/accounts', 'createAccount', ['accounts:write']],
      ['GET', '/api/accounts/{id}', 'getAccount', ['accounts:read']],
      ['PATCH', '/api/accounts/{id}', 'updateAccount', ['accounts:write']],
      ['GET', '/api/orders', 'listOrders', ['orders:read']],
      ['POST', '/api/orders', 'createOrder', ['orders:write']],
      ['GET', '/api/orders/{id}', 'getOrder', ['orders:read']],
      ['GET', '/api/admin/audit', 'listAuditEvents', ['admin']],
    ]);
    expect(demo.operations[0]?.security).toEqual([]);
    expect(demo.operations[1]?.security).toEqual([{ oauth2: ['accounts:read'] }]);
    expect(Object.isFrozen(demo.operations)).toBe(true);
  });
});

describe('demo API: parameters', () => {
  it.each([
    ['GET', '/api/accounts', '', []],
    ['GET', '/api/accounts', 'limit=10&cursor=abc_-1', []],
    ['GET', '/api/accounts', 'unknown=1', []],
    ['GET', '/api/accounts', 'limit=0', [problem('/query/limit', 'is too small')]],
    ['GET', '/api/accounts', 'limit=101', [problem('/query/limit', 'is too large')]],
    ['GET', '/api/accounts', 'limit=abc', [problem('/query/limit', 'must be integer')]],
    ['GET', '/api/accounts', 'limit=1.5', [problem('/query/limit', 'must be integer')]],
    ['GET', '/api/accounts', 'limit=', [problem('/query/limit', 'must be integer')]],
    ['GET', '/api/accounts', 'limit=1&limit=2', [problem('/query/limit', 'must not be repeated')]],
    [
      'GET',
      '/api/accounts',
      'cursor=%3Cscript%3E',
      [problem('/query/cursor', 'does not match the expected pattern')],
    ],
    ['GET', '/api/accounts', 'limit=%zz', [problem('/query', 'is not correctly percent-encoded')]],
    ['GET', '/api/orders', 'status=open&status=paid', []],
    [
      'GET',
      '/api/orders',
      'status=open&status=lost',
      [problem('/query/status/1', 'must be one of the allowed values')],
    ],
    [
      'GET',
      '/api/orders',
      'limit=0&status=lost',
      [
        problem('/query/limit', 'is too small'),
        problem('/query/status/0', 'must be one of the allowed values'),
      ],
    ],
    ['GET', '/api/accounts/acc_1', '', []],
    ['GET', '/api/accounts/..', '', [problem('/path/id', 'does not match the expected pattern')]],
    ['GET', '/api/accounts/acc_%C3%A9', '', [problem('/path/id', 'does not match the expected pattern')]],
    ['GET', '/api/orders/acc_1', '', [problem('/path/id', 'does not match the expected pattern')]],
    ['GET', '/api/admin/audit', 'since=2024-01-01T00:00:00Z', []],
    ['GET', '/api/admin/audit', 'since=yesterday', [problem('/query/since', 'must be a valid date-time')]],
  ])('%s %s?%s', (method, path, query, expected) => {
    expect(problemsOf(demo, method, path, query)).toEqual(expected);
  });
});

describe('demo API: JSON bodies', () => {
  const long = 'x'.repeat(65);
  it.each([
    ['POST', '/api/accounts', { nickname: 'main' }, []],
    ['POST', '/api/accounts', {}, [problem('/body/nickname', 'is required')]],
    ['POST', '/api/accounts', { nickname: '' }, [problem('/body/nickname', 'is too short')]],
    ['POST', '/api/accounts', { nickname: long }, [problem('/body/nickname', 'is too long')]],
    ['POST', '/api/accounts', { nickname: 5 }, [problem('/body/nickname', 'must be string')]],
    ['POST', '/api/accounts', { nickname: 'a', owner: 'bob' }, [problem('/body/owner', 'is not allowed')]],
    ['POST', '/api/accounts', [], [problem('/body', 'must be object')]],
    ['POST', '/api/accounts', null, [problem('/body', 'must be object')]],
    ['POST', '/api/accounts', 'nickname', [problem('/body', 'must be object')]],
    ['PATCH', '/api/accounts/acc_1', { nickname: 'renamed' }, []],
    [
      'PATCH',
      '/api/accounts/acc_1',
      { nickname: 'a', owner: 'mallory' },
      [problem('/body/owner', 'is read-only')],
    ],
    [
      'PATCH',
      '/api/accounts/acc_1',
      { nickname: 'a', balance: 1e9 },
      [problem('/body/balance', 'is read-only')],
    ],
    ['PATCH', '/api/accounts/acc_1', { nickname: 'a', id: 'acc_2' }, [problem('/body/id', 'is read-only')]],
    [
      'PATCH',
      '/api/accounts/acc_1',
      { nickname: 'a', isAdmin: true },
      [problem('/body/isAdmin', 'is not allowed')],
    ],
    [
      'PATCH',
      '/api/accounts/acc_1',
      JSON.parse('{"nickname":"a","__proto__":{"owner":"x"}}'),
      [problem('/body/__proto__', 'is not allowed')],
    ],
    ['POST', '/api/orders', { accountId: 'acc_1', amount: 5 }, []],
    ['POST', '/api/orders', { accountId: 'acc_1', amount: 0 }, [problem('/body/amount', 'is too small')]],
    [
      'POST',
      '/api/orders',
      { accountId: 'acc_1', amount: '5' },
      [problem('/body/amount', 'must be integer')],
    ],
    [
      'POST',
      '/api/orders',
      { accountId: 'acc_1', amount: 5, status: 'paid' },
      [problem('/body/status', 'is not allowed')],
    ],
  ])('%s %s %j', (method, path, body, expected) => {
    expect(bodyProblems(demo, method, path, body)).toEqual(expected);
  });

  it('declares which bodies are required and their media types', () => {
    expect(matched(demo, 'GET', '/api/accounts').body).toBeUndefined();
    const patch = matched(demo, 'PATCH', '/api/accounts/acc_1').body;
    expect(patch?.required).toBe(true);
    expect(patch?.contentTypes).toEqual(['application/json', 'application/merge-patch+json']);
  });

  it.each([
    ['application/json', true],
    ['Application/JSON; charset=utf-8', true],
    ['application/merge-patch+json', true],
    ['application/json-seq', false],
    ['text/plain', false],
    ['application/*', false],
    ['*/*', false],
    ['', false],
    ['application/json, text/plain', false],
  ])('PATCH accepts %j → %s', (contentType, expected) => {
    expect(matched(demo, 'PATCH', '/api/accounts/acc_1').body?.accepts(contentType)).toBe(expected);
  });

  it('validates against the schema of the given media type', () => {
    const owner = { nickname: 'a', owner: 'x' };
    expect(bodyProblems(demo, 'PATCH', '/api/accounts/acc_1', owner, 'application/merge-patch+json')).toEqual(
      [problem('/body/owner', 'is read-only')],
    );
    expect(bodyProblems(demo, 'PATCH', '/api/accounts/acc_1', owner, 'text/plain')).toEqual([
      problem('/body', 'media type is not declared'),
    ]);
  });
});

describe('problems never echo what the client sent', () => {
  const payloads = ['<script>alert(1)</script>', "' OR 1=1 --", '../../etc/passwd', '${jndi:ldap://x}'];

  it.each(payloads)('%s', (payload) => {
    const encoded = encodeURIComponent(payload);
    const found = [
      ...problemsOf(demo, 'GET', '/api/accounts', `limit=${encoded}&cursor=${encoded}`),
      ...problemsOf(demo, 'GET', `/api/accounts/${encoded}`),
      ...bodyProblems(demo, 'POST', '/api/accounts', { nickname: payload, [payload]: payload }),
      ...bodyProblems(demo, 'POST', '/api/orders', { accountId: payload, amount: payload }),
      ...bodyProblems(demo, 'PATCH', '/api/accounts/acc_1', { nickname: 'a', [payload]: 1 }),
    ];
    expect(found.length).toBeGreaterThan(0);
    const text = JSON.stringify(found);
    expect(text).not.toContain(payload);
    expect(text).not.toContain(encoded);
    expect(text).not.toContain(JSON.stringify(payload).slice(1, -1));
  });

  it('a problem under an undeclared property stops at the parent', () => {
    expect(bodyProblems(demo, 'PATCH', '/api/accounts/acc_1', { nickname: 'a', 'x y': 1 })).toEqual([
      problem('/body', 'is not allowed'),
    ]);
  });
});

describe('validators are compiled at load, never per request', () => {
  it('matching and validating compile nothing', () => {
    const core = Object.getPrototypeOf(Ajv.prototype) as { compile: (...args: unknown[]) => unknown };
    const compile = vi.spyOn(core, 'compile');
    try {
      for (let i = 0; i < 3; i += 1) {
        problemsOf(demo, 'GET', '/api/orders', 'limit=5&status=open');
        bodyProblems(demo, 'PATCH', '/api/accounts/acc_1', { nickname: 'a', owner: 'b' });
      }
      expect(compile).not.toHaveBeenCalled();
    } finally {
      compile.mockRestore();
    }
  });
});

describe('parameter styles', () => {
  const routes = buildOpenApiRoutes(
    doc31(
      {
        '/items/{ids}': {
          get: {
            parameters: [
              {
                name: 'ids',
                in: 'path',
                required: true,
                schema: { type: 'array', items: { type: 'integer' } },
              },
              {
                name: 'tags',
                in: 'query',
                explode: false,
                schema: { type: 'array', items: { type: 'string' } },
              },
              { name: 'words', in: 'query', style: 'spaceDelimited', schema: { type: 'array', maxItems: 3 } },
              {
                name: 'pipes',
                in: 'query',
                style: 'pipeDelimited',
                schema: { type: 'array', items: { enum: ['a', 'b'] } },
              },
              {
                name: 'filter',
                in: 'query',
                style: 'deepObject',
                explode: true,
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { status: { enum: ['open', 'closed'] }, min: { type: 'integer' } },
                },
              },
              { name: 'active', in: 'query', schema: { type: 'boolean' } },
              {
                name: 'where',
                in: 'query',
                content: { 'application/json': { schema: { type: 'object', required: ['a'] } } },
              },
              { name: 'X-Tenant', in: 'header', required: true, schema: { type: 'integer', minimum: 1 } },
              { name: 'X-Flags', in: 'header', schema: { type: 'array', items: { enum: ['x', 'y'] } } },
              { name: 'Authorization', in: 'header', required: true, schema: { type: 'string' } },
              { name: 'session', in: 'cookie', schema: { type: 'string', pattern: '^[a-f0-9]{8}$' } },
            ],
            responses: {},
          },
        },
      },
      {},
    ),
  );
  const tenant = { 'x-tenant': '7' };

  it.each([
    ['/items/1,2,3', '', tenant, []],
    ['/items/1,x', '', tenant, [problem('/path/ids/1', 'must be integer')]],
    ['/items/1', 'tags=a,b,c', tenant, []],
    ['/items/1', 'tags=a&tags=b', tenant, [problem('/query/tags', 'must not be repeated')]],
    ['/items/1', 'words=a%20b+c', tenant, []],
    ['/items/1', 'words=a+b+c+d', tenant, [problem('/query/words', 'has too many items')]],
    ['/items/1', 'pipes=a|b', tenant, []],
    ['/items/1', 'pipes=a|c', tenant, [problem('/query/pipes/1', 'must be one of the allowed values')]],
    ['/items/1', 'filter[status]=open&filter[min]=3', tenant, []],
    [
      '/items/1',
      'filter[status]=lost',
      tenant,
      [problem('/query/filter/status', 'must be one of the allowed values')],
    ],
    ['/items/1', 'filter[min]=x', tenant, [problem('/query/filter/min', 'must be integer')]],
    ['/items/1', 'filter[other]=1', tenant, [problem('/query/filter/other', 'is not allowed')]],
    ['/items/1', 'filter[min]=1&filter[min]=2', tenant, [problem('/query/filter', 'must not be repeated')]],
    ['/items/1', 'active=true', tenant, []],
    ['/items/1', 'active=yes', tenant, [problem('/query/active', 'must be boolean')]],
    ['/items/1', `where=${encodeURIComponent('{"a":1}')}`, tenant, []],
    [
      '/items/1',
      `where=${encodeURIComponent('{"b":1}')}`,
      tenant,
      [problem('/query/where/a', 'is required')],
    ],
    ['/items/1', 'where={', tenant, [problem('/query/where', 'must be valid JSON')]],
    ['/items/1', '', {}, [problem('/header/x-tenant', 'is required')]],
    ['/items/1', '', { 'x-tenant': '0' }, [problem('/header/x-tenant', 'is too small')]],
    ['/items/1', '', { 'x-tenant': ' 7 ' }, []],
    ['/items/1', '', { 'x-tenant': ['1', '2'] }, [problem('/header/x-tenant', 'must not be repeated')]],
    ['/items/1', '', { ...tenant, 'x-flags': 'x, y' }, []],
    [
      '/items/1',
      '',
      { ...tenant, 'x-flags': 'x, z' },
      [problem('/header/x-flags/1', 'must be one of the allowed values')],
    ],
    ['/items/1', '', { ...tenant, cookie: 'a=1; session=0123abcd' }, []],
    [
      '/items/1',
      '',
      { ...tenant, cookie: 'session=nope' },
      [problem('/cookie/session', 'does not match the expected pattern')],
    ],
    [
      '/items/1',
      '',
      { ...tenant, cookie: 'session=0123abcd; session=0123abcd' },
      [problem('/cookie/session', 'must not be repeated')],
    ],
  ])('%s?%s %j', (path, query, headers, expected) => {
    expect(problemsOf(routes, 'GET', path, query, headers)).toEqual(expected);
  });
});

describe('x-gatehouse-strict-query', () => {
  const limit = { name: 'limit', in: 'query', schema: { type: 'integer' } };
  const filter = { name: 'f', in: 'query', style: 'deepObject', schema: { type: 'object' } };
  const routes = buildOpenApiRoutes(
    doc31(
      {
        '/strict': { get: { parameters: [limit, filter], responses: {} } },
        '/lenient': { get: { 'x-gatehouse-strict-query': false, responses: {} } },
        '/item': { 'x-gatehouse-strict-query': false, get: { responses: {} } },
      },
      { 'x-gatehouse-strict-query': true },
    ),
  );

  it.each([
    ['/strict', 'limit=1&f[a]=1', []],
    ['/strict', '', []],
    ['/strict', 'limit=1&debug=true', [problem('/query/debug', 'is not a declared parameter')]],
    ['/strict', '%3Cscript%3E=1', [problem('/query', 'is not a declared parameter')]],
    ['/strict', 'a=%zz', [problem('/query', 'is not correctly percent-encoded')]],
    ['/lenient', 'debug=true', []],
    ['/item', 'debug=true', []],
  ])('%s?%s', (path, query, expected) => {
    expect(problemsOf(routes, 'GET', path, query)).toEqual(expected);
  });
});

describe('OpenAPI 3.0 schemas', () => {
  const routes = buildOpenApiRoutes({
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {
      '/things': {
        post: {
          requestBody: {
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Thing' } } },
          },
          responses: {},
        },
      },
    },
    components: {
      schemas: {
        Id: { type: 'string', readOnly: true },
        Kind: { type: 'string', enum: ['a', 'b'] },
        Thing: {
          type: 'object',
          required: ['id', 'name'],
          properties: {
            id: { $ref: '#/components/schemas/Id' },
            name: { type: 'string', nullable: true },
            kind: { allOf: [{ $ref: '#/components/schemas/Kind' }], nullable: true },
            level: { type: 'string', enum: ['low', 'high'], nullable: true },
            ratio: {
              type: 'number',
              minimum: 0,
              exclusiveMinimum: true,
              maximum: 1,
              exclusiveMaximum: false,
            },
            'x-vendor': { type: 'integer' },
            tags: { type: 'object', additionalProperties: false, properties: { a: { type: 'string' } } },
          },
          'x-internal': { $ref: 'elsewhere.yaml' },
        },
      },
    },
  });

  it.each([
    [{ name: 'n' }, []],
    [{ name: null }, []],
    [{ name: 'n', kind: null }, []],
    [{ name: 'n', kind: 'c' }, [problem('/body/kind', 'does not match the allowed schemas')]],
    [{ name: 'n', level: null }, []],
    [{ name: 'n', level: 'mid' }, [problem('/body/level', 'must be one of the allowed values')]],
    [{ name: 'n', ratio: 0 }, [problem('/body/ratio', 'is too small')]],
    [{ name: 'n', ratio: 1 }, []],
    [{ name: 'n', id: 'x' }, [problem('/body/id', 'is read-only')]],
    [{}, [problem('/body/name', 'is required')]],
    [{ name: 'n', 'x-vendor': 'no' }, [problem('/body/x-vendor', 'must be integer')]],
    [{ name: 'n', tags: { a: 'x' } }, []],
    [{ name: 'n', tags: { b: 'x' } }, [problem('/body/tags/b', 'is not allowed')]],
  ])('%j', (body, expected) => {
    expect(bodyProblems(routes, 'POST', '/things', body)).toEqual(expected);
  });

  it('an optional body is not required', () => {
    expect(matched(routes, 'POST', '/things').body?.required).toBe(false);
  });
});

describe('OpenAPI 3.1 schemas', () => {
  const routes = buildOpenApiRoutes(
    doc31(
      {
        '/tree': {
          post: {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: { $ref: '#/components/schemas/Node' } },
                'text/plain': { schema: { type: 'string' } },
                'application/vnd.tree+json': {},
              },
            },
            responses: {},
          },
        },
        '/ref-item': { $ref: '#/components/pathItems/Ping' },
      },
      {
        components: {
          pathItems: { Ping: { get: { operationId: 'ping', responses: {} } } },
          schemas: {
            Node: {
              $schema: 'https://json-schema.org/draft/2020-12/schema',
              type: 'object',
              properties: {
                name: { type: ['string', 'null'] },
                children: { type: 'array', items: { $ref: '#/components/schemas/Node' }, maxItems: 2 },
                size: { type: 'integer', exclusiveMinimum: 0 },
              },
              unevaluatedProperties: false,
            },
          },
        },
      },
    ),
  );

  it.each([
    [{ name: 'root', children: [{ name: 'a', children: [{ name: null }] }] }, []],
    [
      { children: [{ children: [{ size: 0 }] }] },
      [problem('/body/children/0/children/0/size', 'is too small')],
    ],
    [{ children: [{}, {}, {}] }, [problem('/body/children', 'has too many items')]],
    [{ other: 1 }, [problem('/body/other', 'is not allowed')]],
  ])('recursive schema %j', (body, expected) => {
    expect(bodyProblems(routes, 'POST', '/tree', body)).toEqual(expected);
  });

  it('validates JSON media types only', () => {
    const body = matched(routes, 'POST', '/tree').body;
    expect(body?.contentTypes).toEqual(['application/json', 'text/plain', 'application/vnd.tree+json']);
    expect(body?.validate(42, 'text/plain')).toEqual([]);
    expect(body?.validate(42, 'application/vnd.tree+json')).toEqual([]);
    expect(body?.validate(42)).toEqual([problem('/body', 'must be object')]);
  });

  it('resolves path items by $ref', () => {
    expect(matched(routes, 'GET', '/ref-item').operationId).toBe('ping');
  });
});

describe('basePath', () => {
  const paths = {
    '/': { get: { responses: {} } },
    '/accounts': { get: { operationId: 'list', responses: {} } },
  };
  const routes = buildOpenApiRoutes(doc31(paths), { basePath: '/api/' });

  it.each([
    ['/api/accounts', 'list'],
    ['/api', undefined],
    ['/api/', undefined],
    ['/accounts', 'none'],
    ['/apix/accounts', 'none'],
    ['/api/accounts/', 'none'],
  ])('%s → %s', (path, operationId) => {
    const match = routes.match('GET', path);
    if (operationId === 'none') expect(match).toBeUndefined();
    else expect(typeof match === 'object' ? match.operationId : match).toBe(operationId);
    expect(routes.allowedMethods(path) === undefined).toBe(operationId === 'none');
  });

  it('an empty or root basePath changes nothing', () => {
    for (const basePath of ['', '/']) {
      expect(typeof buildOpenApiRoutes(doc31(paths), { basePath }).match('GET', '/accounts')).toBe('object');
    }
  });
});

describe('security requirements', () => {
  const schemes = {
    components: { securitySchemes: { oauth: { type: 'oauth2', flows: {} }, key: { type: 'apiKey' } } },
  };
  const routes = buildOpenApiRoutes(
    doc31(
      {
        '/a': {
          get: { responses: {} },
          post: { security: [{ oauth: ['w', 'r'] }, { key: [] }, {}], responses: {} },
        },
      },
      { ...schemes, security: [{ oauth: ['r'] }] },
    ),
  );

  it('uses the root security unless the operation declares its own', () => {
    expect(routes.operations.map((o) => [o.method, o.scopes, o.security])).toEqual([
      ['GET', ['r'], [{ oauth: ['r'] }]],
      ['POST', ['w', 'r'], [{ oauth: ['w', 'r'] }, { key: [] }, {}]],
    ]);
  });

  it('a document without security has no scopes', () => {
    const open = buildOpenApiRoutes(doc31({ '/a': { get: { operationId: 'a', responses: {} } } }));
    expect(open.operations).toEqual([
      { method: 'GET', pathTemplate: '/a', operationId: 'a', scopes: [], security: [] },
    ]);
  });
});

describe('invalid documents are refused with every problem listed', () => {
  const okPath = { get: { responses: {} } };
  const pathParam = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
  const schemaOp = (schema: unknown) => ({
    '/a': { post: { requestBody: { content: { 'application/json': { schema } } }, responses: {} } },
  });

  it.each([
    ['not an object', 'openapi: 3.1.0', 'the document must be an object'],
    ['Swagger 2.0', { swagger: '2.0', paths: {} }, 'only OpenAPI 3.0.x and 3.1.x'],
    ['OpenAPI 3.2', { openapi: '3.2.0', paths: {} }, 'only OpenAPI 3.0.x and 3.1.x'],
    ['a numeric version', { openapi: 3.1, paths: {} }, 'only OpenAPI 3.0.x and 3.1.x'],
    [
      'an external schema ref',
      doc31(schemaOp({ $ref: 'schemas.yaml#/Thing' })),
      'external $ref "schemas.yaml#/Thing" refused',
    ],
    [
      'a remote schema ref',
      doc31(schemaOp({ $ref: 'https://evil.example/s.json' })),
      'external $ref "https://evil.example/s.json"',
    ],
    [
      'an external parameter ref',
      doc31({ '/a': { get: { parameters: [{ $ref: 'common.yaml#/Limit' }], responses: {} } } }),
      '#/paths/~1a/get/parameters/0: external $ref',
    ],
    [
      'an external ref under a property named like a data key',
      doc31(schemaOp({ type: 'object', properties: { default: { $ref: 'x.yaml' } } })),
      'properties/default: external $ref "x.yaml"',
    ],
    ['an external path item', doc31({ '/a': { $ref: 'paths.yaml#/a' } }), 'external $ref "paths.yaml#/a"'],
    ['a dangling ref', doc31(schemaOp({ $ref: '#/components/schemas/Missing' })), 'does not resolve'],
    [
      'a schema ref outside component schemas',
      doc31(schemaOp({ $ref: '#/paths/~1a' })),
      'must point into #/components/schemas',
    ],
    ['a $ref that is not a string', doc31(schemaOp({ $ref: 5 })), '$ref must be a string'],
    [
      'an invalid component schema',
      doc31({}, { components: { schemas: { Bad: { type: 'strin' } } } }),
      '#/components/schemas/Bad/type must be equal to one of the allowed values',
    ],
    [
      'an invalid inline schema',
      doc31(schemaOp({ minLength: -1 })),
      '#/paths/~1a/post/requestBody/content/application~1json/schema',
    ],
    ['a schema that is not an object', doc31(schemaOp('string')), 'must be a schema object'],
    ['$id in a schema', doc31(schemaOp({ $id: 'https://x.example/s' })), '$id is not supported'],
    [
      'another dialect',
      doc31(schemaOp({ $schema: 'http://json-schema.org/draft-04/schema#' })),
      'unsupported schema dialect',
    ],
    [
      'another document dialect',
      doc31({}, { jsonSchemaDialect: 'https://example.com/dialect' }),
      'only the OpenAPI 3.1 base dialect',
    ],
    [
      'an unsupported path style',
      doc31({ '/a/{id}': { get: { parameters: [{ ...pathParam, style: 'matrix' }], responses: {} } } }),
      'style "matrix" for a primitive path parameter is not supported',
    ],
    [
      'an object in form style',
      doc31({
        '/a': {
          get: { parameters: [{ name: 'o', in: 'query', schema: { type: 'object' } }], responses: {} },
        },
      }),
      'style "form" for an object query parameter is not supported',
    ],
    [
      'a parameter without schema',
      doc31({ '/a': { get: { parameters: [{ name: 'q', in: 'query' }], responses: {} } } }),
      'needs either schema or content',
    ],
    [
      'a non-JSON content parameter',
      doc31({
        '/a': {
          get: { parameters: [{ name: 'q', in: 'query', content: { 'text/plain': {} } }], responses: {} },
        },
      }),
      'only JSON content parameters are supported',
    ],
    [
      'a parameter with a non-string style',
      doc31({
        '/a': { get: { parameters: [{ name: 'q', in: 'query', style: 5, schema: {} }], responses: {} } },
      }),
      'style must be a string and explode a boolean',
    ],
    [
      'a parameter with both schema and content',
      doc31({
        '/a': {
          get: {
            parameters: [{ name: 'q', in: 'query', schema: {}, content: { 'application/json': {} } }],
            responses: {},
          },
        },
      }),
      'needs either schema or exactly one content entry',
    ],
    [
      'a parameter in an unknown place',
      doc31({ '/a': { get: { parameters: [{ name: 'q', in: 'body', schema: {} }], responses: {} } } }),
      'must be path, query, header or cookie',
    ],
    [
      'a parameter without name',
      doc31({ '/a': { get: { parameters: [{ in: 'query', schema: {} }], responses: {} } } }),
      'name: must be a non-empty string',
    ],
    [
      'a parameter declared twice',
      doc31({
        '/a': {
          get: {
            parameters: [
              { name: 'q', in: 'query', schema: {} },
              { name: 'q', in: 'query', schema: {} },
            ],
            responses: {},
          },
        },
      }),
      'is declared twice',
    ],
    ['an undeclared path parameter', doc31({ '/a/{id}': okPath }), 'path parameter "id" is not declared'],
    [
      'a path parameter missing from the template',
      doc31({ '/a': { get: { parameters: [pathParam], responses: {} } } }),
      'path parameter "id" is not in the template',
    ],
    [
      'an optional path parameter',
      doc31({ '/a/{id}': { get: { parameters: [{ ...pathParam, required: false }], responses: {} } } }),
      'path parameters must be required',
    ],
    [
      'a duplicate operationId',
      doc31({
        '/a': { get: { operationId: 'x', responses: {} } },
        '/b': { get: { operationId: 'x', responses: {} } },
      }),
      'already used by #/paths/~1a/get',
    ],
    [
      'an unknown security scheme',
      doc31({ '/a': { get: { security: [{ nope: [] }], responses: {} } } }),
      'unknown security scheme "nope"',
    ],
    [
      'malformed security',
      doc31({ '/a': okPath }, { security: { oauth: [] } }),
      'must be an array of security requirements',
    ],
    [
      'malformed scopes',
      doc31(
        { '/a': okPath },
        { security: [{ oauth: 'read' }], components: { securitySchemes: { oauth: {} } } },
      ),
      'must be an array of scope names',
    ],
    [
      'a non-boolean strict flag',
      doc31({ '/a': okPath }, { 'x-gatehouse-strict-query': 'yes' }),
      'x-gatehouse-strict-query: must be a boolean',
    ],
    [
      'ambiguous templates',
      doc31({
        '/a/{x}': { get: { parameters: [{ ...pathParam, name: 'x' }], responses: {} } },
        '/a/{y}': { get: { parameters: [{ ...pathParam, name: 'y' }], responses: {} } },
      }),
      '#/paths/~1a~1{y}: path template is ambiguous with "/a/{x}"',
    ],
    ['a template without leading slash', doc31({ a: okPath }), "must start with '/'"],
    [
      'a body without content',
      doc31({ '/a': { post: { requestBody: { content: {} }, responses: {} } } }),
      'must declare at least one media type',
    ],
    [
      'a body with a bad media type',
      doc31({ '/a': { post: { requestBody: { content: { json: {} } }, responses: {} } } }),
      'not a media type',
    ],
    [
      'a circular parameter ref',
      doc31(
        { '/a': { get: { parameters: [{ $ref: '#/components/parameters/A' }], responses: {} } } },
        {
          components: {
            parameters: {
              A: { $ref: '#/components/parameters/B' },
              B: { $ref: '#/components/parameters/A' },
            },
          },
        },
      ),
      'circular',
    ],
    [
      'an operation that is not an object',
      doc31({ '/a': { get: 'nope' } }),
      '#/paths/~1a/get: must be an object',
    ],
    [
      'paths that are not an object',
      doc31([] as unknown as Record<string, unknown>),
      '#/paths: must be an object',
    ],
    ['components that are not an object', doc31({}, { components: [] }), '#/components: must be an object'],
  ])('%s', (_name, document, expected) => {
    expect(refusal(() => buildOpenApiRoutes(document))).toContain(expected);
  });

  it('lists several problems at once', () => {
    const detail = refusal(() =>
      buildOpenApiRoutes(
        doc31({ '/a/{id}': okPath, '/b': { get: { security: [{ nope: [] }], responses: {} } } }),
      ),
    );
    expect(detail).toContain('path parameter "id" is not declared');
    expect(detail).toContain('unknown security scheme "nope"');
  });

  it('refuses an invalid basePath', () => {
    expect(refusal(() => buildOpenApiRoutes(doc31({}), { basePath: 'api' }))).toContain('basePath "api"');
  });

  it('ignores vendor extensions and ignored header parameters', () => {
    const routes = buildOpenApiRoutes(
      doc31({
        'x-note': { anything: true },
        '/a': {
          get: {
            parameters: [{ name: 'Content-Type', in: 'header', required: true, schema: { type: 'integer' } }],
            responses: {},
          },
        },
      }),
    );
    expect(routes.operations).toHaveLength(1);
    expect(problemsOf(routes, 'GET', '/a')).toEqual([]);
  });

  it('accepts a 3.1 document without paths', () => {
    expect(buildOpenApiRoutes({ openapi: '3.1.1', info: {}, webhooks: {} }).operations).toEqual([]);
  });
});
