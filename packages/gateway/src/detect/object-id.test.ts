import { describe, expect, it } from 'vitest';
import { extractObjectId, looksLikeId, requestNumericId } from './object-id.js';

describe('object ids', () => {
  it.each([
    ['42', true],
    ['0', true],
    ['3f2504e0-4f89-11d3-9a0c-0305e82c3301', true],
    ['01ARZ3NDEKTSV4RRFFQ69G5FAV', true],
    ['a1b2c3d4e5', true],
    ['search', false],
    ['accounts', false],
    ['me', false],
    ['abcdefghij', false],
    ['', false],
    ['1'.repeat(65), false],
    ['a.b1234567', false],
  ])('looksLikeId(%j) is %s', (segment, expected) => {
    expect(looksLikeId(segment)).toBe(expected);
  });

  it('takes the OpenAPI path parameters when an operation matched, else an id-like last segment', () => {
    expect(extractObjectId('/api/accounts/17', { id: '17' })).toBe('17');
    expect(extractObjectId('/api/accounts/7/orders/9', { accountId: '7', orderId: '9' })).toBe('7/9');
    expect(extractObjectId('/api/accounts/me', { id: 'me' })).toBe('me');
    expect(extractObjectId('/api/accounts', {})).toBeUndefined();
    expect(extractObjectId('/api/accounts/123', undefined)).toBe('123');
    expect(extractObjectId('/api/accounts/search', undefined)).toBeUndefined();
    expect(extractObjectId('/', undefined)).toBeUndefined();
  });

  it('requestNumericId reads the last path parameter, else the last segment, when it is digits', () => {
    expect(requestNumericId('/api/accounts/17', { id: '17' })).toBe(17);
    expect(requestNumericId('/a/7/orders/9', { accountId: '7', orderId: '9' })).toBe(9);
    expect(requestNumericId('/a/7/orders/x', { accountId: '7', orderId: 'x' })).toBeUndefined();
    expect(requestNumericId('/objects/0042', undefined)).toBe(42);
    expect(requestNumericId('/objects/abc', undefined)).toBeUndefined();
    expect(requestNumericId('/objects/1234567890123456', undefined)).toBeUndefined();
    expect(requestNumericId('/objects/', undefined)).toBeUndefined();
    expect(requestNumericId('/accounts', {})).toBeUndefined();
  });
});
