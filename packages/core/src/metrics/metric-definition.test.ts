import { describe, expect, it } from 'vitest';
import type { MetricType } from './exposition.js';
import { resolveMetricDefinition } from './metric-definition.js';
import type { MetricDefinition } from './metric-types.js';

describe('resolveMetricDefinition', () => {
  it('adds the prefix, copies and freezes the label names, defaults maxSeries to 1000', () => {
    const labelNames = ['route', 'method'];
    const resolved = resolveMetricDefinition(
      { name: 'requests_total', help: 'h', labelNames },
      'counter',
      'gatehouse_',
    );
    expect(resolved).toEqual({ name: 'gatehouse_requests_total', help: 'h', labelNames, maxSeries: 1000 });
    expect(resolved.labelNames).not.toBe(labelNames);
    expect(Object.isFrozen(resolved.labelNames)).toBe(true);
  });

  it('accepts colons, underscores and digits where the data model allows them', () => {
    expect(resolveMetricDefinition({ name: 'job:rate5m_total', help: 'h' }, 'counter', '').name).toBe(
      'job:rate5m_total',
    );
    expect(
      resolveMetricDefinition({ name: '_x', help: 'h', labelNames: ['_a1'] }, 'gauge', '').labelNames,
    ).toEqual(['_a1']);
  });

  const refused: Array<[string, MetricDefinition, MetricType, RegExp]> = [
    ['empty name', { name: '', help: 'h' }, 'gauge', /not \[a-zA-Z_:\]/],
    ['name starting with a digit', { name: '1x', help: 'h' }, 'gauge', /not \[a-zA-Z_:\]/],
    ['name with a dash', { name: 'a-b', help: 'h' }, 'gauge', /not \[a-zA-Z_:\]/],
    ['name with a space', { name: 'a b', help: 'h' }, 'gauge', /not \[a-zA-Z_:\]/],
    ['name with a brace (injection)', { name: 'a{b="c"}', help: 'h' }, 'gauge', /not \[a-zA-Z_:\]/],
    ['name with a newline (injection)', { name: 'a\nb', help: 'h' }, 'gauge', /not \[a-zA-Z_:\]/],
    ['non-ASCII name', { name: 'tempé', help: 'h' }, 'gauge', /not \[a-zA-Z_:\]/],
    ['counter without _total', { name: 'requests', help: 'h' }, 'counter', /ends in _total/],
    ['gauge with _total', { name: 'bans_total', help: 'h' }, 'gauge', /only a counter/],
    ['histogram with _total', { name: 'd_total', help: 'h' }, 'histogram', /only a counter/],
    ['empty help', { name: 'x', help: '' }, 'gauge', /help is empty/],
    ['blank help', { name: 'x', help: ' \n' }, 'gauge', /help is empty/],
    ['label with a dash', { name: 'x', help: 'h', labelNames: ['a-b'] }, 'gauge', /label name "a-b"/],
    ['label with a colon', { name: 'x', help: 'h', labelNames: ['a:b'] }, 'gauge', /label name "a:b"/],
    ['label starting with a digit', { name: 'x', help: 'h', labelNames: ['1a'] }, 'gauge', /label name "1a"/],
    ['empty label name', { name: 'x', help: 'h', labelNames: [''] }, 'gauge', /label name ""/],
    ['reserved __ label', { name: 'x', help: 'h', labelNames: ['__name__'] }, 'gauge', /reserved/],
    ['le label', { name: 'x', help: 'h', labelNames: ['le'] }, 'histogram', /reserved for histogram/],
    ['label twice', { name: 'x', help: 'h', labelNames: ['a', 'a'] }, 'gauge', /label a given twice/],
    ['maxSeries 0', { name: 'x', help: 'h', maxSeries: 0 }, 'gauge', /maxSeries/],
    ['maxSeries fractional', { name: 'x', help: 'h', maxSeries: 1.5 }, 'gauge', /maxSeries/],
    ['maxSeries infinite', { name: 'x', help: 'h', maxSeries: Infinity }, 'gauge', /maxSeries/],
  ];
  it.each(refused)('refuses %s', (_case, def, type, message) => {
    expect(() => resolveMetricDefinition(def, type, '')).toThrow(message);
  });

  it('checks the name with its prefix', () => {
    expect(() => resolveMetricDefinition({ name: 'x', help: 'h' }, 'gauge', '9')).toThrow(/"9x"/);
  });
});
