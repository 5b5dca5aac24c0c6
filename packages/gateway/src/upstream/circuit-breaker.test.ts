import { describe, expect, it } from 'vitest';
import { ADMITTED, CircuitBreaker, REFUSED } from './circuit-breaker.js';
import type { CircuitState } from './upstream.js';

function breaker(halfOpenProbes = 2): {
  circuit: CircuitBreaker;
  changes: CircuitState[];
  advance: (ms: number) => void;
} {
  let clock = 1_000;
  const changes: CircuitState[] = [];
  const circuit = new CircuitBreaker(
    { failureThreshold: 2, openMs: 100, halfOpenProbes },
    () => clock,
    (state) => {
      changes.push(state);
    },
  );
  return {
    circuit,
    changes,
    advance: (ms) => {
      clock += ms;
    },
  };
}

describe('CircuitBreaker', () => {
  it('opens after the threshold of consecutive failures and keeps the last cause', () => {
    const { circuit, changes } = breaker();
    expect(circuit.admit()).toBe(ADMITTED);
    circuit.recordFailure(new Error('one'));
    expect(circuit.state()).toBe('closed');
    circuit.recordFailure(new Error('two'));
    expect(circuit.state()).toBe('open');
    expect(circuit.admit()).toBe(REFUSED);
    // Late failures of requests admitted earlier do not restart the open period.
    circuit.recordFailure(new Error('late'));
    expect(changes).toEqual(['open']);
    expect(circuit.lastFailure).toMatchObject({ message: 'late' });
  });

  it('lets halfOpenProbes through after openMs and closes when all succeed', () => {
    const { circuit, changes, advance } = breaker(2);
    circuit.recordFailure(1);
    circuit.recordFailure(2);
    advance(99);
    expect(circuit.admit()).toBe(REFUSED);
    advance(1);
    const first = circuit.admit();
    const second = circuit.admit();
    expect(first).toBeGreaterThan(ADMITTED);
    expect(second).toBe(first);
    expect(circuit.admit()).toBe(REFUSED);
    circuit.recordSuccess();
    expect(circuit.state()).toBe('half-open');
    circuit.recordSuccess();
    expect(circuit.state()).toBe('closed');
    expect(changes).toEqual(['open', 'half-open', 'closed']);
    // Closed again: the failure count starts from zero.
    circuit.recordFailure(3);
    expect(circuit.state()).toBe('closed');
  });

  it('reopens on a failed probe, with a new half-open episode later', () => {
    const { circuit, advance } = breaker(1);
    circuit.recordFailure(1);
    circuit.recordFailure(2);
    advance(100);
    const ticket = circuit.admit();
    circuit.recordFailure(3);
    expect(circuit.state()).toBe('open');
    advance(100);
    const next = circuit.admit();
    expect(next).toBe(ticket + 1);
    // A probe ticket from an old episode does not free a slot of the new one.
    circuit.release(ticket);
    expect(circuit.admit()).toBe(REFUSED);
    circuit.release(next);
    expect(circuit.admit()).toBe(next);
  });

  it('ignores releases of tickets admitted while closed', () => {
    const { circuit } = breaker(1);
    circuit.release(ADMITTED);
    circuit.release(REFUSED);
    expect(circuit.admit()).toBe(ADMITTED);
  });
});
