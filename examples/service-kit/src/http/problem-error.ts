import type { ProblemInput } from '@gatehouse/core';

/**
 * A refusal this service answers with an RFC 9457 problem of its own (404, 400 validation): the
 * shared error registry covers tokens and policy, not this service's resources.
 */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  readonly problem: ProblemInput;

  constructor(problem: ProblemInput) {
    super(problem.title ?? `HTTP ${String(problem.status)}`);
    this.problem = problem;
  }
}

/** 404 for an object that does not exist or that the caller may not see (OWASP API1: no existence leak). */
export const notFound = (): ProblemError => new ProblemError({ status: 404 });

/** One entry of RFC 9457 §3 `invalid-params`. */
export interface InvalidParam {
  readonly name: string;
  readonly reason: string;
}

export const invalidParams = (params: readonly InvalidParam[]): ProblemError =>
  new ProblemError({
    status: 400,
    detail: 'The request has invalid parameters',
    extensions: { 'invalid-params': params },
  });
