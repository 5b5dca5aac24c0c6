import { fail, isGuardError } from '../errors.js';

export interface FetchJwksOptions {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly fetch: typeof globalThis.fetch;
}

export interface FetchedJwks {
  readonly keys: readonly unknown[];
  /** `Cache-Control` freshness in seconds (0 for no-store / no-cache), or undefined when absent. */
  readonly maxAgeSec: number | undefined;
}

/** RFC 9111 §5.2.2: the directives a private cache honours for freshness. */
export function parseCacheControl(header: string | null): number | undefined {
  if (header === null) return undefined;
  let maxAge: number | undefined;
  for (const part of header.toLowerCase().split(',')) {
    const [name = '', value] = part.trim().split('=', 2);
    if (name === 'no-store' || name === 'no-cache') return 0;
    // RFC 9111 §4.2.1: of several max-age directives the first one counts (a later one cannot extend it).
    if (
      name === 'max-age' &&
      maxAge === undefined &&
      value !== undefined &&
      /^\d+$/.test(value.replace(/"/g, ''))
    ) {
      maxAge = Number(value.replace(/"/g, ''));
    }
  }
  return maxAge;
}

function isTimeout(err: unknown): boolean {
  return err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
}

async function readLimited(response: Response, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > maxBytes) fail('ERR_JWKS_TOO_LARGE');
  if (response.body === null) return Buffer.alloc(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel();
      fail('ERR_JWKS_TOO_LARGE');
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * Fetches a JWK Set (RFC 7517 §5) with a deadline covering headers and body, a size limit and no
 * redirects (a redirect could move the trust anchor elsewhere).
 */
export async function fetchJwks(uri: string, options: FetchJwksOptions): Promise<FetchedJwks> {
  let body: Buffer;
  let response: Response;
  try {
    response = await options.fetch(uri, {
      signal: AbortSignal.timeout(options.timeoutMs),
      redirect: 'error',
      headers: { accept: 'application/jwk-set+json, application/json' },
    });
    if (!response.ok) fail('ERR_JWKS_FETCH_FAILED', `HTTP ${response.status}`);
    body = await readLimited(response, options.maxBytes);
  } catch (err) {
    if (isGuardError(err)) throw err;
    if (isTimeout(err)) fail('ERR_JWKS_TIMEOUT');
    return fail('ERR_JWKS_FETCH_FAILED', err instanceof Error ? err.name : 'fetch error');
  }
  let document: unknown;
  try {
    document = JSON.parse(body.toString('utf8'));
  } catch {
    return fail('ERR_JWKS_INVALID', 'not JSON');
  }
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) fail('ERR_JWKS_INVALID', 'no keys array');
  return { keys, maxAgeSec: parseCacheControl(response.headers.get('cache-control')) };
}
