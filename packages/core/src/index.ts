export {
  ERROR_CODES,
  isErrorCode,
  statusForCode,
  type ErrorCode,
  type ErrorCodeInfo,
  type OAuthErrorCode,
} from './errors/codes.js';
export { GatehouseError, isGatehouseError, type GatehouseErrorOptions } from './errors/gatehouse-error.js';
export { toErrorResponse, type AuthScheme, type ErrorResponseOptions } from './errors/to-error-response.js';
export { buildWwwAuthenticate, type ChallengeOptions } from './http/www-authenticate.js';
export {
  buildProblem,
  buildProblemResponse,
  statusTitle,
  type HttpErrorResponse,
  type Problem,
  type ProblemInput,
} from './http/problem.js';
export type { AuditActor, AuditEvent, AuditOutcome, AuditSink, AuditTarget } from './audit/audit-event.js';
export { buildAuditActor, emitAuditEvent } from './audit/emit-audit-event.js';
export { createLogger, type Logger, type LoggerOptions } from './log/create-logger.js';
export { REDACTED, isSensitiveKey, redactSecrets } from './log/redact.js';
