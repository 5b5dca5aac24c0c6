import { createRsyslogDaemon, type Rsyslog, type RsyslogPki } from './rsyslog-daemon.js';

/**
 * rsyslog receiving RELP (Debian `rsyslog` + `rsyslog-relp`): three imrelp listeners (plain, `tls="on"`,
 * `tls="on"` with `tls.authMode="certvalid"`), librelp with OpenSSL for TLS. The ruleset queue is
 * `Direct`: imrelp answers `200 OK` only after the message went through the ruleset, i.e. after
 * omfile wrote it — the receiver setup under which a RELP acknowledgement survives a crash of
 * rsyslog (an in-memory queue would not). On SIGTERM rsyslog answers what it has, sends
 * `serverclose` and exits.
 */
export function createRsyslogRelp(dir: string, pki: RsyslogPki): Promise<Rsyslog> {
  const tls = [
    'tls="on"',
    `tls.caCert="${pki.caFile}"`,
    `tls.myCert="${pki.serverCertFile}"`,
    `tls.myPrivKey="${pki.serverKeyFile}"`,
  ].join(' ');
  return createRsyslogDaemon(dir, {
    name: 'rsyslog-relp',
    packages: 'rsyslog-relp',
    ruleset: 'queue.type="Direct"',
    listen: ({ plainPort, tlsPort, mtlsPort }) => [
      `global(workDirectory="${dir}" maxMessageSize="64k")`,
      'module(load="imrelp" tls.tlsLib="openssl")',
      `input(type="imrelp" name="plain" address="127.0.0.1" port="${plainPort}" ruleset="sinks")`,
      `input(type="imrelp" name="tls" address="127.0.0.1" port="${tlsPort}" ruleset="sinks" ${tls})`,
      `input(type="imrelp" name="mtls" address="127.0.0.1" port="${mtlsPort}" ruleset="sinks" ${tls}`,
      '  tls.authMode="certvalid")',
    ],
  });
}
