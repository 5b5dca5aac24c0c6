export {
  alertmanagerPath,
  CHROMIUM_PATH,
  checkService,
  nginxPath,
  probeTcp,
  promtoolPath,
  requireService,
  rsyslogdPath,
  serviceUrl,
  type ServiceName,
  type ServiceStatus,
} from './services.js';
export { parseForm, type ParsedForm } from './html-form.js';
export { relayTargetOf, startTcpRelay, type RelayTarget, type TcpRelay } from './tcp-relay.js';
export { freePort, reservePort, type ReservedPort } from './ports.js';
