import type { Logger } from '@gatehouse/core';

export interface WebhookSenderOptions {
  readonly url: string;
  /** Sent as `Authorization: Bearer <secret>`; never logged, never in an error. */
  readonly secret?: string | undefined;
  readonly timeoutMs: number;
  /** Further attempts after a failed one. */
  readonly retries: number;
  readonly backoffMs: number;
  readonly maxBackoffMs: number;
  readonly logger: Logger;
  /** Deliveries in progress (including waits between attempts) at most; more are refused. */
  readonly maxPending?: number;
}

export type WebhookResult =
  | { readonly delivered: true; readonly attempts: number; readonly status: number }
  | {
      readonly delivered: false;
      readonly attempts: number;
      /** `status_<n>`, a network error code, `timeout`, `backlog_full` or `closed`. */
      readonly error: string;
    };

export interface WebhookSender {
  /** POSTs `payload` as JSON, retrying with exponential backoff; never rejects. */
  send(payload: unknown): Promise<WebhookResult>;
  /** Deliveries waiting or in flight. */
  readonly pending: number;
  /** Abandons waits and attempts in progress (their results say `closed`). */
  close(): void;
}

/** Answers worth retrying: the receiver is busy or broken, not refusing this payload. */
function isRetryable(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Why an attempt failed, without the URL or any header (the secret) in it. */
function failureOf(err: unknown): string {
  if (err instanceof Error) {
    if (err.name === 'TimeoutError') return 'timeout';
    const cause = (err as { cause?: unknown }).cause;
    const code = (cause as { code?: unknown } | undefined)?.code;
    if (typeof code === 'string') return code;
    return err.name;
  }
  return 'error';
}

/**
 * Alert escalation to an HTTP receiver: JSON POST, bearer secret, one deadline per attempt, retries
 * after exponential backoff with jitter (what Alertmanager's receivers expect). Redirects are not
 * followed: a receiver moved elsewhere is a configuration change, not something a 3xx decides.
 */
export function createWebhookSender(options: WebhookSenderOptions): WebhookSender {
  const { url, secret, timeoutMs, retries, backoffMs, maxBackoffMs, logger } = options;
  const maxPending = options.maxPending ?? 100;
  const closing = new AbortController();
  const closed = (): boolean => closing.signal.aborted;
  let pending = 0;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'gatehouse-gateway',
  };
  if (secret !== undefined) headers['authorization'] = `Bearer ${secret}`;

  const wait = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (closed()) {
        resolve();
        return;
      }
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        closing.signal.removeEventListener('abort', done);
        resolve();
      }
      closing.signal.addEventListener('abort', done, { once: true });
    });

  const attempt = async (body: string): Promise<{ ok: boolean; status?: number; error?: string }> => {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.any([closing.signal, AbortSignal.timeout(timeoutMs)]),
      });
      // The body is not needed; read it so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status };
      return { ok: false, status: response.status, error: `status_${String(response.status)}` };
    } catch (err) {
      return { ok: false, error: closed() ? 'closed' : failureOf(err) };
    }
  };

  return {
    async send(payload) {
      if (pending >= maxPending) return { delivered: false, attempts: 0, error: 'backlog_full' };
      if (closed()) return { delivered: false, attempts: 0, error: 'closed' };
      pending++;
      try {
        const body = JSON.stringify(payload);
        let error = 'error';
        for (let n = 1; n <= retries + 1; n++) {
          const result = await attempt(body);
          if (result.ok) return { delivered: true, attempts: n, status: result.status as number };
          error = result.error ?? 'error';
          const final =
            closed() || n === retries + 1 || (result.status !== undefined && !isRetryable(result.status));
          logger.warn(
            { attempt: n, error, final },
            final ? 'alert webhook delivery failed' : 'alert webhook delivery failed; retrying',
          );
          if (final) return { delivered: false, attempts: n, error };
          const delay = Math.min(maxBackoffMs, backoffMs * 2 ** (n - 1));
          // Half fixed, half random: receivers coming back are not hit by every sender at once.
          await wait(delay / 2 + Math.random() * (delay / 2));
        }
        return { delivered: false, attempts: retries + 1, error };
      } finally {
        pending--;
      }
    },
    get pending() {
      return pending;
    },
    close() {
      closing.abort();
    },
  };
}
