function decodeComponent(text: string): string | undefined {
  // application/x-www-form-urlencoded (WHATWG URL §5.1): '+' is a space.
  const spaced = text.includes('+') ? text.replaceAll('+', ' ') : text;
  if (!spaced.includes('%')) return spaced;
  try {
    return decodeURIComponent(spaced);
  } catch {
    return undefined;
  }
}

/**
 * Parses a raw query string (no leading `?`) like `URLSearchParams`, keeping every value of a repeated
 * name (form style, explode: the OpenAPI default). Unlike `URLSearchParams`, a malformed escape or
 * invalid UTF-8 gives `undefined` instead of being passed on half-decoded.
 */
export function parseQuery(query: string): Map<string, string[]> | undefined {
  const result = new Map<string, string[]>();
  if (query === '') return result;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeComponent(eq === -1 ? pair : pair.slice(0, eq));
    const value = eq === -1 ? '' : decodeComponent(pair.slice(eq + 1));
    if (name === undefined || value === undefined) return undefined;
    const values = result.get(name);
    if (values === undefined) result.set(name, [value]);
    else values.push(value);
  }
  return result;
}
