import {
  ERROR_CODES,
  GatehouseError,
  isGatehouseError,
  toErrorResponse,
  type ErrorCode,
  type ErrorCodeInfo,
} from '@gatehouse/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { audit } from '../audit.js';
import type { Client } from '../clients/client.js';
import { createAuthorizationCode } from '../grants/authorization-code-store.js';
import { sourceIpOf } from '../http/create-app.js';
import { verifyIdTokenHint } from '../oidc/id-token-hint.js';
import { authorizationResponseUrl, type AuthorizationRequest } from './authorization-request.js';
import type { InteractionContext } from './context.js';
import { clearCookie, serializeCookie } from './cookies.js';
import { consentPage, cspSourceOf, loginPage, messagePage, sendPage, type Page } from './html.js';
import type { Interaction, InteractionLogin } from './interaction-store.js';
import type { Session } from './session-store.js';

/** What an interaction step answers: a redirect (to the client or our next page) or a page. */
export type Outcome =
  | { readonly kind: 'redirect'; readonly location: string; readonly cookies: readonly string[] }
  | { readonly kind: 'page'; readonly page: Page };

/** The public reason of each refusal shown on a page (never request data). */
const PAGE_MESSAGES: Partial<Record<ErrorCode, string>> = {
  ERR_OAUTH_INVALID_REQUEST:
    'The application sent an invalid sign-in request (unknown application or redirect address). Nothing was sent back to it.',
  ERR_OAUTH_INVALID_REQUEST_URI:
    'The sign-in request has expired or was already used. Return to the application and start again.',
  ERR_OAUTH_CSRF_INVALID: 'The form could not be verified. Return to the application and start again.',
};

export function errorPage(code: ErrorCode, status = 400, cookies: readonly string[] = []): Page {
  return {
    status,
    title: 'Sign-in cannot continue',
    body: messagePage(PAGE_MESSAGES[code] ?? 'The request cannot be processed.'),
    cookies,
  };
}

/** A page for a pending interaction that no longer exists (expired, finished, other browser). */
export function expiredPage(ctx: InteractionContext): Page {
  return {
    status: 400,
    title: 'Sign-in expired',
    body: messagePage('This sign-in page has expired. Return to the application and start again.'),
    cookies: [clearCookie(ctx.cookies, ctx.cookies.interaction)],
  };
}

/**
 * Route error handler of the browser-facing endpoints: a page, never JSON and never a redirect;
 * a bad form body (RFC 6749 §3.1 repeated parameter) is a 400 page, a store that is down a 503
 * page with `Retry-After` (RFC 9110 §10.2.3: nothing was done, the same form can be sent again),
 * anything unexpected a 500 page without detail (the detail goes to the log).
 */
export function pageErrorHandler(err: unknown, request: FastifyRequest, reply: FastifyReply): void {
  const status = isGatehouseError(err)
    ? err.status
    : ((err as { statusCode?: unknown }).statusCode as number | undefined);
  if (typeof status === 'number' && status >= 400 && status < 500) {
    request.log.info({ code: isGatehouseError(err) ? err.code : undefined }, 'request refused');
    void sendPage(reply, errorPage('ERR_OAUTH_INVALID_REQUEST', 400));
    return;
  }
  request.log.error({ err }, 'request failed');
  if (isGatehouseError(err) && err.status === 503) {
    const info: ErrorCodeInfo = ERROR_CODES[err.code];
    const { retryAfterSec } = info;
    void sendPage(reply, {
      status: 503,
      title: 'Temporarily unavailable',
      body: messagePage('Sign-in is temporarily unavailable. Please try again in a moment.'),
      headers: retryAfterSec === undefined ? {} : { 'retry-after': String(retryAfterSec) },
    });
    return;
  }
  void sendPage(reply, {
    status: 500,
    title: 'Something went wrong',
    body: messagePage('The server could not complete the request. Please try again later.'),
  });
}

export function sendOutcome(reply: FastifyReply, outcome: Outcome, status: 302 | 303): FastifyReply {
  if (outcome.kind === 'page') return sendPage(reply, outcome.page);
  if (outcome.cookies.length > 0) void reply.header('set-cookie', outcome.cookies);
  return reply.code(status).header('location', outcome.location).send();
}

/** RFC 6749 §4.1.2.1 error response to the redirect URI, with `state` and RFC 9207 `iss`. */
export function errorRedirect(
  ctx: InteractionContext,
  target: { readonly redirectUri: string; readonly state: string | null },
  err: GatehouseError,
): string {
  const response = toErrorResponse(err, { role: 'authorization-server' });
  const body = JSON.parse(response.body) as { error?: string; error_description?: string };
  return authorizationResponseUrl(target.redirectUri, ctx.services.deps.config.issuer, {
    error: body.error ?? 'server_error',
    error_description: body.error_description ?? null,
    state: target.state,
  });
}

export function auditRefusal(
  ctx: InteractionContext,
  request: FastifyRequest,
  clientId: string | undefined,
  err: unknown,
  sub?: string,
): void {
  audit(ctx.services.deps, {
    action: 'authorization.refuse',
    outcome: 'failure',
    sub,
    clientId,
    sourceIp: sourceIpOf(request),
    requestId: request.id,
    reason: isGatehouseError(err) ? err.code : 'error',
  });
}

function formTarget(request: AuthorizationRequest): string | undefined {
  return cspSourceOf(request.redirectUri);
}

export function loginOutcome(
  ctx: InteractionContext,
  client: Client,
  interaction: Interaction,
  status = 200,
  error?: string,
  headers?: Readonly<Record<string, string>>,
): Outcome {
  return {
    kind: 'page',
    page: {
      status,
      title: 'Sign in',
      body: loginPage({
        action: ctx.services.endpoints.login,
        csrf: interaction.csrf,
        clientName: client.name,
        error,
      }),
      formTarget: formTarget(interaction.request),
      cookies: [interactionCookie(ctx, interaction)],
      ...(headers === undefined ? {} : { headers }),
    },
  };
}

export async function consentOutcome(
  ctx: InteractionContext,
  client: Client,
  interaction: Interaction,
): Promise<Outcome> {
  const login = interaction.login as InteractionLogin;
  const user = await ctx.users.get(login.sub);
  return {
    kind: 'page',
    page: {
      status: 200,
      title: 'Allow access?',
      body: consentPage({
        action: ctx.services.endpoints.consent,
        csrf: interaction.csrf,
        clientName: client.name,
        username: user?.username ?? '',
        scopes: interaction.request.scopes,
        resource: interaction.request.resource,
      }),
      formTarget: formTarget(interaction.request),
      cookies: [interactionCookie(ctx, interaction)],
    },
  };
}

function interactionCookie(ctx: InteractionContext, interaction: Interaction): string {
  return serializeCookie(
    ctx.cookies,
    ctx.cookies.interaction,
    interaction.id,
    ctx.services.deps.config.login.interactionTtlSec,
  );
}

async function hasConsent(
  ctx: InteractionContext,
  sub: string,
  request: AuthorizationRequest,
): Promise<boolean> {
  const row = await ctx.services.deps.db
    .selectFrom('consents')
    .select('scope')
    .where('sub', '=', sub)
    .where('client_id', '=', request.clientId)
    .executeTakeFirst();
  if (row === undefined) return false;
  const granted = new Set(row.scope.split(' '));
  return request.scopes.every((s) => granted.has(s));
}

/** Remembers a consent (the union with earlier ones), so the next request skips the page. */
export async function saveConsent(
  ctx: InteractionContext,
  sub: string,
  request: AuthorizationRequest,
): Promise<void> {
  const { db, now } = ctx.services.deps;
  const existing = await db
    .selectFrom('consents')
    .select('scope')
    .where('sub', '=', sub)
    .where('client_id', '=', request.clientId)
    .executeTakeFirst();
  const scopes = new Set([...(existing?.scope.split(' ').filter((s) => s !== '') ?? []), ...request.scopes]);
  const scope = [...scopes].join(' ');
  await db
    .insertInto('consents')
    .values({ sub, client_id: request.clientId, scope, granted_at: now() })
    .onConflict((oc) => oc.columns(['sub', 'client_id']).doUpdateSet({ scope, granted_at: now() }))
    .execute();
}

export interface DecideOptions {
  /** The user has just authenticated in this interaction (login requirements are met). */
  readonly afterLogin?: boolean;
  /** The user has just approved (consent requirements are met). */
  readonly afterConsent?: boolean;
  /** The interaction this decision continues, if any. */
  readonly interaction?: Interaction;
}

/**
 * Decides an authorization request (OIDC Core §3.1.2.3-3.1.2.4): login when there is no session,
 * `prompt=login`, `max_age` exceeded or an `id_token_hint` for another user; consent for a
 * third-party client without a remembered consent (or with `prompt=consent`); `prompt=none` turns
 * either need into `login_required` / `consent_required`. Otherwise the code is issued.
 */
export async function decide(
  ctx: InteractionContext,
  request: FastifyRequest,
  client: Client,
  authz: AuthorizationRequest,
  session: Session | undefined,
  options: DecideOptions = {},
): Promise<Outcome> {
  const { deps } = ctx.services;
  let login: InteractionLogin | null =
    session === undefined ? null : { sub: session.sub, sid: session.sid, authTime: session.authTime };

  if (options.afterLogin !== true) {
    let needsLogin = login === null || authz.prompt.includes('login');
    if (login !== null && authz.maxAge !== null && deps.now() - login.authTime > authz.maxAge * 1000)
      needsLogin = true;
    if (authz.idTokenHint !== null) {
      let hintedSub: string;
      try {
        hintedSub = (await verifyIdTokenHint(deps, ctx.services.keys, authz.idTokenHint)).sub;
      } catch (err) {
        auditRefusal(ctx, request, client.clientId, err);
        return redirectOutcome(ctx, errorRedirect(ctx, authz, err as GatehouseError), options);
      }
      // OIDC Core §3.1.2.1: the hinted user must be the one logged in.
      if (login !== null && login.sub !== hintedSub) needsLogin = true;
    }
    if (needsLogin) {
      if (authz.prompt.includes('none')) {
        const err = new GatehouseError('ERR_OAUTH_LOGIN_REQUIRED');
        auditRefusal(ctx, request, client.clientId, err);
        return redirectOutcome(ctx, errorRedirect(ctx, authz, err), options);
      }
      const interaction = options.interaction ?? (await ctx.interactions.start(authz, null));
      return loginOutcome(ctx, client, interaction);
    }
  }
  if (login === null) login = options.interaction?.login ?? null;
  if (login === null) return { kind: 'page', page: errorPage('ERR_OAUTH_INVALID_REQUEST') };

  if (options.afterConsent !== true && !client.firstParty) {
    const needsConsent = authz.prompt.includes('consent') || !(await hasConsent(ctx, login.sub, authz));
    if (needsConsent) {
      if (authz.prompt.includes('none')) {
        const err = new GatehouseError('ERR_OAUTH_CONSENT_REQUIRED');
        auditRefusal(ctx, request, client.clientId, err, login.sub);
        return redirectOutcome(ctx, errorRedirect(ctx, authz, err), options);
      }
      if (options.interaction !== undefined) {
        // After a login (a POST): show consent with a GET of its own (post/redirect/get).
        const updated: Interaction = { ...options.interaction, login };
        await ctx.interactions.update(updated);
        return { kind: 'redirect', location: ctx.services.endpoints.consent, cookies: [] };
      }
      return consentOutcome(ctx, client, await ctx.interactions.start(authz, login));
    }
  }
  if (options.interaction !== undefined && !(await ctx.interactions.finish(options.interaction))) {
    return { kind: 'page', page: expiredPage(ctx) };
  }
  return redirectOutcome(ctx, await issueCode(ctx, request, client, authz, login), options);
}

function redirectOutcome(ctx: InteractionContext, location: string, options: DecideOptions): Outcome {
  const cookies =
    options.interaction === undefined ? [] : [clearCookie(ctx.cookies, ctx.cookies.interaction)];
  return { kind: 'redirect', location, cookies };
}

/** Issues the authorization code and builds the success response (RFC 6749 §4.1.2, RFC 9207). */
async function issueCode(
  ctx: InteractionContext,
  request: FastifyRequest,
  client: Client,
  authz: AuthorizationRequest,
  login: InteractionLogin,
): Promise<string> {
  const { deps } = ctx.services;
  const code = await createAuthorizationCode(deps, {
    client,
    sub: login.sub,
    redirectUri: authz.redirectUri,
    scopes: authz.scopes,
    resource: authz.resource,
    codeChallenge: authz.codeChallenge,
    nonce: authz.nonce,
    sid: login.sid,
    authTime: login.authTime,
    dpopJkt: authz.dpopJkt,
  });
  await ctx.sessions.addClient(login.sid, client.clientId);
  audit(deps, {
    action: 'authorization.code',
    outcome: 'success',
    sub: login.sub,
    clientId: client.clientId,
    sourceIp: sourceIpOf(request),
    requestId: request.id,
    details: { scope: authz.scopes.join(' ') },
  });
  return authorizationResponseUrl(authz.redirectUri, deps.config.issuer, { code, state: authz.state });
}
