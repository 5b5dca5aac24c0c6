/**
 * The auth server's revocation channel on the shared state. A copy of `REVOCATION_CHANNEL` from
 * `@gatehouse/auth-server` (a dev dependency only: the gateway runs without it); a test checks that
 * both stay equal.
 */
export const REVOCATION_CHANNEL = 'revocations';

/**
 * What the auth server publishes when something is revoked (its `RevocationEvent`): one token by
 * `jti` (with its `exp`, epoch seconds), a session by `sid`, every token of a subject issued at or
 * before `issuedBefore`, or every token signed by a compromised key `kid`.
 */
export type RevocationEvent =
  | { readonly jti: string; readonly exp: number | undefined }
  | { readonly sid: string }
  | { readonly sub: string; readonly issuedBefore: number }
  | { readonly kid: string };

const MAX_ID_LENGTH = 1024;

const isId = (value: unknown): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH;
const isSeconds = (value: unknown): value is number =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

/**
 * Parses an event defensively: the channel is shared, so anything that is not exactly one known
 * shape is ignored (undefined) rather than trusted.
 */
export function parseRevocationEvent(message: string): RevocationEvent | undefined {
  if (message.length > 4 * MAX_ID_LENGTH) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const event = value as Record<string, unknown>;
  const kinds = ['jti', 'sid', 'sub', 'kid'].filter((name) => Object.hasOwn(event, name));
  if (kinds.length !== 1) return undefined;
  if (isId(event['jti'])) {
    const exp = event['exp'];
    if (exp !== undefined && !isSeconds(exp)) return undefined;
    return { jti: event['jti'], exp };
  }
  if (isId(event['sid'])) return { sid: event['sid'] };
  if (isId(event['sub'])) {
    const issuedBefore = event['issuedBefore'];
    return isSeconds(issuedBefore) ? { sub: event['sub'], issuedBefore } : undefined;
  }
  if (isId(event['kid'])) return { kid: event['kid'] };
  return undefined;
}
