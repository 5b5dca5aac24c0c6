import { describe, expect, it } from 'vitest';
import {
  errorCodeOf,
  isBodyFailure,
  isLocalFailure,
  isRetryableFailure,
  toUpstreamError,
} from './classify-error.js';

const withCode = (code: string): Error => Object.assign(new Error('x'), { code });

describe('upstream error classification', () => {
  it.each(['ECONNREFUSED', 'ECONNRESET', 'ERR_UPSTREAM_CONNECT_TIMEOUT', 'ERR_UPSTREAM_SOCKET'])(
    'retries %s',
    (code) => {
      expect(isRetryableFailure(withCode(code))).toBe(true);
    },
  );

  it.each([
    withCode('ERR_UPSTREAM_HEADERS_TIMEOUT'),
    withCode('ERR_TLS_CERT_ALTNAME_INVALID'),
    new Error('x'),
    'text',
    null,
  ])('does not retry %s', (error) => {
    expect(isRetryableFailure(error)).toBe(false);
  });

  it('reads only string codes', () => {
    expect(errorCodeOf({ code: 42 })).toBeUndefined();
    expect(errorCodeOf(withCode('E'))).toBe('E');
  });

  it('recognises requests undici refused before sending', () => {
    expect(isLocalFailure(withCode('ERR_UPSTREAM_REQUEST_INVALID'))).toBe(true);
    expect(isLocalFailure(withCode('ECONNREFUSED'))).toBe(false);
  });

  it('tells upstream body failures from a consumer destroying the stream', () => {
    expect(isBodyFailure(withCode('ERR_UPSTREAM_BODY_TIMEOUT'))).toBe(true);
    expect(isBodyFailure(withCode('ERR_SOMETHING_ELSE'))).toBe(false);
    expect(isBodyFailure(new Error('destroyed'))).toBe(false);
  });

  it.each([
    [
      withCode('ERR_UPSTREAM_CONNECT_TIMEOUT'),
      'ERR_GATEWAY_UPSTREAM_TIMEOUT',
      'up: ERR_UPSTREAM_CONNECT_TIMEOUT',
    ],
    [
      withCode('ERR_UPSTREAM_HEADERS_TIMEOUT'),
      'ERR_GATEWAY_UPSTREAM_TIMEOUT',
      'up: ERR_UPSTREAM_HEADERS_TIMEOUT',
    ],
    [withCode('ECONNREFUSED'), 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE', 'up: ECONNREFUSED'],
    [new TypeError('x'), 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE', 'up: TypeError'],
    ['thrown text', 'ERR_GATEWAY_UPSTREAM_UNAVAILABLE', 'up: unknown error'],
  ])('maps %s to %s with its cause', (cause, code, detail) => {
    const error = toUpstreamError(cause, 'up');
    expect(error).toMatchObject({ code, detail });
    expect(error.cause).toBe(cause);
  });
});
