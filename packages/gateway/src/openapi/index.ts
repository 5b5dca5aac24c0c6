export { buildOpenApiRoutes } from './build-openapi-routes.js';
export { loadOpenApiDocument } from './load-openapi-document.js';
export type {
  OpenApiOperation,
  OpenApiRoutes,
  OpenApiRoutesOptions,
  OperationBody,
  OperationMatch,
  ValidationProblem,
} from './types.js';
