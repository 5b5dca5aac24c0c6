import type { SinkConfigInput } from '@gatehouse/audit';
import type { RsyslogPorts } from './rsyslog-daemon.js';

/** A sink's `tls` settings, as the config file spells them (the same for syslog and relp). */
export type TlsSettings = NonNullable<Extract<SinkConfigInput, { type: 'syslog' }>['tls']>;

/** Which of the receiver's TLS listeners a case connects to (see `RsyslogPorts`). */
export type TlsListener = 'tls' | 'mtls';

/** [what the sink does, listener, tls settings]: each delivers, `input` naming the listener. */
export const tlsDeliveries: [string, TlsListener, TlsSettings][] = [
  ['verifying the server against the configured CA', 'tls', { caFile: 'ca.pem' }],
  [
    'presenting a client certificate to a receiver that requires one',
    'mtls',
    {
      caFile: 'ca.pem',
      certFile: 'client.pem',
      keyFile: 'client-key.pem',
      servername: 'localhost',
      minVersion: 'TLSv1.3',
    },
  ],
];

/** [what the sink meets, listener, tls settings]: each handshake fails (`ERR_AUDIT_SINK_TLS`). */
export const tlsRefusals: [string, TlsListener, TlsSettings][] = [
  ['a server certificate from another CA', 'tls', { caFile: 'other-ca.pem' }],
  ['a server certificate for another name', 'tls', { caFile: 'ca.pem', servername: 'siem.example' }],
  ['no client certificate where one is required', 'mtls', { caFile: 'ca.pem' }],
];

/** The port of a TLS listener. */
export function listenerPort(ports: RsyslogPorts, listener: TlsListener): number {
  return listener === 'tls' ? ports.tlsPort : ports.mtlsPort;
}
