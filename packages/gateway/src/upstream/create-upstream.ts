import { Readable } from 'node:stream';
import { GatehouseError, type Logger } from '@gatehouse/core';
import { REFUSED } from './circuit-breaker.js';
import { isBodyFailure, isLocalFailure, isRetryableFailure, toUpstreamError } from './classify-error.js';
import { createHealthChecker, type HealthChecker } from './health-check.js';
import type { Http1Handler } from './http1/http1-pool.js';
import { buildTlsOptions, createTarget, type Target } from './target.js';
import type {
  HeaderList,
  ResponseSink,
  TargetHealth,
  Upstream,
  UpstreamCall,
  UpstreamHeaders,
  UpstreamOptions,
  UpstreamRequest,
  UpstreamResponse,
} from './upstream.js';

export interface UpstreamDeps {
  /** Monotonic milliseconds (circuit timing and `upstreamMs`); tests inject a frozen clock. */
  readonly now?: () => number;
  readonly logger?: Logger;
}

/** Counted against the circuit like a connection failure: the upstream is failing. */
class UpstreamServerError extends Error {
  override readonly name = 'UpstreamServerError';
  constructor(readonly statusCode: number) {
    super(`upstream answered ${statusCode}`);
  }
}

function ignore(): void {
  // An error listener that only keeps the process alive.
}

/** A header list as a dictionary (a repeated field as an array), for the promise API's callers. */
function headerDictionary(list: HeaderList): UpstreamHeaders {
  // A null prototype: a field named `__proto__` is only a header.
  const headers = Object.create(null) as UpstreamHeaders;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i] as string;
    const value = list[i + 1] as string;
    const previous = headers[name];
    if (previous === undefined) headers[name] = value;
    else if (typeof previous === 'string') headers[name] = [previous, value];
    else previous.push(value);
  }
  return headers;
}

function checkCount(id: string, name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: `upstream ${id}: ${name} must be an integer >= ${min}`,
    });
  }
}

function validate(options: UpstreamOptions): void {
  const { id } = options;
  if (options.targets.length === 0)
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `upstream ${id}: no targets` });
  checkCount(id, 'retries', options.retries, 0);
  checkCount(id, 'circuitBreaker.failureThreshold', options.circuitBreaker.failureThreshold, 1);
  checkCount(id, 'circuitBreaker.halfOpenProbes', options.circuitBreaker.halfOpenProbes, 1);
  checkCount(id, 'circuitBreaker.openMs', options.circuitBreaker.openMs, 0);
  checkCount(id, 'timeouts.connectMs', options.timeouts.connectMs, 1);
  checkCount(id, 'timeouts.headersMs', options.timeouts.headersMs, 1);
  checkCount(id, 'timeouts.bodyMs', options.timeouts.bodyMs, 1);
  if (options.maxConnections !== undefined) checkCount(id, 'maxConnections', options.maxConnections, 1);
  if (options.healthCheck !== undefined) {
    const check = options.healthCheck;
    if (!check.path.startsWith('/')) {
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        detail: `upstream ${id}: healthCheck.path must start with /`,
      });
    }
    checkCount(id, 'healthCheck.intervalMs', check.intervalMs, 1);
    checkCount(id, 'healthCheck.timeoutMs', check.timeoutMs, 1);
    checkCount(id, 'healthCheck.unhealthyAfter', check.unhealthyAfter, 1);
    checkCount(id, 'healthCheck.healthyAfter', check.healthyAfter, 1);
  }
}

/**
 * An upstream service behind a route: one connection pool (`http1/http1-pool.ts`) per target, round-robin over the targets
 * that are healthy and whose circuit admits the request, retries of idempotent requests that
 * reached no target (RFC 9110 §9.2.2), and errors as `GatehouseError`s with their cause:
 * `ERR_GATEWAY_UPSTREAM_TIMEOUT` (504), `ERR_GATEWAY_UPSTREAM_UNAVAILABLE` (502),
 * `ERR_GATEWAY_CIRCUIT_OPEN` (503). Options are checked here, once (`ERR_CONFIG_INVALID`).
 */
export function createUpstream(options: UpstreamOptions, deps: UpstreamDeps = {}): Upstream {
  validate(options);
  const { id, retries } = options;
  const now = deps.now ?? (() => performance.now());
  const logger = deps.logger;
  const tls = buildTlsOptions(options);
  const targets: readonly Target[] = options.targets.map((base) =>
    createTarget(options, base, tls, now, logger),
  );
  const count = targets.length;
  const where = `upstream ${id}`;
  let cursor = 0;
  let checker: HealthChecker | undefined;
  let closed: Promise<void> | undefined;

  /** The next admissible target after the cursor, skipping `tried` ones; undefined when none. */
  function pick(tried: readonly Target[] | undefined): { target: Target; ticket: number } | undefined {
    for (let step = 0; step < count; step += 1) {
      const index = (cursor + step) % count;
      const target = targets[index];
      if (target === undefined || !target.healthy || tried?.includes(target) === true) continue;
      const ticket = target.circuit.admit();
      if (ticket === REFUSED) continue;
      // Continue after the chosen one, so a skipped target does not double its neighbour's share.
      cursor = (index + 1) % count;
      return { target, ticket };
    }
    return undefined;
  }

  /** Why no target could be picked: open circuits (503) or no healthy target at all (502). */
  function noTargetError(): GatehouseError {
    const open = targets.find((target) => target.healthy);
    if (open !== undefined) {
      return new GatehouseError('ERR_GATEWAY_CIRCUIT_OPEN', {
        detail: `${where}: every healthy target has an open circuit`,
        cause: open.circuit.lastFailure,
      });
    }
    return new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', { detail: `${where}: no healthy target` });
  }

  /** One `forward()` call: picks a target, dispatches, retries, and reports to the circuit. */
  class Exchange implements Http1Handler, UpstreamCall {
    private readonly started = now();
    // A stream can be read once: only a buffered (or empty) body may be sent again.
    private readonly retryable: boolean;
    private attempts = 0;
    private tried: Target[] | undefined;
    private lastFailure: { error: unknown; where: string } | undefined;
    /** The target of the current attempt. */
    target: Target | undefined;
    private ticket = 0;
    private abortDispatch: ((reason: Error) => void) | undefined;
    private resumeBody: (() => void) | undefined;
    private aborted = false;
    private responded = false;
    private done = false;

    constructor(
      private readonly req: UpstreamRequest,
      private readonly sink: ResponseSink,
    ) {
      this.retryable = req.idempotent && !(req.body instanceof Readable);
    }

    start(): void {
      if (closed !== undefined) {
        this.finish(new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', { detail: `${where}: closed` }));
        return;
      }
      // A retry prefers targets not tried yet, then any admissible one.
      const picked = pick(this.tried) ?? (this.tried === undefined ? undefined : pick(undefined));
      if (picked === undefined) {
        // After a failed attempt, that failure (not the circuit it just opened) is the story.
        const failure = this.lastFailure;
        this.finish(failure === undefined ? noTargetError() : toUpstreamError(failure.error, failure.where));
        return;
      }
      const target = picked.target;
      this.target = target;
      this.ticket = picked.ticket;
      this.abortDispatch = undefined;
      target.inFlight += 1;
      target.pool.dispatch(
        {
          method: this.req.method,
          path: target.basePath + this.req.path,
          headers: this.req.headers,
          body: this.req.body,
        },
        this,
      );
    }

    abort(): void {
      if (this.aborted || this.done) return;
      this.aborted = true;
      // Before the pool took the request there is nothing to abort yet: onConnect does it.
      this.abortDispatch?.(new Error('client went away'));
    }

    resume(): void {
      this.resumeBody?.();
    }

    onConnect(abort: (reason: Error) => void): void {
      this.abortDispatch = abort;
      if (this.aborted) abort(new Error('client went away'));
    }

    onHeaders(statusCode: number, headers: HeaderList, resume: () => void): boolean {
      // Interim answers (RFC 9110 §15.2) are the upstream's business; the final one is relayed.
      if (statusCode < 200) return true;
      const target = this.target as Target;
      if (statusCode >= 500) target.circuit.recordFailure(new UpstreamServerError(statusCode));
      else target.circuit.recordSuccess();
      this.responded = true;
      this.resumeBody = resume;
      this.sink.onResponse({
        statusCode,
        headers,
        target: target.label,
        upstreamMs: now() - this.started,
      });
      return true;
    }

    onData(chunk: Buffer): boolean {
      return this.sink.onData(chunk);
    }

    onComplete(): void {
      (this.target as Target).inFlight -= 1;
      this.done = true;
      this.sink.onEnd();
    }

    onError(error: Error): void {
      const target = this.target;
      if (target === undefined) {
        // Thrown before any target was picked (cannot happen) or by a closed pool.
        this.finish(toUpstreamError(error, where));
        return;
      }
      target.inFlight -= 1;
      if (this.responded) {
        // The body broke: the upstream's fault unless the client left.
        if (!this.aborted && isBodyFailure(error)) target.circuit.recordFailure(error);
        this.done = true;
        this.sink.onError(error, true);
        return;
      }
      if (this.aborted || isLocalFailure(error)) {
        // The client left, or the pool refused the request before sending it: no verdict on the upstream.
        target.circuit.release(this.ticket);
        this.finish(
          new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', {
            detail: `${where}: ${this.aborted ? 'request aborted' : 'request refused locally'}`,
            cause: error,
          }),
        );
        return;
      }
      target.circuit.recordFailure(error);
      if (this.retryable && this.attempts < retries && isRetryableFailure(error)) {
        this.attempts += 1;
        (this.tried ??= []).push(target);
        this.lastFailure = { error, where: `${where} target ${target.label}` };
        logger?.debug(
          { upstream: id, target: target.label, attempt: this.attempts },
          'retrying upstream request',
        );
        this.start();
        return;
      }
      this.finish(toUpstreamError(error, `${where} target ${target.label}`));
    }

    private finish(error: GatehouseError): void {
      this.done = true;
      this.sink.onError(error, false);
    }
  }

  function forward(req: UpstreamRequest, sink: ResponseSink): UpstreamCall {
    const exchange = new Exchange(req, sink);
    exchange.start();
    return exchange;
  }

  /** `forward()` behind a promise and a body stream, for callers that want them. */
  function request(req: UpstreamRequest): Promise<UpstreamResponse> {
    return new Promise((resolve, reject) => {
      let body: Readable | undefined;
      let ended = false;
      const call = new Exchange(req, {
        onResponse(head) {
          // The target stays busy until the consumer is done with the body, not only until the pool is.
          const target = call.target as Target;
          target.inFlight += 1;
          body = new Readable({
            read: () => {
              call.resume();
            },
            destroy: (error, callback) => {
              // Destroyed before the end (the consumer gave up): stop the exchange.
              if (!ended) call.abort();
              callback(error);
            },
          });
          body.once('close', () => {
            target.inFlight -= 1;
          });
          // Keeps an unconsumed body's error from crashing the process; a consumer still sees it.
          body.on('error', ignore);
          resolve({ ...head, headers: headerDictionary(head.headers), body });
        },
        onData: (chunk) => (body as Readable).push(chunk),
        onEnd() {
          ended = true;
          (body as Readable).push(null);
        },
        onError(error, afterResponse) {
          ended = true;
          if (afterResponse) (body as Readable).destroy(error);
          else reject(error);
        },
      });
      call.start();
      const signal = req.signal;
      if (signal === undefined) return;
      if (signal.aborted) call.abort();
      else
        signal.addEventListener(
          'abort',
          () => {
            call.abort();
          },
          { once: true },
        );
    });
  }

  return {
    id,
    request,
    forward,
    health: () =>
      targets.map((target) => ({
        target: target.label,
        healthy: target.healthy,
        circuit: target.circuit.state(),
        inFlight: target.inFlight,
      })) satisfies TargetHealth[],
    start() {
      if (options.healthCheck === undefined || checker !== undefined || closed !== undefined) return;
      checker = createHealthChecker(id, targets, options.healthCheck, logger);
      checker.start();
    },
    close() {
      closed ??= (async () => {
        await checker?.stop();
        await Promise.all(targets.map((target) => target.pool.close()));
      })();
      return closed;
    },
  };
}
