import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from './codes.js';
import { GatehouseError, isGatehouseError } from './gatehouse-error.js';

describe('GatehouseError', () => {
  it('carries code, status, expose and detail; message is the fixed text', () => {
    const err = new GatehouseError('ERR_JWT_EXPIRED', { detail: 'exp 1700000000 < now' });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('GatehouseError');
    expect(err.code).toBe('ERR_JWT_EXPIRED');
    expect(err.status).toBe(401);
    expect(err.expose).toBe(true);
    expect(err.detail).toBe('exp 1700000000 < now');
    expect(err.message).toBe(ERROR_CODES.ERR_JWT_EXPIRED.message);
    expect(err.message).not.toContain('1700000000');
    expect(String(err)).not.toContain('1700000000');
    expect(err.cause).toBeUndefined();
  });

  it('5xx codes are not exposed', () => {
    expect(new GatehouseError('ERR_INTERNAL').expose).toBe(false);
    expect(new GatehouseError('ERR_JWKS_FETCH_FAILED').expose).toBe(false);
    expect(new GatehouseError('ERR_CONFIG_INVALID').expose).toBe(false);
    expect(new GatehouseError('ERR_AUTHZ_DENIED').expose).toBe(true);
  });

  it('keeps the cause for logs', () => {
    const cause = new Error('socket hang up');
    const err = new GatehouseError('ERR_JWKS_FETCH_FAILED', { cause });
    expect(err.cause).toBe(cause);
    expect(err.detail).toBeUndefined();
    expect(err.message).toBe(ERROR_CODES.ERR_JWKS_FETCH_FAILED.message);
  });

  it('message is fixed for every code, whatever the detail', () => {
    for (const code of Object.keys(ERROR_CODES) as Array<keyof typeof ERROR_CODES>) {
      const err = new GatehouseError(code, { detail: 'eyJhbGciOiJIUzI1NiJ9.secret' });
      expect(err.message).toBe(ERROR_CODES[code].message);
      expect(err.status).toBe(ERROR_CODES[code].status);
      expect(err.expose).toBe(ERROR_CODES[code].status < 500);
    }
  });

  it('toJSON: code, status, message and detail, never the stack', () => {
    const err = new GatehouseError('ERR_JWT_REVOKED', { detail: 'jti listed' });
    expect(err.toJSON()).toEqual({
      name: 'GatehouseError',
      code: 'ERR_JWT_REVOKED',
      status: 401,
      message: 'token revoked',
      detail: 'jti listed',
    });
    expect(JSON.parse(JSON.stringify(err))).not.toHaveProperty('stack');
  });

  it('toJSON omits an absent detail', () => {
    const json = new GatehouseError('ERR_INTERNAL').toJSON();
    expect(json).toEqual({
      name: 'GatehouseError',
      code: 'ERR_INTERNAL',
      status: 500,
      message: 'internal error',
    });
    expect(Object.hasOwn(json, 'detail')).toBe(false);
  });

  it('isGatehouseError tells instances apart from look-alikes', () => {
    expect(isGatehouseError(new GatehouseError('ERR_INTERNAL'))).toBe(true);
    expect(isGatehouseError(new Error('x'))).toBe(false);
    expect(isGatehouseError({ code: 'ERR_INTERNAL', status: 500, expose: false })).toBe(false);
    expect(isGatehouseError(null)).toBe(false);
    expect(isGatehouseError('ERR_INTERNAL')).toBe(false);
  });
});
