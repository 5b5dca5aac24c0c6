/** One reason a request does not match its OpenAPI operation. */
export interface ValidationProblem {
  /** JSON pointer into the request: `/path/id`, `/query/limit`, `/header/x-tenant`, `/body/nickname`. */
  readonly pointer: string;
  /** Generic text decided by the schema keyword; never echoes the value that was sent. */
  readonly message: string;
}

/** The request body an operation declares. */
export interface OperationBody {
  readonly required: boolean;
  /** Declared media types, lower-case, without parameters (`application/json`, `application/*`). */
  readonly contentTypes: readonly string[];
  /** Whether a request `Content-Type` (parameters allowed) is one of the declared media types. */
  accepts(contentType: string): boolean;
  /**
   * Validates a parsed JSON body against the schema of `mediaType` (default: the first JSON media type).
   * `readOnly` properties are refused (OpenAPI 3.1 §4.8.24.4: they are response-only).
   */
  validate(value: unknown, mediaType?: string): ValidationProblem[];
}

/** The operation a request path and method resolved to. */
export interface OperationMatch {
  readonly operationId: string | undefined;
  readonly pathTemplate: string;
  /** Path parameters, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly allowedMethods?: never;
  /** Validates path, query, header and cookie parameters. */
  validate(input: {
    query: string;
    headers: Readonly<Record<string, string | string[] | undefined>>;
  }): ValidationProblem[];
  readonly body: OperationBody | undefined;
}

/** One declared operation, for deriving route settings (methods, scopes) from the document. */
export interface OpenApiOperation {
  /** Upper-case HTTP method. */
  readonly method: string;
  readonly pathTemplate: string;
  readonly operationId?: string;
  /**
   * Every scope named by the operation's security requirements (operation `security`, else the root one).
   * When the document lists alternatives, requiring this union is stricter than the document.
   */
  readonly scopes: readonly string[];
  /** The security requirements as declared: alternatives (OR) of scheme → scopes (AND); `[]` means none. */
  readonly security: readonly Readonly<Record<string, readonly string[]>>[];
}

export interface OpenApiRoutes {
  /**
   * `path` is the canonical request path (unreserved characters decoded, other escapes kept). Returns the
   * operation, `'method-not-allowed'` when the path exists without this method, or `undefined` (404).
   */
  match(method: string, path: string): OperationMatch | 'method-not-allowed' | undefined;
  readonly operations: readonly OpenApiOperation[];
  /** Methods declared on the path template a path resolves to (for `Allow` on 405), else `undefined`. */
  allowedMethods(path: string): readonly string[] | undefined;
}

export interface OpenApiRoutesOptions {
  /** Prefix stripped before matching (`/api` → `/api/accounts` matches the template `/accounts`). */
  readonly basePath?: string;
}
