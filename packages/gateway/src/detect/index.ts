export { createAbuseMonitor, type AbuseMonitor, type GatewayAlerts } from './create-abuse-monitor.js';
export type { AlertActionRecord, AlertRecord } from './create-alert-engine.js';
export { openWindowStore } from './open-window-store.js';
export type { DetectionRecord, RequestObserver, RequestOutcome } from './types.js';
export type { WindowStore } from './window-store.js';
