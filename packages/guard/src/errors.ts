import { GatehouseError, type ErrorCode, type GatehouseErrorOptions } from '@gatehouse/core';

export interface GuardErrorOptions extends GatehouseErrorOptions {
  /** For `ERR_INSUFFICIENT_SCOPE`: the scopes the resource needs (sent in the challenge). */
  readonly requiredScopes?: readonly string[];
}

/**
 * Every refusal from guard. Match on `code`; `message` is fixed per code and `detail` is for logs
 * only, so neither can leak a token or a key.
 */
export class GuardError<C extends ErrorCode = ErrorCode> extends GatehouseError<C> {
  override readonly name = 'GuardError';
  readonly requiredScopes: readonly string[] | undefined;

  constructor(code: C, options: GuardErrorOptions = {}) {
    super(code, options);
    this.requiredScopes = options.requiredScopes;
  }
}

export function isGuardError(value: unknown): value is GuardError {
  return value instanceof GuardError;
}

/** Throws a `GuardError`; a helper so checks read as one line each. */
export function fail(code: ErrorCode, detail?: string): never {
  throw new GuardError(code, detail === undefined ? {} : { detail });
}
