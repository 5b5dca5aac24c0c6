import { describe, expect, it } from 'vitest';
import { buildRateLimitKey, type RateLimitRule, type RateLimitSubject } from './rate-limit-rule.js';

const subject: RateLimitSubject = { ip: '192.0.2.7', clientId: 'app', sub: 'alice', route: 'accounts' };
const anonymous: RateLimitSubject = {
  ip: '192.0.2.7',
  clientId: undefined,
  sub: undefined,
  route: 'accounts',
};

function rule(key: RateLimitRule['key']): RateLimitRule {
  return { id: 'r1', algorithm: 'gcra', limit: 10, windowMs: 1000, key };
}

describe('buildRateLimitKey', () => {
  it.each<[RateLimitRule['key'], RateLimitSubject, string]>([
    [['ip'], subject, 'r1|ip=192.0.2.7'],
    [['route'], subject, 'r1|route=accounts'],
    [['client_id'], subject, 'r1|cid=app'],
    [['sub'], subject, 'r1|sub=alice'],
    [['client_id', 'sub'], subject, 'r1|cid=app|sub=alice'],
    [['ip', 'route'], subject, 'r1|ip=192.0.2.7|route=accounts'],
    // No client id or subject: counted per IP, once.
    [['client_id'], anonymous, 'r1|ip=192.0.2.7'],
    [['sub'], anonymous, 'r1|ip=192.0.2.7'],
    [['client_id', 'sub'], anonymous, 'r1|ip=192.0.2.7'],
    [['ip', 'sub'], anonymous, 'r1|ip=192.0.2.7'],
    [['client_id', 'sub'], { ...subject, sub: undefined }, 'r1|cid=app|ip=192.0.2.7'],
  ])('%j of %j is %s', (key, who, expected) => {
    expect(buildRateLimitKey(rule(key), who)).toBe(expected);
  });

  it('keeps subjects apart whatever characters their ids hold', () => {
    const keys = [
      { ...subject, clientId: 'a|sub=b', sub: 'c' },
      { ...subject, clientId: 'a', sub: 'b|sub=c' },
      { ...subject, clientId: 'a%7Csub=b', sub: 'c' },
      { ...subject, clientId: '192.0.2.7', sub: undefined },
      { ...subject, clientId: undefined, sub: undefined },
    ].map((who) => buildRateLimitKey(rule(['client_id', 'sub']), who));
    expect(new Set(keys).size).toBe(keys.length);
    expect(buildRateLimitKey(rule(['client_id']), { ...subject, clientId: '192.0.2.7' })).not.toBe(
      buildRateLimitKey(rule(['client_id']), anonymous),
    );
  });

  it('separates rules by id', () => {
    expect(buildRateLimitKey({ ...rule(['ip']), id: 'r2' }, subject)).toBe('r2|ip=192.0.2.7');
  });
});
