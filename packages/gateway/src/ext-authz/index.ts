export { createExtAuthzHandler, type ExtAuthzHandlerDeps } from './create-ext-authz-handler.js';
export {
  createExtAuthzListener,
  type ExtAuthzListener,
  type ExtAuthzListenerOptions,
} from './create-ext-authz-listener.js';
export { extAuthzSchema, checkExtAuthzConfig, type ExtAuthzConfig } from './schema.js';
