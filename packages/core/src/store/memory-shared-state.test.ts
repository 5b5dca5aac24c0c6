import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemorySharedState } from './memory-shared-state.js';

describe('createMemorySharedState', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sweeps expired entries periodically and keeps live ones (default clock: Date.now)', async () => {
    vi.useFakeTimers();
    const state = createMemorySharedState({ sweepIntervalMs: 10 });
    await state.set('short', 'a', 5);
    await state.setIfAbsent('long', 'b', 60_000);
    await state.set('forever', 'c');
    await state.increment('counter', 5);
    vi.advanceTimersByTime(10);
    await expect(state.get('short')).resolves.toBeUndefined();
    await expect(state.get('counter')).resolves.toBeUndefined();
    await expect(state.get('long')).resolves.toBe('b');
    await expect(state.get('forever')).resolves.toBe('c');
    vi.advanceTimersByTime(60_000);
    await expect(state.get('long')).resolves.toBeUndefined();
    await expect(state.get('forever')).resolves.toBe('c');
    await state.close();
  });

  it('an entry is invisible the moment it expires, before any sweep', async () => {
    let clock = 0;
    const state = createMemorySharedState({ now: () => clock });
    await state.setIfAbsent('k', 'v', 100);
    clock = 99;
    await expect(state.get('k')).resolves.toBe('v');
    clock = 100;
    await expect(state.get('k')).resolves.toBeUndefined();
    await state.close();
  });

  it('close() stops the sweep timer, drops every entry and every listener', async () => {
    vi.useFakeTimers();
    const state = createMemorySharedState({ sweepIntervalMs: 10 });
    const heard: string[] = [];
    await state.subscribe('ch', (m) => heard.push(m));
    await state.set('k', 'v');
    expect(vi.getTimerCount()).toBe(1);
    await state.close();
    expect(vi.getTimerCount()).toBe(0);
    await expect(state.get('k')).resolves.toBeUndefined();
    await state.publish('ch', 'after close');
    vi.runAllTimers();
    expect(heard).toEqual([]);
  });

  it('publishing with no subscriber is fine', async () => {
    const state = createMemorySharedState();
    await expect(state.publish('nobody', 'x')).resolves.toBeUndefined();
    await state.close();
  });

  it('instances are independent', async () => {
    const a = createMemorySharedState();
    const b = createMemorySharedState();
    await a.set('k', 'a');
    await expect(b.get('k')).resolves.toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });
});
