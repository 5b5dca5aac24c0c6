import type * as X509 from '@peculiar/x509';

let loaded: Promise<typeof X509> | undefined;

/**
 * `@peculiar/x509` on demand. It resolves its algorithms through tsyringe, which needs the Reflect
 * metadata polyfill before it loads; importing both lazily keeps that global polyfill and the ASN.1
 * stack out of every process that imports @gatehouse/core without issuing certificates.
 */
export function loadX509(): Promise<typeof X509> {
  loaded ??= import('reflect-metadata').then(() => import('@peculiar/x509'));
  return loaded;
}
