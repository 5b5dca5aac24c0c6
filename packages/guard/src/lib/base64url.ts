/**
 * Strict base64url (RFC 7515 §2, RFC 4648 §5): no padding, no whitespace, no characters outside the
 * alphabet and no stray bits in the last character (RFC 4648 §3.5 canonical encoding). Node's decoder
 * is lenient, so a segment is accepted only when re-encoding the bytes gives back the same text.
 */
export function decodeBase64UrlStrict(segment: string): Buffer | undefined {
  const bytes = Buffer.from(segment, 'base64url');
  return bytes.toString('base64url') === segment ? bytes : undefined;
}
