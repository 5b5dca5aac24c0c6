import { describe, expect, it } from 'vitest';
import { createUpstream } from './create-upstream.js';
import type { UpstreamOptions } from './upstream.js';

const VALID: UpstreamOptions = {
  id: 'svc',
  targets: ['http://127.0.0.1:1'],
  timeouts: { connectMs: 1_000, headersMs: 1_000, bodyMs: 1_000 },
  retries: 1,
  circuitBreaker: { failureThreshold: 5, openMs: 1_000, halfOpenProbes: 1 },
};
const CHECK = { path: '/healthz', intervalMs: 1_000, timeoutMs: 500, unhealthyAfter: 2, healthyAfter: 2 };

describe('createUpstream options', () => {
  it('accepts valid options without connecting', async () => {
    const upstream = createUpstream({
      ...VALID,
      targets: ['http://127.0.0.1:1', 'https://127.0.0.1:2/base'],
      maxConnections: 4,
      healthCheck: CHECK,
    });
    expect(upstream.health().map((target) => target.target)).toEqual([
      'http://127.0.0.1:1',
      'https://127.0.0.1:2/base',
    ]);
    await upstream.close();
  });

  // Each bad option is refused when the upstream is created, never on a request.
  it.each<[string, Partial<UpstreamOptions>]>([
    ['no targets', { targets: [] }],
    ['a target that is not a URL', { targets: ['127.0.0.1:80'] }],
    ['a non-HTTP target', { targets: ['ftp://127.0.0.1'] }],
    ['credentials in a target', { targets: ['http://user:secret@127.0.0.1'] }],
    ['a query in a target', { targets: ['http://127.0.0.1/?a=1'] }],
    ['a fragment in a target', { targets: ['http://127.0.0.1/#a'] }],
    ['negative retries', { retries: -1 }],
    ['fractional retries', { retries: 1.5 }],
    ['a zero failure threshold', { circuitBreaker: { failureThreshold: 0, openMs: 1, halfOpenProbes: 1 } }],
    ['zero half-open probes', { circuitBreaker: { failureThreshold: 1, openMs: 1, halfOpenProbes: 0 } }],
    ['a negative open time', { circuitBreaker: { failureThreshold: 1, openMs: -1, halfOpenProbes: 1 } }],
    ['a zero connect timeout', { timeouts: { connectMs: 0, headersMs: 1, bodyMs: 1 } }],
    ['a zero headers timeout', { timeouts: { connectMs: 1, headersMs: 0, bodyMs: 1 } }],
    ['a zero body timeout', { timeouts: { connectMs: 1, headersMs: 1, bodyMs: 0 } }],
    ['zero max connections', { maxConnections: 0 }],
    ['a relative health path', { healthCheck: { ...CHECK, path: 'healthz' } }],
    ['a zero health interval', { healthCheck: { ...CHECK, intervalMs: 0 } }],
    ['a zero health timeout', { healthCheck: { ...CHECK, timeoutMs: 0 } }],
    ['a zero unhealthy threshold', { healthCheck: { ...CHECK, unhealthyAfter: 0 } }],
    ['a zero healthy threshold', { healthCheck: { ...CHECK, healthyAfter: 0 } }],
    ['a client key without its certificate', { tls: { key: 'pem' } }],
  ])('refuses %s', (_name, overrides) => {
    expect(() => createUpstream({ ...VALID, ...overrides })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }),
    );
  });

  it('never puts target credentials in an error detail', () => {
    try {
      createUpstream({ ...VALID, targets: ['http://user:secret@127.0.0.1'] });
    } catch (error) {
      expect(JSON.stringify(error)).not.toContain('secret');
    }
    expect.assertions(1);
  });
});
