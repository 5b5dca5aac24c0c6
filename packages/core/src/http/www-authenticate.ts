/**
 * `WWW-Authenticate` challenges for bearer-style schemes (RFC 6750 §3, RFC 9449 §7.1).
 *
 * RFC 6750 §3 restricts `error`, `error_description` and `scope` to a subset of visible ASCII without
 * `"` or `\`, so values are checked rather than escaped; `realm` is an RFC 9110 §11.2 quoted-string
 * and is escaped.
 */

export interface ChallengeOptions {
  /** `Bearer` (RFC 6750) or `DPoP` (RFC 9449). */
  readonly scheme: 'Bearer' | 'DPoP';
  readonly realm?: string;
  readonly error?: string;
  readonly errorDescription?: string;
  /** Scopes the resource needs (RFC 6750 §3: space-delimited). */
  readonly scope?: readonly string[];
  /** RFC 9449 §7.1: the JWS algorithms accepted for DPoP proofs. */
  readonly algs?: readonly string[];
}

// RFC 6750 §3: error / error_description = *( %x20-21 / %x23-5B / %x5D-7E )
const DESCRIPTION_CHARS = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
// RFC 6750 §3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

function checked(name: string, value: string, pattern: RegExp): string {
  if (!pattern.test(value)) throw new TypeError(`${name} has characters RFC 6750 §3 does not allow`);
  return value;
}

function quote(value: string): string {
  // RFC 9110 §5.6.4 quoted-string: escape DQUOTE and backslash; refuse controls.
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) throw new TypeError('realm has control characters');
  }
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** Builds one challenge, e.g. `Bearer realm="api", error="invalid_token"`. */
export function buildWwwAuthenticate(options: ChallengeOptions): string {
  const params: string[] = [];
  if (options.realm !== undefined) params.push(`realm=${quote(options.realm)}`);
  if (options.error !== undefined) {
    params.push(`error="${checked('error', options.error, DESCRIPTION_CHARS)}"`);
  }
  if (options.errorDescription !== undefined) {
    const text = checked('error_description', options.errorDescription, DESCRIPTION_CHARS);
    params.push(`error_description="${text}"`);
  }
  if (options.scope !== undefined && options.scope.length > 0) {
    const scope = options.scope.map((s) => checked('scope', s, SCOPE_TOKEN)).join(' ');
    params.push(`scope="${scope}"`);
  }
  if (options.algs !== undefined && options.algs.length > 0) {
    const algs = options.algs.map((a) => checked('algs', a, SCOPE_TOKEN)).join(' ');
    params.push(`algs="${algs}"`);
  }
  return params.length === 0 ? options.scheme : `${options.scheme} ${params.join(', ')}`;
}
