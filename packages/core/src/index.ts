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
  adminTokenMatches,
  bearerTokenOf,
  checkAdminCredential,
  MIN_ADMIN_TOKEN_LENGTH,
  type AdminClient,
  type AdminCredentialCheck,
} from './http/admin-token.js';
export { buildAdminOperators, isAdminOperatorEntry, type AdminOperators } from './http/admin-operators.js';
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
export { createRecordWriter, jsonMember, numberMember, type RecordWriter } from './log/record-writer.js';
export { hashToken, randomToken } from './crypto/random-token.js';
export { openSecret, sealSecret } from './crypto/seal.js';
export {
  dummyPasswordHash,
  hashPassword,
  verifyPassword,
  type PasswordHashOptions,
} from './crypto/password.js';
export {
  openSqlDatabase,
  type SqlDatabase,
  type SqlDatabaseOptions,
  type SqlEngine,
} from './store/sql-database.js';
export { migrateToLatest, runMigrations, type MigrateOptions, type MigrationRun } from './store/migrate.js';
export {
  migrationHistoryTable,
  type MigrationPhase,
  type MigrationSet,
  type PhasedMigration,
} from './store/migration-phase.js';
export {
  BatchQueueFullError,
  createBatchWriter,
  type BatchWriter,
  type BatchWriterOptions,
} from './store/batch-writer.js';
export {
  precompiledInsert,
  precompiledQuery,
  type PrecompiledInsert,
  type PrecompiledQuery,
} from './store/precompiled-query.js';
export { sharedReplayStore, type SharedState } from './store/shared-state.js';
export { createMemorySharedState, type MemorySharedStateOptions } from './store/memory-shared-state.js';
export { createRedisSharedState, type RedisSharedStateOptions } from './store/redis-shared-state.js';
export { openSharedState, type SharedStateOptions } from './store/open-shared-state.js';
export { loadConfigFile, parseConfig } from './config/load-config.js';
export { createMetricsRegistry, SERIES_DROPPED_METRIC } from './metrics/create-metrics-registry.js';
export {
  defaultProcessMetrics,
  type ProcessMetrics,
  type ProcessMetricsOptions,
} from './metrics/default-process-metrics.js';
export { escapeHelp, escapeLabelValue, EXPOSITION_CONTENT_TYPE } from './metrics/exposition.js';
export {
  registerCertificateExpiryGauge,
  type RecordCertificateExpiry,
} from './metrics/register-certificate-expiry-gauge.js';
export {
  DEFAULT_BUCKETS,
  OTHER_LABEL_VALUE,
  type Counter,
  type CounterChild,
  type Gauge,
  type GaugeChild,
  type GaugeDefinition,
  type Histogram,
  type HistogramChild,
  type HistogramDefinition,
  type LabelValues,
  type MetricDefinition,
  type MetricsRegistry,
  type MetricsRegistryOptions,
} from './metrics/metric-types.js';
export { createDevCa } from './pki/create-dev-ca.js';
export { loadDevCa } from './pki/load-dev-ca.js';
export type {
  CertificateAndKey,
  CertificateUsage,
  CreateDevCaOptions,
  DevCa,
  IssueCertificateOptions,
} from './pki/dev-ca.js';
export {
  tlsListenerSchema,
  type TlsListenerConfig,
  type TlsListenerInput,
} from './tls/tls-listener-schema.js';
export { loadTlsServerOptions, type TlsServerOptions } from './tls/load-tls-server-options.js';
export { watchTlsFiles, type TlsReloader, type WatchTlsFilesOptions } from './tls/watch-tls-files.js';
export { describeCertificate, type CertificateInfo } from './tls/describe-certificate.js';
export { parseForwardedCertificate, type ForwardedCertificate } from './tls/parse-forwarded-certificate.js';
export { forwardedCertificateHeaderSchema } from './tls/forwarded-certificate-header-schema.js';
export { attachOcspStapling } from './tls/attach-ocsp-stapling.js';
export {
  REVOCATION_FEED_RETENTION_MS,
  type RevocationFeedDatabase,
  type RevocationFeedEntry,
  type RevocationFeedEvent,
  type RevocationFeedTable,
} from './revocation-feed/revocation-feed-types.js';
export {
  migrateRevocationFeed,
  REVOCATION_FEED_COMPONENT,
  revocationFeedMigrations,
} from './revocation-feed/migrate-revocation-feed.js';
export { appendRevocation, type AppendRevocationOptions } from './revocation-feed/append-revocation.js';
export { readRevocationsAfter } from './revocation-feed/read-revocations-after.js';
export { latestRevocationCursor } from './revocation-feed/latest-revocation-cursor.js';
export { pruneRevocations, type PruneRevocationsOptions } from './revocation-feed/prune-revocations.js';
