export {
  createResourceService,
  type ResourceService,
  type ResourceServiceDefinition,
  type ResourceServiceOptions,
  type ResourceServiceParts,
  type ResourceServiceRoutes,
} from './service/create-resource-service.js';
export {
  createServiceApp,
  type CreateServiceAppOptions,
  type ServiceApp,
  type ServiceTls,
} from './http/create-service-app.js';
export { principalOf, registerGuarded, type GuardContext } from './http/register-guarded.js';
export { invalidParams, notFound, ProblemError, type InvalidParam } from './http/problem-error.js';
export { parseInput } from './http/parse-input.js';
export { idOf } from './http/path-id.js';
export { getStatus } from './http/get-status.js';
export { END_USER, toPolicyPrincipal } from './auth/to-policy-principal.js';
export { toKyselyWhere } from './db/to-kysely-where.js';
export {
  loadServiceConfig,
  serviceConfigSchema,
  type LoadedServiceConfig,
  type ServiceConfig,
} from './config/load-service-config.js';
export { runServiceMain, type RunServiceMainOptions } from './main/run-service-main.js';
