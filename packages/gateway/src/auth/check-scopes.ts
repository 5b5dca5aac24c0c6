/**
 * Coarse authorization at the edge: true when every required scope was granted (RFC 6749 §3.3
 * scopes are opaque strings, compared exactly). No required scope means any valid token passes.
 */
export function checkScopes(granted: ReadonlySet<string>, required: readonly string[]): boolean {
  for (const scope of required) if (!granted.has(scope)) return false;
  return true;
}
