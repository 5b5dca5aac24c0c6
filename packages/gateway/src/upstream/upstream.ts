import type { Readable } from 'node:stream';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface UpstreamTlsOptions {
  /** PEM client certificate for mTLS (with `key`). */
  readonly cert?: string;
  readonly key?: string;
  /** PEM CA certificate(s): when set, only these are trusted (the system store is not). */
  readonly ca?: string;
  /** SNI and the name checked when no `identity` is given. */
  readonly servername?: string;
  /** Expected server identity, matched against the certificate's SAN instead of the host name. */
  readonly identity?: { readonly uri?: string; readonly dns?: string };
}

export interface HealthCheckOptions {
  /** Path (and query) probed with GET on each target; 2xx and 3xx are healthy. */
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Consecutive failed probes before a target is taken out of rotation. */
  readonly unhealthyAfter: number;
  /** Consecutive good probes before it is put back. */
  readonly healthyAfter: number;
}

export interface CircuitBreakerOptions {
  /** Consecutive failures (errors and 5xx answers) that open the circuit. */
  readonly failureThreshold: number;
  /** How long an open circuit refuses requests before letting probes through. */
  readonly openMs: number;
  /** Requests let through when half-open; all must succeed to close the circuit again. */
  readonly halfOpenProbes: number;
}

export interface UpstreamOptions {
  readonly id: string;
  /** `http://` or `https://` base URLs; a base path is prepended to every request path. */
  readonly targets: readonly string[];
  readonly tls?: UpstreamTlsOptions;
  readonly timeouts: {
    /** TCP connect plus TLS handshake. */
    readonly connectMs: number;
    /** Request sent → response headers received. */
    readonly headersMs: number;
    /** Longest silence between two chunks of the response body. */
    readonly bodyMs: number;
  };
  /** Extra attempts, on the next target, for idempotent requests that reached no upstream. */
  readonly retries: number;
  readonly healthCheck?: HealthCheckOptions;
  readonly circuitBreaker: CircuitBreakerOptions;
  /** Connections per target (default unbounded). */
  readonly maxConnections?: number;
}

export interface UpstreamRequest {
  readonly method: string;
  /** Path and query, already canonical. */
  readonly path: string;
  /** A dictionary, or a list with each name once (the proxy's path). */
  readonly headers: Readonly<Record<string, string>> | HeaderList;
  readonly body: Buffer | Readable | null;
  /** Whether the request may be sent twice (RFC 9110 §9.2.2); a streamed body never is. */
  readonly idempotent: boolean;
  readonly signal?: AbortSignal;
}

export interface UpstreamResponse {
  readonly statusCode: number;
  readonly headers: Record<string, string | string[] | undefined>;
  /** The body stream: consume or destroy it, or the connection stays busy. */
  readonly body: Readable;
  /** The target that answered (origin and base path, never credentials). */
  readonly target: string;
  /** Time from `request()` to the response headers, retries included. */
  readonly upstreamMs: number;
}

/** Response header fields as a dictionary (lower-case names; a repeated field is an array). */
export type UpstreamHeaders = Record<string, string | string[]>;

/**
 * Header fields as a flat list, `[name, value, name, value, …]`, lower-case names, a repeated field
 * once per line in the order received. What the proxy's hot path reads and writes: node and the pool
 * take this form as is, where a dictionary costs a hash-table object per message.
 */
export type HeaderList = readonly string[];

/** The status line and headers of an upstream answer (1xx interim responses are not reported). */
export interface UpstreamResponseHead {
  readonly statusCode: number;
  readonly headers: HeaderList;
  /** The target that answered (origin and base path, never credentials). */
  readonly target: string;
  /** Time from `forward()` to the response headers, retries included. */
  readonly upstreamMs: number;
}

/**
 * Receives the answer of a `forward()` call as it arrives, with no stream or promise in between:
 * the pipeline writes it straight into the client response.
 */
export interface ResponseSink {
  onResponse(head: UpstreamResponseHead): void;
  /** A body chunk; `false` holds the rest until the call's `resume()` (backpressure). */
  onData(chunk: Buffer): boolean;
  onEnd(): void;
  /**
   * The call failed. Before `onResponse` the error is a `GatehouseError` (`ERR_GATEWAY_UPSTREAM_TIMEOUT`,
   * `ERR_GATEWAY_UPSTREAM_UNAVAILABLE`, `ERR_GATEWAY_CIRCUIT_OPEN`); after it, the cause of the broken body.
   */
  onError(error: Error, afterResponse: boolean): void;
}

/** A call in progress. */
export interface UpstreamCall {
  /** The client went away: stop the exchange (never counted against the upstream's circuit). */
  abort(): void;
  /** Continue the body after `onData` returned `false`. */
  resume(): void;
}

export interface TargetHealth {
  readonly target: string;
  readonly healthy: boolean;
  readonly circuit: CircuitState;
  readonly inFlight: number;
}

export interface Upstream {
  readonly id: string;
  /** The request as a promise of the response with its body as a stream. */
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  /** The request with its answer handed to `sink` (the proxy's hot path); `req.signal` is not used. */
  forward(req: UpstreamRequest, sink: ResponseSink): UpstreamCall;
  health(): readonly TargetHealth[];
  /** Starts the periodic health checks (no-op without `healthCheck` or when already started). */
  start(): void;
  /** Stops health checks and closes the connection pools once in-flight requests are done. */
  close(): Promise<void>;
}
