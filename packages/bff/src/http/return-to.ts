const BASE = 'https://bff.invalid';
const MAX_LENGTH = 2048;

/**
 * The post-login return path, or undefined when it is not a same-origin relative path (OWASP
 * Unvalidated Redirects; RFC 9700 §4.11). Refused: scheme-relative `//host`, `/\host` (browsers
 * treat `\` as `/`), absolute URLs, control characters and whitespace (stripped by URL parsers, so
 * `/\t/evil` becomes `//evil`), and anything the URL parser resolves to another origin.
 */
export function safeReturnTo(value: unknown): string | undefined {
  if (value === undefined) return '/';
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return undefined;
  if (!value.startsWith('/') || value.startsWith('//')) return undefined;
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\\\s\u0000-\u001f\u007f]/.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(value, BASE);
  } catch {
    return undefined;
  }
  if (url.origin !== BASE) return undefined;
  const path = `${url.pathname}${url.search}${url.hash}`;
  // After dot-segment removal the path must still be relative to our origin only.
  return path.startsWith('//') ? undefined : path;
}
