export { createBff, type Bff, type BffSessionAdmin, type CreateBffOptions } from './create-bff.js';
export {
  bffConfigSchema,
  buildBffConfig,
  type BffConfig,
  type BffConfigInput,
} from './config/bff-config-schema.js';
export type { BffErrorCode } from './errors.js';
export type {
  BffSession,
  PendingLogin,
  SessionMatch,
  SessionStore,
  SessionSummary,
  SessionTokens,
} from './sessions/session-store.js';
export { BFF_MIGRATIONS } from './sessions/migrations.js';
export { createSqlSessionStore, type SqlSessionStoreOptions } from './sessions/sql-session-store.js';
export { createRedisSessionStore, type RedisSessionStoreOptions } from './sessions/redis-session-store.js';
