import type { Logger } from '@gatehouse/core';
import type { Target } from './target.js';
import type { HealthCheckOptions } from './upstream.js';

export interface HealthChecker {
  start(): void;
  /** Stops scheduling and waits for a round in progress. */
  stop(): Promise<void>;
}

/** Any 2xx or 3xx (a redirect to a login page still proves the service runs). */
function isHealthyStatus(status: number): boolean {
  return status >= 200 && status < 400;
}

/** One GET on the target; its answer (status, body read and dropped) within `timeoutMs`. */
function probe(target: Target, options: HealthCheckOptions): Promise<boolean> {
  return new Promise((resolve) => {
    let healthy = false;
    let abort: ((reason: Error) => void) | undefined;
    const timer = setTimeout(() => {
      abort?.(new Error('health check timed out'));
    }, options.timeoutMs);
    const settle = (ok: boolean): void => {
      clearTimeout(timer);
      resolve(ok);
    };
    target.pool.dispatch(
      { method: 'GET', path: target.basePath + options.path, headers: [], body: null },
      {
        onConnect(cancel) {
          abort = cancel;
        },
        onHeaders(statusCode) {
          healthy = isHealthyStatus(statusCode);
          return true;
        },
        onData: () => true,
        onComplete() {
          settle(healthy);
        },
        onError() {
          settle(false);
        },
      },
    );
  });
}

function record(
  target: Target,
  ok: boolean,
  options: HealthCheckOptions,
  onChange: (target: Target) => void,
): void {
  if (ok) target.healthStreak = target.healthStreak > 0 ? target.healthStreak + 1 : 1;
  else target.healthStreak = target.healthStreak < 0 ? target.healthStreak - 1 : -1;
  if (target.healthy && -target.healthStreak >= options.unhealthyAfter) {
    target.healthy = false;
    onChange(target);
  } else if (!target.healthy && target.healthStreak >= options.healthyAfter) {
    target.healthy = true;
    onChange(target);
  }
}

/**
 * Active health checks: every `intervalMs` (measured from the end of the previous round, so
 * rounds never overlap), a GET on each target; `unhealthyAfter` consecutive failures take a target
 * out of rotation, `healthyAfter` consecutive successes put it back.
 */
export function createHealthChecker(
  id: string,
  targets: readonly Target[],
  options: HealthCheckOptions,
  logger: Logger | undefined,
): HealthChecker {
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> | undefined;
  let running = false;

  const onChange = (target: Target): void => {
    logger?.warn(
      { upstream: id, target: target.label, healthy: target.healthy },
      'upstream target health changed',
    );
  };

  async function runRound(): Promise<void> {
    const results = await Promise.all(targets.map((target) => probe(target, options)));
    results.forEach((ok, index) => {
      const target = targets[index];
      if (target !== undefined) record(target, ok, options, onChange);
    });
  }

  function schedule(): void {
    round = runRound().finally(() => {
      round = undefined;
      // The timer does not keep the process alive: shutdown is `close()`'s business.
      if (running) timer = setTimeout(schedule, options.intervalMs).unref();
    });
  }

  return {
    start() {
      if (running) return;
      running = true;
      schedule();
    },
    async stop() {
      running = false;
      clearTimeout(timer);
      await round;
    },
  };
}
