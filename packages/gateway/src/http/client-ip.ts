import { isIP } from 'node:net';
import { normalizeIp, type IpSet } from '../net/ip-set.js';

/**
 * The client address: the socket peer, unless the peer is a trusted proxy. Then `X-Forwarded-For` is walked
 * from the right (each proxy appends the peer it saw), skipping trusted hops: the first untrusted address is
 * the client. Entries left of it are client-supplied and never believed, so a spoofed header cannot move a
 * client into another rate-limit or ban bucket. A malformed entry stops the walk at the last trusted hop.
 * Node joins repeated `X-Forwarded-For` headers with `, `, in order.
 */
export function resolveClientIp(socketIp: string, xForwardedFor: string | undefined, trusted: IpSet): string {
  let client = normalizeIp(socketIp);
  if (xForwardedFor === undefined || !trusted.contains(client)) return client;
  let end = xForwardedFor.length;
  for (;;) {
    const comma = end === 0 ? -1 : xForwardedFor.lastIndexOf(',', end - 1);
    const entry = xForwardedFor.slice(comma + 1, end).trim();
    if (isIP(entry) === 0) return client;
    const hop = normalizeIp(entry);
    if (!trusted.contains(hop)) return hop;
    client = hop;
    if (comma < 0) return client; // every hop trusted: the leftmost is as far as we can see
    end = comma;
  }
}
