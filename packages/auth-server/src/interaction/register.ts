import type { FastifyInstance } from 'fastify';
import { registerAuthorize } from '../actions/authorize.js';
import { registerConsent } from '../actions/consent.js';
import { registerEndSession } from '../actions/end-session.js';
import { registerLogin } from '../actions/login.js';
import { registerPar } from '../actions/par.js';
import { registerUserinfo } from '../actions/userinfo.js';
import type { AuthServerServices } from '../services.js';
import { createInteractionContext, type InteractionContext } from './context.js';

/** Registers the user-facing endpoints: authorization, PAR, login, consent, UserInfo, end session. */
export function registerInteractionActions(
  app: FastifyInstance,
  services: AuthServerServices,
  prefix: string,
): InteractionContext {
  const ctx = createInteractionContext(services);
  registerAuthorize(app, ctx, prefix);
  registerPar(app, ctx, prefix);
  registerLogin(app, ctx, prefix);
  registerConsent(app, ctx, prefix);
  registerUserinfo(app, ctx, prefix);
  registerEndSession(app, ctx, prefix);
  return ctx;
}
