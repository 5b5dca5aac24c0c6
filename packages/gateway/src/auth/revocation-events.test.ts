import { describe, expect, it } from 'vitest';
import { parseRevocationEvent } from './revocation-events.js';

describe('parseRevocationEvent', () => {
  it.each([
    ['{"jti":"t1","exp":1700000000}', { jti: 't1', exp: 1700000000 }],
    ['{"jti":"t1"}', { jti: 't1', exp: undefined }],
    ['{"sid":"s1"}', { sid: 's1' }],
    ['{"sub":"u1","issuedBefore":1700000000}', { sub: 'u1', issuedBefore: 1700000000 }],
    ['{"kid":"k1"}', { kid: 'k1' }],
    ['{"jti":"t1","exp":1,"extra":true}', { jti: 't1', exp: 1 }],
  ])('%s', (message, event) => {
    expect(parseRevocationEvent(message)).toEqual(event);
  });

  it.each([
    'not json',
    'null',
    '1',
    '"jti"',
    '[]',
    '{}',
    '{"jti":1}',
    '{"jti":""}',
    '{"jti":"t","exp":"soon"}',
    '{"jti":"t","exp":-1}',
    '{"jti":"t","exp":1.5}',
    '{"jti":"t","sid":"s"}',
    '{"sub":"u"}',
    '{"sub":"u","issuedBefore":"x"}',
    '{"sid":{}}',
    '{"kid":null}',
    JSON.stringify({ jti: 'x'.repeat(1025) }),
    JSON.stringify({ jti: 'x', pad: 'y'.repeat(5000) }),
  ])('ignores %s', (message) => {
    expect(parseRevocationEvent(message)).toBeUndefined();
  });
});
