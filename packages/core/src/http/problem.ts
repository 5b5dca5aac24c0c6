/** RFC 9457 problem details. */

export interface Problem {
  /** RFC 9457 §3.1.1: a URI reference; `about:blank` when the status says it all. */
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail?: string;
  readonly instance?: string;
  /** Extension members (RFC 9457 §3.2), e.g. a stable `code`. */
  readonly [extension: string]: unknown;
}

export interface ProblemInput {
  readonly status: number;
  readonly type?: string;
  readonly title?: string;
  readonly detail?: string;
  readonly instance?: string;
  readonly extensions?: Readonly<Record<string, unknown>>;
}

export interface HttpErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: string;
}

const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function statusTitle(status: number): string {
  return STATUS_TITLES[status] ?? (status >= 500 ? 'Server Error' : 'Client Error');
}

/** Plain data for a problem document; reserved members cannot be overwritten by extensions. */
export function buildProblem(input: ProblemInput): Problem {
  const problem: Record<string, unknown> = { ...input.extensions };
  // RFC 9457 §3.1: detail and instance are reserved too; an extension must not smuggle them in
  // (only the overwritten members were dropped before, so an absent detail let one through).
  delete problem['detail'];
  delete problem['instance'];
  problem['type'] = input.type ?? 'about:blank';
  problem['title'] = input.title ?? statusTitle(input.status);
  problem['status'] = input.status;
  if (input.detail !== undefined) problem['detail'] = input.detail;
  if (input.instance !== undefined) problem['instance'] = input.instance;
  return problem as Problem;
}

/** An HTTP response carrying a problem document (`application/problem+json`). */
export function buildProblemResponse(
  input: ProblemInput,
  headers: Readonly<Record<string, string | readonly string[]>> = {},
): HttpErrorResponse {
  return {
    status: input.status,
    headers: { ...headers, 'content-type': 'application/problem+json', 'cache-control': 'no-store' },
    body: JSON.stringify(buildProblem(input)),
  };
}
