import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { buildProblemResponse, statusTitle } from '@gatehouse/core';

/**
 * nginx `auth_request` passes only 401 and 403 through; any other status of the subrequest becomes a
 * 500 (ngx_http_auth_request_module). So in the nginx style every refusal reaches nginx as a 403 that
 * carries the real answer — status, the headers a client needs, body — in X-Gatehouse-Refusal, and
 * the shipped configuration has nginx fetch it back from `<path>/refusal`, which answers exactly
 * that (deploy/nginx/gatehouse-auth-request.conf, `error_page 403 = @gatehouse_refused`).
 */
export const REFUSAL_HEADER = 'x-gatehouse-refusal';

/** The headers of a refusal a client sees; everything else is the data plane's own business. */
const RELAYED = new Set([
  'content-type',
  'cache-control',
  'www-authenticate',
  'retry-after',
  'ratelimit',
  'ratelimit-policy',
  'allow',
  'x-request-id',
  'x-content-type-options',
  'strict-transport-security',
]);
/**
 * Gatehouse's refusal bodies are a few hundred bytes (a validation problem lists at most 20 errors);
 * a larger one is replaced by the bare problem of its status. nginx reads the check answer's header
 * section into `proxy_buffer_size` (16k in the shipped configuration).
 */
const MAX_BODY_CHARS = 6144;
const MAX_ENCODED_CHARS = 12_288;
/** RFC 9110 §5.5: field values are visible ASCII, spaces and tabs (no CR/LF, no obs-text here). */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;

export interface Refusal {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** base64url of the refusal as JSON: one header value nginx copies with `auth_request_set`. */
export function encodeRefusal(refusal: Refusal): string {
  return Buffer.from(JSON.stringify(refusal), 'utf8').toString('base64url');
}

/** The refusal a header carries, or undefined for anything that is not exactly one of ours. */
export function decodeRefusal(value: string | undefined): Refusal | undefined {
  if (value === undefined || value.length > MAX_ENCODED_CHARS || !/^[\w-]+$/.test(value)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const { status, headers, body } = parsed as Record<string, unknown>;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 599)
    return undefined;
  if (typeof body !== 'string' || body.length > MAX_BODY_CHARS) return undefined;
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) return undefined;
  const relayed: Record<string, string> = {};
  for (const [name, field] of Object.entries(headers)) {
    if (!RELAYED.has(name) || typeof field !== 'string' || !FIELD_VALUE.test(field)) return undefined;
    relayed[name] = field;
  }
  return { status, headers: relayed, body };
}

function relayedHeaders(headers: OutgoingHttpHeaders): Record<string, string> {
  const relayed: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!RELAYED.has(lower) || value === undefined) continue;
    relayed[lower] = Array.isArray(value) ? value.join(', ') : String(value);
  }
  return relayed;
}

/**
 * Makes every refusal written on `res` (a status of 400 or more) a 403 carrying the real one in
 * X-Gatehouse-Refusal. The pipeline writes a refusal as writeHead(status, headers) then end(body):
 * both are held and written together once the body is known. Allowed answers pass untouched.
 */
export function refuseAsForbidden(res: ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (
    status: number,
    headers?: OutgoingHttpHeaders,
  ) => ServerResponse;
  const end = res.end.bind(res) as (body?: string | Buffer) => ServerResponse;
  let held: { status: number; headers: OutgoingHttpHeaders } | undefined;
  res.writeHead = (status: number, ...rest: unknown[]): ServerResponse => {
    const headers = rest.find((arg) => typeof arg === 'object' && arg !== null) as
      OutgoingHttpHeaders | undefined;
    if (status < 400) return writeHead(status, headers);
    held = { status, headers: headers ?? {} };
    return res;
  };
  res.end = ((chunk?: unknown): ServerResponse => {
    if (held === undefined) return end(chunk as string | Buffer | undefined);
    const body = typeof chunk === 'string' ? chunk : Buffer.isBuffer(chunk) ? chunk.toString('utf8') : '';
    const headers: OutgoingHttpHeaders = { ...res.getHeaders(), ...held.headers };
    const refusal = encodeRefusal({
      status: held.status,
      headers: relayedHeaders(headers),
      body:
        body.length > MAX_BODY_CHARS
          ? buildProblemResponse({ status: held.status, title: statusTitle(held.status) }).body
          : body,
    });
    held = undefined;
    writeHead(403, {
      ...headers,
      [REFUSAL_HEADER]: refusal,
      'content-length': String(Buffer.byteLength(body)),
    });
    return end(body);
  }) as ServerResponse['end'];
}

/**
 * Answers nginx's `<path>/refusal` request: the refusal its X-Gatehouse-Refusal carries, exactly; a
 * bare 403 when there is none (a 403 nginx made itself, e.g. `deny`).
 */
export function answerRefusal(req: IncomingMessage, res: ServerResponse): number {
  const values = req.headersDistinct[REFUSAL_HEADER];
  const refusal = values?.length === 1 ? decodeRefusal(values[0]) : undefined;
  if (refusal === undefined) {
    const response = buildProblemResponse({ status: 403, title: 'Forbidden' });
    res.writeHead(403, {
      ...response.headers,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'content-length': String(Buffer.byteLength(response.body)),
    });
    res.end(response.body);
    return 403;
  }
  res.writeHead(refusal.status, {
    ...refusal.headers,
    'content-length': String(Buffer.byteLength(refusal.body)),
  });
  res.end(refusal.body);
  return refusal.status;
}
