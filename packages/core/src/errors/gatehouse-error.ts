import { ERROR_CODES, type ErrorCode, type ErrorCodeInfo } from './codes.js';

export interface GatehouseErrorOptions {
  /** Server-only detail for logs; never sent to a client and never containing a secret. */
  readonly detail?: string;
  readonly cause?: unknown;
}

/**
 * Base class of every error Gatehouse raises on purpose. `code` is stable and narrows with
 * `switch (err.code)`; `message` is the fixed text of the code, so a message can never echo a
 * token, a key or a claim value.
 */
export class GatehouseError<C extends ErrorCode = ErrorCode> extends Error {
  override readonly name: string = 'GatehouseError';
  readonly code: C;
  readonly status: number;
  /** Whether the code may be shown to a client (4xx); 5xx stay generic. */
  readonly expose: boolean;
  readonly detail: string | undefined;

  constructor(code: C, options: GatehouseErrorOptions = {}) {
    const info: ErrorCodeInfo = ERROR_CODES[code];
    super(info.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = info.status;
    this.expose = info.status < 500;
    this.detail = options.detail;
  }

  /** Log-friendly view: the code, status and server-only detail; never the stack for clients. */
  toJSON(): { name: string; code: C; status: number; message: string; detail?: string } {
    return {
      name: this.name,
      code: this.code,
      status: this.status,
      message: this.message,
      ...(this.detail === undefined ? {} : { detail: this.detail }),
    };
  }
}

export function isGatehouseError(value: unknown): value is GatehouseError {
  return value instanceof GatehouseError;
}
