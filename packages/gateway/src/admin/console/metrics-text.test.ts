import { describe, expect, it } from 'vitest';
import { computeRate, parsePrometheusText, sumRequests } from './metrics-text.js';

const SCRAPE = `# HELP gatehouse_requests_total Requests answered by the gateway
# TYPE gatehouse_requests_total counter
gatehouse_requests_total{route="accounts",method="GET",code="200"} 40
gatehouse_requests_total{route="accounts",method="GET",code="404"} 6
gatehouse_requests_total{route="_unmatched",method="GET",code="404"} 2 1767225600000
gatehouse_requests_total{route="orders",method="POST",code="503"} 2
gatehouse_requests_totally_other 1000
gatehouse_bans_active 3
`;

describe('parsePrometheusText', () => {
  it('reads the samples of one family with their labels', () => {
    expect(parsePrometheusText(SCRAPE, 'gatehouse_requests_total')).toEqual([
      {
        name: 'gatehouse_requests_total',
        labels: { route: 'accounts', method: 'GET', code: '200' },
        value: 40,
      },
      {
        name: 'gatehouse_requests_total',
        labels: { route: 'accounts', method: 'GET', code: '404' },
        value: 6,
      },
      {
        name: 'gatehouse_requests_total',
        labels: { route: '_unmatched', method: 'GET', code: '404' },
        value: 2,
      },
      {
        name: 'gatehouse_requests_total',
        labels: { route: 'orders', method: 'POST', code: '503' },
        value: 2,
      },
    ]);
  });

  it('reads every family without a filter, samples without labels included', () => {
    expect(parsePrometheusText(SCRAPE).map((s) => s.name)).toContain('gatehouse_bans_active');
    expect(parsePrometheusText('up 1\n')).toEqual([{ name: 'up', labels: {}, value: 1 }]);
  });

  it('unescapes label values and reads special values', () => {
    const text = [
      'm{a="quote \\" backslash \\\\ newline \\n",b="{},="} +Inf',
      'm{a="x",} NaN',
      'm -Inf',
      'm 1.5e3',
    ].join('\n');
    const samples = parsePrometheusText(text);
    expect(samples[0]).toEqual({
      name: 'm',
      labels: { a: 'quote " backslash \\ newline \n', b: '{},=' },
      value: Number.POSITIVE_INFINITY,
    });
    expect(samples[1]?.labels).toEqual({ a: 'x' });
    expect(samples[1]?.value).toBeNaN();
    expect(samples[2]?.value).toBe(Number.NEGATIVE_INFINITY);
    expect(samples[3]?.value).toBe(1500);
  });

  it.each([
    ['m{a="x"', 'unterminated labels'],
    ['m{a=x} 1', 'unquoted value'],
    ['m{a="x\\q"} 1', 'unknown escape'],
    ['m{a="x" b="y"} 1', 'missing comma'],
    ['m{="x"} 1', 'no label name'],
    ['m twelve', 'not a number'],
    ['m 1 2 3', 'too many fields'],
    ['{a="x"} 1', 'no metric name'],
  ])('skips a malformed line (%s: %s) and keeps the others', (line) => {
    expect(parsePrometheusText(`${line}\nok 1`)).toEqual([{ name: 'ok', labels: {}, value: 1 }]);
  });
});

describe('sumRequests and computeRate', () => {
  it('sums all requests, 4xx and 5xx answers of a scrape', () => {
    expect(sumRequests(SCRAPE, 1000)).toEqual({ time: 1000, total: 50, clientErrors: 8, serverErrors: 2 });
  });

  it('computes the rate and error ratios between two scrapes', () => {
    const before = { time: 0, total: 100, clientErrors: 10, serverErrors: 0 };
    const after = { time: 4000, total: 140, clientErrors: 20, serverErrors: 2 };
    expect(computeRate(before, after)).toEqual({
      time: 4000,
      rate: 10,
      clientErrorRatio: 0.25,
      serverErrorRatio: 0.05,
    });
  });

  it('answers ratios of 0 when nothing happened, and nothing when no time passed', () => {
    const same = { time: 1000, total: 5, clientErrors: 1, serverErrors: 1 };
    expect(computeRate(same, { ...same, time: 3000 })).toEqual({
      time: 3000,
      rate: 0,
      clientErrorRatio: 0,
      serverErrorRatio: 0,
    });
    expect(computeRate(same, same)).toBeUndefined();
  });

  it('treats a counter that went down as reset (the gateway restarted)', () => {
    const before = { time: 0, total: 1000, clientErrors: 100, serverErrors: 10 };
    const after = { time: 2000, total: 20, clientErrors: 10, serverErrors: 0 };
    expect(computeRate(before, after)).toEqual({
      time: 2000,
      rate: 10,
      clientErrorRatio: 0.5,
      serverErrorRatio: 0,
    });
  });
});
