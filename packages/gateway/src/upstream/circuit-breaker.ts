import type { CircuitBreakerOptions, CircuitState } from './upstream.js';

/** `admit()` said no. */
export const REFUSED = -1;
/** Admitted while closed. Positive values are probes of that half-open episode. */
export const ADMITTED = 0;

/**
 * A per-target circuit breaker: `failureThreshold` consecutive failures open it; after `openMs`
 * it turns half-open and admits `halfOpenProbes` requests; all of them succeeding closes it, any
 * failure opens it again. Time comes from the injected clock.
 */
export class CircuitBreaker {
  readonly #options: CircuitBreakerOptions;
  readonly #now: () => number;
  readonly #onChange: (state: CircuitState) => void;
  #state: CircuitState = 'closed';
  #failures = 0;
  #openedAt = 0;
  #admitted = 0;
  #succeeded = 0;
  #episode = 0;
  /** The failure that last counted, for the `cause` of a circuit-open error. */
  lastFailure: unknown;

  constructor(options: CircuitBreakerOptions, now: () => number, onChange: (state: CircuitState) => void) {
    this.#options = options;
    this.#now = now;
    this.#onChange = onChange;
  }

  /** The current state; an open circuit whose `openMs` has passed turns half-open here. */
  state(): CircuitState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#options.openMs) {
      this.#episode += 1;
      this.#admitted = 0;
      this.#succeeded = 0;
      this.#transition('half-open');
    }
    return this.#state;
  }

  /** Whether a request may go: `REFUSED`, `ADMITTED`, or a probe ticket (the episode number). */
  admit(): number {
    const state = this.state();
    if (state === 'closed') return ADMITTED;
    if (state === 'open' || this.#admitted >= this.#options.halfOpenProbes) return REFUSED;
    this.#admitted += 1;
    return this.#episode;
  }

  /** A probe that ended without a verdict (the client went away) gives its slot back. */
  release(ticket: number): void {
    if (ticket > ADMITTED && ticket === this.#episode && this.#state === 'half-open') this.#admitted -= 1;
  }

  recordSuccess(): void {
    this.#failures = 0;
    if (this.#state !== 'half-open') return;
    this.#succeeded += 1;
    if (this.#succeeded >= this.#options.halfOpenProbes) this.#transition('closed');
  }

  recordFailure(cause: unknown): void {
    this.lastFailure = cause;
    if (this.#state === 'open') return;
    this.#failures += 1;
    if (this.#state === 'half-open' || this.#failures >= this.#options.failureThreshold) {
      this.#openedAt = this.#now();
      this.#transition('open');
    }
  }

  #transition(state: CircuitState): void {
    this.#state = state;
    if (state === 'closed') this.#failures = 0;
    this.#onChange(state);
  }
}
