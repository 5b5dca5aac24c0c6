export type { AuditRecord, AuditSource, SinkCursor, SinkLogger, SinkTransport } from './types.js';
export { isSinkError, SinkError, type SinkErrorCode, type SinkErrorOptions } from './sink-error.js';
export { buildEcsDocument, ECS_VERSION, formatEcsJson, type EcsDocument } from './format/format-ecs.js';
export {
  createSyslogFormatter,
  DEFAULT_SD_ID,
  escapeParamValue,
  frameOctetCounting,
  isValidSdId,
  SYSLOG_FACILITIES,
  type SyslogFacilityName,
  type SyslogFormatOptions,
  type SyslogFormatter,
} from './format/format-syslog.js';
export { createFileSinkCursor } from './cursor/file-sink-cursor.js';
export { createMemoryAuditSource, type MemoryAuditSource } from './source/memory-audit-source.js';
export { createFileTransport, type FileTransportOptions } from './transport/file-transport.js';
export { createStdoutTransport, type StdoutTransportOptions } from './transport/stdout-transport.js';
export {
  createSyslogTransport,
  type SyslogTlsOptions,
  type SyslogTransportOptions,
} from './transport/syslog-transport.js';
export { createRelpTransport, type RelpTransportOptions } from './transport/relp-transport.js';
export {
  createWebhookTransport,
  type WebhookTlsOptions,
  type WebhookTransportOptions,
} from './transport/webhook-transport.js';
export { fullJitterDelay } from './delivery/backoff.js';
export {
  createSinkDelivery,
  type SinkBatchOptions,
  type SinkDelivery,
  type SinkDeliveryOptions,
  type SinkLastError,
  type SinkRetryOptions,
  type SinkState,
  type SinkStopMode,
} from './delivery/create-sink-delivery.js';
export {
  buildSinksConfig,
  isLoopbackHost,
  sinkConfigSchema,
  sinksConfigSchema,
  type FileSinkConfig,
  type RelpSinkConfig,
  type SinkConfig,
  type SinkConfigInput,
  type StdoutSinkConfig,
  type SyslogSinkConfig,
  type WebhookSinkConfig,
} from './config/sinks-schema.js';
export { createSinks, createSinkTransport, type CreateSinksOptions } from './create-sinks.js';
export { registerSinkMetrics } from './metrics/register-sink-metrics.js';
