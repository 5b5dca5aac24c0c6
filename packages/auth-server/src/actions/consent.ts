import { GatehouseError } from '@gatehouse/core';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { audit } from '../audit.js';
import type { Client } from '../clients/client.js';
import { sourceIpOf } from '../http/create-app.js';
import type { InteractionContext } from '../interaction/context.js';
import { clearCookie, readCookie } from '../interaction/cookies.js';
import {
  consentOutcome,
  decide,
  errorPage,
  errorRedirect,
  expiredPage,
  pageErrorHandler,
  saveConsent,
  sendOutcome,
} from '../interaction/flow.js';
import { sendPage } from '../interaction/html.js';
import { csrfMatches, type Interaction } from '../interaction/interaction-store.js';
import type { Session } from '../interaction/session-store.js';
import { ENDPOINT_PATHS } from '../services.js';

interface Pending {
  readonly interaction: Interaction;
  readonly client: Client;
  readonly session: Session;
}

/**
 * The consent page of third-party clients (GET) and the decision (POST, CSRF-protected): approve
 * remembers the consent and issues the code; deny answers `access_denied` to the client (RFC 6749
 * §4.1.2.1). Both require the session the interaction was logged in with.
 */
export function registerConsent(app: FastifyInstance, ctx: InteractionContext, prefix: string): void {
  const { services } = ctx;
  const url = `${prefix}${ENDPOINT_PATHS.consent}`;

  async function pending(request: FastifyRequest): Promise<Pending | undefined> {
    const interaction = await ctx.interactions.get(
      readCookie(request.headers.cookie, ctx.cookies.interaction),
    );
    if (interaction?.login == null) return undefined;
    const session = await ctx.sessions.current(readCookie(request.headers.cookie, ctx.cookies.session));
    if (session?.sid !== interaction.login.sid || session.sub !== interaction.login.sub) return undefined;
    const client = await services.clients.get(interaction.request.clientId);
    return client === undefined ? undefined : { interaction, client, session };
  }

  app.get(url, { errorHandler: pageErrorHandler }, async (request, reply) => {
    const found = await pending(request);
    if (found === undefined) return sendPage(reply, expiredPage(ctx));
    return sendOutcome(reply, await consentOutcome(ctx, found.client, found.interaction), 303);
  });

  app.post(url, { errorHandler: pageErrorHandler }, async (request, reply) => {
    const found = await pending(request);
    if (found === undefined) return sendPage(reply, expiredPage(ctx));
    const { interaction, client, session } = found;
    const form = request.form ?? {};
    const base = {
      sub: session.sub,
      clientId: client.clientId,
      sourceIp: sourceIpOf(request),
      requestId: request.id,
    } as const;
    if (!csrfMatches(interaction.csrf, form['csrf'])) {
      audit(services.deps, { action: 'csrf.refuse', outcome: 'failure', ...base, reason: 'consent' });
      return sendPage(reply, errorPage('ERR_OAUTH_CSRF_INVALID', 403));
    }
    const decision = form['decision'];
    if (decision === 'deny') {
      if (!(await ctx.interactions.finish(interaction))) return sendPage(reply, expiredPage(ctx));
      audit(services.deps, { action: 'consent.deny', outcome: 'failure', ...base });
      const location = errorRedirect(ctx, interaction.request, new GatehouseError('ERR_OAUTH_ACCESS_DENIED'));
      return sendOutcome(
        reply,
        { kind: 'redirect', location, cookies: [clearCookie(ctx.cookies, ctx.cookies.interaction)] },
        303,
      );
    }
    if (decision !== 'approve') return sendPage(reply, errorPage('ERR_OAUTH_INVALID_REQUEST'));
    await saveConsent(ctx, session.sub, interaction.request);
    audit(services.deps, {
      action: 'consent.grant',
      outcome: 'success',
      ...base,
      details: { scope: interaction.request.scopes.join(' ') },
    });
    const outcome = await decide(ctx, request, client, interaction.request, session, {
      afterLogin: true,
      afterConsent: true,
      interaction,
    });
    return sendOutcome(reply, outcome, 303);
  });
}
