export { createGateway, type Gateway, type GatewayDeps, type GatewayHealth } from './create-gateway.js';
export {
  buildGatewayConfig,
  gatewayConfigSchema,
  type GatewayConfig,
  type GatewayConfigInput,
  type RouteConfig,
  type UpstreamConfig,
} from './config/schema.js';
export {
  createGatewayAdminApp,
  type CreateGatewayAdminAppOptions,
} from './admin/create-gateway-admin-app.js';
export {
  registerGatewayAdminRoutes,
  type GatewayAdminOptions,
} from './admin/register-gateway-admin-routes.js';
export { GATEWAY_COMPONENT, gatewayMigrations, migrateGateway } from './db/migrations.js';
export { createBanList, type Ban, type BanList } from './limits/ban-list.js';
export { createRerouteList, type Reroute, type RerouteList } from './routing/reroute-list.js';
export type { AlertActionRecord, AlertRecord, DetectionRecord, GatewayAlerts } from './detect/index.js';
