import { describe, expect, it } from 'vitest';
import {
  buildFamilyHeader,
  buildLabelPairs,
  escapeHelp,
  escapeLabelValue,
  formatSampleValue,
} from './exposition.js';

describe('escapeLabelValue', () => {
  it.each([
    ['plain', 'plain'],
    ['', ''],
    ['back\\slash', 'back\\\\slash'],
    ['say "hi"', 'say \\"hi\\"'],
    ['two\nlines', 'two\\nlines'],
    ['\\"\n', '\\\\\\"\\n'],
    // An escaped sequence in the input is escaped again, never taken as an escape.
    ['\\n', '\\\\n'],
    ['tab\tand unicode é', 'tab\tand unicode é'],
  ])('%j → %j', (input, expected) => {
    expect(escapeLabelValue(input)).toBe(expected);
  });
});

describe('escapeHelp', () => {
  it.each([
    ['Requests answered', 'Requests answered'],
    ['a\\b', 'a\\\\b'],
    ['first\nsecond', 'first\\nsecond'],
    ['"quoted" stays', '"quoted" stays'],
  ])('%j → %j', (input, expected) => {
    expect(escapeHelp(input)).toBe(expected);
  });
});

describe('formatSampleValue', () => {
  it.each([
    [0, '0'],
    [-0, '0'],
    [42, '42'],
    [0.005, '0.005'],
    [-1.5, '-1.5'],
    [1e21, '1e+21'],
    [NaN, 'NaN'],
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
  ])('%d → %s', (input, expected) => {
    expect(formatSampleValue(input)).toBe(expected);
  });
});

describe('buildLabelPairs and buildFamilyHeader', () => {
  it('renders names and escaped values in order', () => {
    expect(buildLabelPairs([], [])).toBe('');
    expect(buildLabelPairs(['route', 'code'], ['a"b', '200'])).toBe('route="a\\"b",code="200"');
  });

  it('writes HELP then TYPE', () => {
    expect(buildFamilyHeader('x_total', 'counter', 'A\nB')).toBe(
      '# HELP x_total A\\nB\n# TYPE x_total counter\n',
    );
  });
});
