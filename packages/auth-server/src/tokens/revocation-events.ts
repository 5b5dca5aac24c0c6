import { REVOCATION_CHANNEL, type AuthServerDeps } from '../context.js';

/**
 * What is published on the revocation channel when something is revoked, so gateways and guard
 * verifiers evict cached results at once (guard `RevocationTarget` shapes, plus `kid` for a
 * compromised key and `grantId` for a whole token family).
 */
export type RevocationEvent =
  | { readonly jti: string; readonly exp: number }
  | { readonly sid: string }
  | { readonly sub: string; readonly issuedBefore: number }
  | { readonly kid: string };

export async function publishRevocation(
  deps: Pick<AuthServerDeps, 'state' | 'logger'>,
  event: RevocationEvent,
): Promise<void> {
  try {
    await deps.state.publish(REVOCATION_CHANNEL, JSON.stringify(event));
  } catch (err) {
    // The revocation itself is already durable in the database; introspection and the jti list
    // still refuse the token. Only the push to caches failed: log it loudly.
    deps.logger.error({ err }, 'revocation event could not be published');
  }
}
