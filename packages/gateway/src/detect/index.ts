export { createAbuseMonitor, type AbuseMonitor, type GatewayAlerts } from './create-abuse-monitor.js';
export type { AlertActionRecord, AlertRecord } from './create-alert-engine.js';
export type { DetectionRecord, RequestObserver, RequestOutcome } from './types.js';
