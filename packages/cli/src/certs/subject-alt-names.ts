/** The subject alternative names the development CA issues (RFC 5280 §4.2.1.6). */
export interface SubjectAltNames {
  readonly dns: readonly string[];
  readonly ip: readonly string[];
  readonly uri: readonly string[];
}

export const countSubjectAltNames = (sans: SubjectAltNames): number =>
  sans.dns.length + sans.ip.length + sans.uri.length;

/** `DNS:a, IP:127.0.0.1, URI:spiffe://…` for people (never parsed back). */
export function formatSubjectAltNames(sans: SubjectAltNames): string {
  const all = [
    ...sans.dns.map((name) => `DNS:${name}`),
    ...sans.ip.map((ip) => `IP:${ip}`),
    ...sans.uri.map((uri) => `URI:${uri}`),
  ];
  return all.length === 0 ? '-' : all.join(', ');
}
