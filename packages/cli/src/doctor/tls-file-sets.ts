import { dirname, resolve } from 'node:path';
import type { TlsListenerConfig } from '@gatehouse/core';
import type { Deployment } from '../config/load-deployment.js';

/** The certificate, key and CA files one setting of the configuration names, paths absolute. */
export interface TlsFileSet {
  /** Where in the configuration (`gateway.listen.tls`, `gateway.upstreams.accounts.tls`). */
  readonly setting: string;
  readonly cert?: string | undefined;
  readonly key?: string | undefined;
  readonly ca?: string | undefined;
  /** A listener's block as configured: checked once more exactly as the listener loads it. */
  readonly listener?: TlsListenerConfig;
}

/**
 * Every TLS file of the deployment: the five listeners (docs/tls.md), the gateway's client
 * certificates and pinned CAs for its upstreams, and the partner CA of the authorization server
 * (RFC 8705 `tls_client_auth`). Relative paths are relative to the configuration file's folder,
 * as the components resolve them.
 */
export function tlsFileSets(deployment: Deployment): TlsFileSet[] {
  const { config } = deployment;
  const baseDir = dirname(deployment.file);
  const path = (file: string | undefined): string | undefined =>
    file === undefined ? undefined : resolve(baseDir, file);
  const sets: TlsFileSet[] = [];
  const listener = (setting: string, tls: TlsListenerConfig | undefined): void => {
    if (tls === undefined) return;
    sets.push({
      setting,
      cert: path(tls.certFile),
      key: path(tls.keyFile),
      ca: path(tls.caFile),
      listener: tls,
    });
  };
  listener('authServer.listen.tls', config.authServer.listen.tls);
  listener('admin.listen.tls', config.admin.listen.tls);
  if (config.authServer.mtls.caFile !== undefined) {
    sets.push({ setting: 'authServer.mtls.caFile', ca: path(config.authServer.mtls.caFile) });
  }
  const gateway = config.gateway;
  if (gateway !== undefined) {
    listener('gateway.listen.tls', gateway.listen.tls);
    listener('gateway.admin.listen.tls', gateway.admin.listen.tls);
    for (const [id, upstream] of Object.entries(gateway.upstreams)) {
      const tls = upstream.tls;
      if (tls === undefined) continue;
      sets.push({
        setting: `gateway.upstreams.${id}.tls`,
        cert: path(tls.certFile),
        key: path(tls.keyFile),
        ca: path(tls.caFile),
      });
    }
  }
  listener('bff.listen.tls', config.bff?.listen.tls);
  return sets;
}
