export { createAuthServer, migrateAuthServer, type AuthServer } from './create-auth-server.js';
export { authServerMigrations } from './db/migrations.js';
export {
  authServerConfigSchema,
  buildAuthServerConfig,
  type AuthServerConfig,
  type AuthServerConfigInput,
} from './config/schema.js';
export type { AuthServerDeps } from './context.js';
export { REVOCATION_CHANNEL } from './context.js';
export type { AuthServerServices, Endpoints } from './services.js';
export {
  createClientStore,
  type ClientStore,
  type CreateClientInput,
  type CreatedClient,
} from './clients/client-store.js';
export type { Client, ClientAuthMethod, GrantType, TokenFormat } from './clients/client.js';
export {
  createKeyService,
  KEY_CHANNEL,
  readVerificationKey,
  type EmergencyRotation,
  type KeyEvent,
  type KeyInfo,
  type KeyService,
  type VerificationKey,
} from './keys/key-service.js';
export type { RevocationEvent } from './tokens/revocation-events.js';
export {
  AdminRequestError,
  createAdminOperations,
  userView,
  type AdminActor,
  type AdminOperations,
  type AdminOperationsDeps,
  type RotationResult,
  type UserView,
} from './admin/admin-operations.js';
export {
  createAdminApp,
  createAdminOperationsFor,
  type CreateAdminAppOptions,
} from './admin/create-admin-app.js';
export { registerAdminRoutes, type AdminServices } from './admin/routes.js';
export { MIN_ADMIN_TOKEN_LENGTH } from '@gatehouse/core';
export { clientView, keyView, type ClientInput, type ClientView, type KeyView } from './admin/views.js';
export {
  openAuthServerStores,
  type AuthServerStores,
  type AuthServerStoresOptions,
} from './admin/open-stores.js';
// The key-encryption key loader, for entry points (the CLI); written by the keys helper.
export { KEK_ENV, loadKek, type LoadKekOptions, type LoadedKek } from './keys/kek.js';
export {
  createUserStore,
  normalizeUsername,
  type UserStore,
  type User,
  type CreateUserInput,
} from './users/user-store.js';
