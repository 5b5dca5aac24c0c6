import { randomToken } from '@gatehouse/core';
import { audit } from '../audit.js';
import type { AuthServerServices } from '../services.js';
import type { Session, SessionStore } from '../interaction/session-store.js';
import { revokeAndAnnounce } from '../tokens/revocation-events.js';
import { revokeGrantWithin } from '../tokens/revoke-tokens.js';

/** OIDC Back-Channel Logout 1.0 §2.4 event member. */
export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** Lifetime of a logout token: long enough for delivery, short enough to be useless later. */
const LOGOUT_TOKEN_TTL_SEC = 120;

export interface EndSessionContext {
  readonly services: AuthServerServices;
  readonly sessions: SessionStore;
}

export interface EndSessionOptions {
  readonly reason: 'logout' | 'replaced';
  readonly clientId?: string | undefined;
  readonly sourceIp?: string | undefined;
  readonly requestId?: string | undefined;
}

/**
 * Ends a login session everywhere: the session row, every grant issued in it (refresh families and
 * their access tokens, RFC 7009 §2.1 spirit), a `{sid}` revocation event for caches, and a
 * back-channel logout notification to each client of the session that registered a URI. The
 * notifications are sent in the background: a slow or failing client never blocks the user.
 */
export async function endSession(
  ctx: EndSessionContext,
  session: Session,
  options: EndSessionOptions,
): Promise<void> {
  const { deps } = ctx.services;
  // One transaction: the session ends only together with every token family issued in it (jti
  // events per token) and its `{sid}` event, so a crash halfway leaves neither a live refresh
  // token of an ended session nor a revocation that gateways never hear of.
  const ended = await revokeAndAnnounce(deps, async (db, announce) => {
    if (!(await ctx.sessions.end(session.sid, db))) return false;
    const grants = await db
      .selectFrom('grants')
      .select('grant_id')
      .where('sid', '=', session.sid)
      .where('revoked_at', 'is', null)
      .execute();
    const at = deps.now();
    for (const { grant_id: grantId } of grants) await revokeGrantWithin(db, announce, grantId, 'logout', at);
    announce({ sid: session.sid });
    return true;
  });
  if (!ended) return;
  const clientIds = await ctx.sessions.clientsOf(session.sid);
  audit(deps, {
    action: 'logout',
    outcome: 'success',
    sub: session.sub,
    clientId: options.clientId,
    sourceIp: options.sourceIp,
    requestId: options.requestId,
    reason: options.reason,
    details: { clients: clientIds.length },
  });
  void notifyClients(ctx.services, session, clientIds);
}

async function notifyClients(
  services: AuthServerServices,
  session: Session,
  clientIds: readonly string[],
): Promise<void> {
  await Promise.all(
    clientIds.map(async (clientId) => {
      try {
        const client = await services.clients.get(clientId);
        if (client?.backchannelLogoutUri == null) return;
        await sendLogoutToken(services, client.clientId, client.backchannelLogoutUri, session);
      } catch (err) {
        services.deps.logger.error({ err, clientId }, 'back-channel logout could not be prepared');
      }
    }),
  );
}

/** OIDC Back-Channel Logout 1.0 §2.4-2.5: a signed logout token POSTed as `logout_token`. */
async function sendLogoutToken(
  services: AuthServerServices,
  clientId: string,
  uri: string,
  session: Session,
): Promise<void> {
  const { deps } = services;
  const iat = Math.floor(deps.now() / 1000);
  const { jwt } = await services.keys.sign(
    {
      iss: deps.config.issuer,
      sub: session.sub,
      aud: clientId,
      iat,
      exp: iat + LOGOUT_TOKEN_TTL_SEC,
      jti: randomToken(16),
      sid: session.sid,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    },
    'logout+jwt',
  );
  let reason: string | undefined;
  try {
    const response = await fetch(uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: jwt }).toString(),
      // §2.5: the RP answers 200 (or 204); a redirect is not followed.
      redirect: 'manual',
      signal: AbortSignal.timeout(deps.config.login.backchannelLogoutTimeoutMs),
    });
    await response.body?.cancel();
    if (response.status !== 200 && response.status !== 204) reason = `status_${response.status}`;
  } catch (err) {
    reason = (err as { name?: string }).name === 'TimeoutError' ? 'timeout' : 'unreachable';
  }
  if (reason !== undefined) deps.logger.warn({ clientId, reason }, 'back-channel logout failed');
  audit(deps, {
    action: 'logout.backchannel',
    outcome: reason === undefined ? 'success' : 'failure',
    sub: session.sub,
    clientId,
    reason,
  });
}
