import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { audit, auditDurably } from '../audit.js';
import { sourceIpOf } from '../http/create-app.js';
import type { InteractionContext } from '../interaction/context.js';
import { readCookie, serializeCookie } from '../interaction/cookies.js';
import {
  decide,
  errorPage,
  expiredPage,
  loginOutcome,
  pageErrorHandler,
  sendOutcome,
} from '../interaction/flow.js';
import { sendPage } from '../interaction/html.js';
import { csrfMatches, type Interaction } from '../interaction/interaction-store.js';
import { endSession } from '../oidc/logout.js';
import { ENDPOINT_PATHS } from '../services.js';
import { normalizeUsername } from '../users/user-store.js';

const INVALID = 'Invalid username or password.';
const LOCKED = 'Too many failed sign-in attempts. Try again later.';

/**
 * The login form (GET) and its submission (POST): CSRF token bound to the interaction, brute-force
 * throttling per account and per address, the same answer for unknown users and wrong passwords,
 * and a new session cookie at every login (no fixation).
 */
export function registerLogin(app: FastifyInstance, ctx: InteractionContext, prefix: string): void {
  const { services } = ctx;
  const { deps } = services;
  const url = `${prefix}${ENDPOINT_PATHS.login}`;

  async function pending(request: FastifyRequest): Promise<Interaction | undefined> {
    return ctx.interactions.get(readCookie(request.headers.cookie, ctx.cookies.interaction));
  }

  app.get(url, { errorHandler: pageErrorHandler }, async (request, reply) => {
    const interaction = await pending(request);
    const client = interaction && (await services.clients.get(interaction.request.clientId));
    if (interaction === undefined || client === undefined) return sendPage(reply, expiredPage(ctx));
    return sendOutcome(reply, loginOutcome(ctx, client, interaction), 303);
  });

  app.post(url, { errorHandler: pageErrorHandler }, async (request, reply): Promise<FastifyReply> => {
    const interaction = await pending(request);
    const client = interaction && (await services.clients.get(interaction.request.clientId));
    if (interaction === undefined || client === undefined) return sendPage(reply, expiredPage(ctx));
    const form = request.form ?? {};
    const sourceIp = sourceIpOf(request);
    if (!csrfMatches(interaction.csrf, form['csrf'])) {
      audit(deps, {
        action: 'csrf.refuse',
        outcome: 'failure',
        clientId: client.clientId,
        sourceIp,
        requestId: request.id,
        reason: 'login',
      });
      return sendPage(reply, errorPage('ERR_OAUTH_CSRF_INVALID', 403));
    }

    const username = normalizeUsername(form['username'] ?? '');
    const password = form['password'] ?? '';
    const ip = sourceIp ?? 'unknown';
    const status = await ctx.throttle.status(username, ip);
    // Applied before any answer, success included, so timing says nothing about the password.
    if (status.delayMs > 0) await sleep(status.delayMs);
    const auditBase = { clientId: client.clientId, sourceIp, requestId: request.id } as const;
    const lockedAnswer = (until: number): FastifyReply => {
      const retryAfter = String(Math.max(1, Math.ceil((until - deps.now()) / 1000)));
      const page = loginOutcome(ctx, client, interaction, 429, LOCKED, { 'retry-after': retryAfter });
      return sendOutcome(reply, page, 303);
    };

    if (status.lockedUntil !== undefined) {
      await auditDurably(deps, {
        action: 'login.failure',
        outcome: 'failure',
        ...auditBase,
        reason: 'locked',
      });
      return lockedAnswer(status.lockedUntil);
    }

    const user = await ctx.users.verifyCredentials(username, password);
    if (user === undefined) {
      const outcome = await ctx.throttle.recordFailure(username, ip);
      // The account is named in the audit only when it exists (never what was typed).
      const known = await ctx.users.findByUsername(username);
      const target = known === undefined ? undefined : { type: 'user', id: known.sub };
      await auditDurably(deps, {
        action: 'login.failure',
        outcome: 'failure',
        ...auditBase,
        ...(target === undefined ? {} : { target }),
        reason: 'bad_credentials',
        details: { accountFailures: outcome.accountFailures, ipFailures: outcome.ipFailures },
      });
      if (outcome.stuffing !== undefined) {
        await auditDurably(deps, {
          action: 'login.credential_stuffing',
          outcome: 'failure',
          ...auditBase,
          reason: 'distinct_accounts',
          details: { distinctAccounts: outcome.stuffing.distinctAccounts },
        });
      }
      if (outcome.lockedAccount || outcome.lockedIp) {
        await auditDurably(deps, {
          action: 'login.lockout',
          outcome: 'failure',
          ...auditBase,
          ...(target === undefined ? {} : { target }),
          reason: outcome.lockedAccount ? 'account' : outcome.stuffing !== undefined ? 'stuffing' : 'ip',
          details: { account: outcome.lockedAccount, ip: outcome.lockedIp },
        });
        return lockedAnswer(deps.now() + deps.config.login.lockoutSec * 1000);
      }
      return sendOutcome(reply, loginOutcome(ctx, client, interaction, 401, INVALID), 303);
    }

    await ctx.throttle.recordSuccess(username);
    const previous = await ctx.sessions.current(readCookie(request.headers.cookie, ctx.cookies.session));
    if (previous !== undefined && previous.sub !== user.sub) {
      // Another user signs in on this browser: the earlier user's session ends properly.
      await endSession(ctx, previous, { reason: 'replaced', clientId: client.clientId, sourceIp });
    }
    const { session, cookie } = await ctx.sessions.login(user.sub, previous);
    await auditDurably(deps, {
      action: 'login.success',
      outcome: 'success',
      sub: user.sub,
      ...auditBase,
    });
    const sessionCookie = serializeCookie(
      ctx.cookies,
      ctx.cookies.session,
      cookie,
      deps.config.login.sessionTtlSec,
    );
    const outcome = await decide(ctx, request, client, interaction.request, session, {
      afterLogin: true,
      interaction,
    });
    const withCookie =
      outcome.kind === 'redirect'
        ? { ...outcome, cookies: [sessionCookie, ...outcome.cookies] }
        : {
            ...outcome,
            page: { ...outcome.page, cookies: [sessionCookie, ...(outcome.page.cookies ?? [])] },
          };
    // RFC 9700 §4.12: 303 so the browser does not re-post the credentials to the client.
    return sendOutcome(reply, withCookie, 303);
  });
}
