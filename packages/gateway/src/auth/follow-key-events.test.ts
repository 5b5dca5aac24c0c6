import { Writable } from 'node:stream';
import { KEY_CHANNEL as AUTH_SERVER_KEY_CHANNEL } from '@gatehouse/auth-server';
import { createLogger, createMemorySharedState } from '@gatehouse/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { followKeyEvents, isKeyEvent, KEY_CHANNEL } from './follow-key-events.js';

const lines: string[] = [];
const logger = createLogger({
  component: 'gateway',
  level: 'warn',
  destination: new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  }),
});

afterEach(() => {
  vi.useRealTimers();
  lines.length = 0;
});

describe('followKeyEvents', () => {
  it('listens on the channel the auth server publishes key transitions on', () => {
    expect(KEY_CHANNEL).toBe(AUTH_SERVER_KEY_CHANNEL);
  });

  it.each([
    ['{"event":"created","kid":"k1"}', true],
    ['{"event":"promoted","kid":"k1"}', true],
    ['{"event":"revoked","kid":"k1"}', true],
    ['{"event":"created","kid":""}', false],
    ['{"event":"stolen","kid":"k1"}', false],
    ['{"event":"created"}', false],
    ['null', false],
    ['"created"', false],
    ['not json', false],
    [`{"event":"created","kid":"${'k'.repeat(3000)}"}`, false],
  ])('%s is a key event: %s', (message, expected) => {
    expect(isKeyEvent(message)).toBe(expected);
  });

  it('refreshes at once and once more after the settle delay; ignores anything else; stops on unsubscribe', async () => {
    vi.useFakeTimers();
    const state = createMemorySharedState();
    let refreshes = 0;
    const stop = await followKeyEvents(
      state,
      () => {
        refreshes++;
        return Promise.resolve();
      },
      {
        logger,
        settleMs: 500,
      },
    );
    await state.publish(KEY_CHANNEL, JSON.stringify({ event: 'created', kid: 'k2' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(refreshes).toBe(1);
    await vi.advanceTimersByTimeAsync(499);
    expect(refreshes).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(refreshes).toBe(2);
    await state.publish(KEY_CHANNEL, 'garbage');
    await vi.advanceTimersByTimeAsync(1000);
    expect(refreshes).toBe(2);
    // A pending second refresh is cancelled by unsubscribing, and later events are not heard.
    await state.publish(KEY_CHANNEL, JSON.stringify({ event: 'promoted', kid: 'k2' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(refreshes).toBe(3);
    await stop();
    await vi.advanceTimersByTimeAsync(1000);
    await state.publish(KEY_CHANNEL, JSON.stringify({ event: 'retired', kid: 'k1' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(refreshes).toBe(3);
  });

  it('logs a failed refresh and keeps following', async () => {
    const state = createMemorySharedState();
    let calls = 0;
    const stop = await followKeyEvents(
      state,
      () => {
        calls++;
        return Promise.reject(new Error('jwks down'));
      },
      { logger, settleMs: 1 },
    );
    await state.publish(KEY_CHANNEL, JSON.stringify({ event: 'created', kid: 'k3' }));
    await vi.waitFor(() => expect(calls).toBe(2));
    await vi.waitFor(() => expect(lines.join('')).toContain('key set refresh after a key event failed'));
    await stop();
  });
});
