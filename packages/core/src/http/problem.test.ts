import { describe, expect, it } from 'vitest';
import { buildProblem, buildProblemResponse, statusTitle } from './problem.js';

describe('statusTitle', () => {
  it.each([
    [400, 'Bad Request'],
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
    [413, 'Content Too Large'],
    [429, 'Too Many Requests'],
    [500, 'Internal Server Error'],
    [503, 'Service Unavailable'],
    // Unlisted statuses fall back to their class.
    [418, 'Client Error'],
    [507, 'Server Error'],
  ])('%i -> %s', (status, title) => {
    expect(statusTitle(status)).toBe(title);
  });
});

describe('buildProblem (RFC 9457)', () => {
  it('defaults type to about:blank and title to the status phrase (RFC 9457 §4.2.1)', () => {
    expect(buildProblem({ status: 404 })).toEqual({ type: 'about:blank', title: 'Not Found', status: 404 });
  });

  it('keeps type, title, detail and instance when given', () => {
    expect(
      buildProblem({
        status: 409,
        type: 'https://errors.example/conflict',
        title: 'Version conflict',
        detail: 'the order changed',
        instance: '/orders/7',
      }),
    ).toEqual({
      type: 'https://errors.example/conflict',
      title: 'Version conflict',
      status: 409,
      detail: 'the order changed',
      instance: '/orders/7',
    });
  });

  it('adds extension members (RFC 9457 §3.2)', () => {
    expect(buildProblem({ status: 403, extensions: { code: 'ERR_AUTHZ_DENIED', retry: false } })).toEqual({
      type: 'about:blank',
      title: 'Forbidden',
      status: 403,
      code: 'ERR_AUTHZ_DENIED',
      retry: false,
    });
  });

  it('extensions cannot override reserved members', () => {
    const problem = buildProblem({
      status: 403,
      extensions: { type: 'https://evil.example', title: 'OK', status: 200, detail: 'x', instance: 'y' },
    });
    expect(problem).toEqual({ type: 'about:blank', title: 'Forbidden', status: 403 });
  });

  it('leaves detail and instance out when absent', () => {
    const problem = buildProblem({ status: 400 });
    expect(Object.keys(problem).sort()).toEqual(['status', 'title', 'type']);
  });
});

describe('buildProblemResponse', () => {
  it('serializes the problem with problem+json and no-store', () => {
    const response = buildProblemResponse({ status: 429, instance: 'req-1' });
    expect(response.status).toBe(429);
    expect(response.headers).toEqual({
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
    });
    expect(JSON.parse(response.body)).toEqual({
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      instance: 'req-1',
    });
  });

  it('adds headers but keeps its own content-type and cache-control', () => {
    const response = buildProblemResponse(
      { status: 503 },
      { 'retry-after': '5', 'content-type': 'text/html', 'cache-control': 'max-age=60', vary: ['a', 'b'] },
    );
    expect(response.headers).toEqual({
      'retry-after': '5',
      vary: ['a', 'b'],
      'content-type': 'application/problem+json',
      'cache-control': 'no-store',
    });
  });
});
