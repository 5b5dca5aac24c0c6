import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevCa, type DevCa } from '@gatehouse/core';
import type { GatewayConfigInput } from '../../src/index.js';
import {
  startRecordingUpstream,
  type RecordingUpstream,
  type RecordingUpstreamOptions,
} from './recording-upstream.js';
import { startGateway, type StartGatewayOptions, type StartedGateway } from './start-gateway.js';

const routes = [{ id: 'api', match: { pathPrefix: '/api' }, upstream: 'app', auth: 'none' as const }];

/** PEM files in a temporary folder, replaced the way renewal tools do (temp file, then rename). */
export function writePem(dir: string, name: string, content: string): void {
  writeFileSync(join(dir, `${name}.tmp`), content);
  renameSync(join(dir, `${name}.tmp`), join(dir, name));
}

/** A gateway over TLS with its own temporary folder, development CA and recording upstream. */
export interface TlsGateway {
  readonly dir: string;
  readonly ca: DevCa;
  readonly upstream: RecordingUpstream;
  readonly gateway: StartedGateway;
  close(): Promise<void>;
}

export async function startTlsGateway(
  name: string,
  tls: { readonly caFile?: string; readonly clientAuth?: 'none' | 'optional' | 'require' } = {},
  config: Partial<Omit<GatewayConfigInput, 'listen' | 'upstreams'>> & {
    readonly listen?: { readonly http2?: boolean };
  } = {},
  options: Omit<StartGatewayOptions, 'baseDir'> & { readonly upstream?: RecordingUpstreamOptions } = {},
): Promise<TlsGateway> {
  const dir = mkdtempSync(join(tmpdir(), `gatehouse-gateway-${name}-`));
  const ca = await createDevCa();
  const server = await ca.issue({
    commonName: 'gateway',
    dns: ['localhost'],
    ip: ['127.0.0.1'],
    usage: 'server',
  });
  writePem(dir, 'ca.pem', ca.certPem);
  writePem(dir, 'gateway.pem', server.certPem);
  writePem(dir, 'gateway-key.pem', server.keyPem);
  const { upstream: upstreamOptions, ...gatewayOptions } = options;
  const upstream = await startRecordingUpstream(upstreamOptions);
  const { listen, ...rest } = config;
  const gateway = await startGateway(
    {
      listen: {
        host: '127.0.0.1',
        port: 0,
        tls: { certFile: 'gateway.pem', keyFile: 'gateway-key.pem', ...tls },
        ...listen,
      },
      upstreams: { app: { targets: [upstream.url] } },
      routes,
      ...rest,
    },
    { ...gatewayOptions, baseDir: dir },
  );
  return {
    dir,
    ca,
    upstream,
    gateway,
    async close() {
      await gateway.close();
      await upstream.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
