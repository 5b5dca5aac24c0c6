import { Readable } from 'node:stream';
import { GatehouseError, type Logger } from '@gatehouse/core';
import type { Dispatcher } from 'undici';
import { REFUSED } from './circuit-breaker.js';
import { isBodyFailure, isLocalFailure, isRetryableFailure, toUpstreamError } from './classify-error.js';
import { createHealthChecker, type HealthChecker } from './health-check.js';
import { buildTlsOptions, createTarget, type Target } from './target.js';
import type {
  TargetHealth,
  Upstream,
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
 * An upstream service behind a route: one undici `Pool` per target, round-robin over the targets
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

  function track(target: Target, body: Dispatcher.ResponseData['body']): void {
    body.once('close', () => {
      target.inFlight -= 1;
    });
    // Also keeps an unhandled body error from crashing the process; the consumer still sees it.
    body.on('error', (error) => {
      if (isBodyFailure(error)) target.circuit.recordFailure(error);
    });
  }

  async function request(req: UpstreamRequest): Promise<UpstreamResponse> {
    if (closed !== undefined) {
      throw new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', { detail: `${where}: closed` });
    }
    const started = now();
    // A stream can be read once: only a buffered (or empty) body may be sent again.
    const retryable = req.idempotent && !(req.body instanceof Readable);
    let attempts = 0;
    let tried: Target[] | undefined;
    let lastFailure: { error: unknown; where: string } | undefined;
    for (;;) {
      // A retry prefers targets not tried yet, then any admissible one.
      const picked = pick(tried) ?? (tried === undefined ? undefined : pick(undefined));
      if (picked === undefined) {
        // After a failed attempt, that failure (not the circuit it just opened) is the story.
        throw lastFailure === undefined
          ? noTargetError()
          : toUpstreamError(lastFailure.error, lastFailure.where);
      }
      const { target, ticket } = picked;
      target.inFlight += 1;
      let data: Dispatcher.ResponseData;
      try {
        data = await target.pool.request({
          method: req.method,
          path: target.basePath + req.path,
          headers: req.headers,
          body: req.body,
          signal: req.signal,
        });
      } catch (error) {
        target.inFlight -= 1;
        if (req.signal?.aborted === true || isLocalFailure(error)) {
          // The client left, or undici refused the request before sending it: no verdict on the upstream.
          target.circuit.release(ticket);
          throw new GatehouseError('ERR_GATEWAY_UPSTREAM_UNAVAILABLE', {
            detail: `${where}: ${req.signal?.aborted === true ? 'request aborted' : 'request refused locally'}`,
            cause: error,
          });
        }
        target.circuit.recordFailure(error);
        if (retryable && attempts < retries && isRetryableFailure(error)) {
          attempts += 1;
          (tried ??= []).push(target);
          lastFailure = { error, where: `${where} target ${target.label}` };
          logger?.debug(
            { upstream: id, target: target.label, attempt: attempts },
            'retrying upstream request',
          );
          continue;
        }
        throw toUpstreamError(error, `${where} target ${target.label}`);
      }
      if (data.statusCode >= 500) target.circuit.recordFailure(new UpstreamServerError(data.statusCode));
      else target.circuit.recordSuccess();
      track(target, data.body);
      return {
        statusCode: data.statusCode,
        headers: data.headers,
        body: data.body,
        target: target.label,
        upstreamMs: now() - started,
      };
    }
  }

  return {
    id,
    request,
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
