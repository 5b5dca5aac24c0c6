const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * RFC 9449 §4.3 step 9: compare `htu` with the request URI without query and fragment, after
 * RFC 3986 §6.2.2 syntax-based and §6.2.3 scheme-based normalisation (case of scheme and host,
 * default port, dot segments, percent-encoding of unreserved characters and hex case).
 * Returns undefined for anything that is not an absolute http(s) URI.
 */
export function normalizeHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  const path = url.pathname.replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => {
    const char = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(char) ? char : `%${hex.toUpperCase()}`;
  });
  return `${url.protocol}//${url.host}${path}`;
}
