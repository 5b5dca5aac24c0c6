import { createRsyslogDaemon, type Rsyslog, type RsyslogPki } from './rsyslog-daemon.js';

/**
 * rsyslog receiving syslog over TCP: three imtcp listeners (plain TCP, TLS with `authMode anon`,
 * TLS with client certificates, `x509/certvalid`) through the openssl netstream driver. On SIGTERM
 * rsyslog drains its queue to the file before it exits.
 */
export function createRsyslog(dir: string, pki: RsyslogPki): Promise<Rsyslog> {
  return createRsyslogDaemon(dir, {
    name: 'rsyslog',
    packages: 'rsyslog-openssl',
    listen: ({ plainPort, tlsPort, mtlsPort }) => [
      `global(workDirectory="${dir}" maxMessageSize="64k"`,
      `  defaultNetstreamDriverCAFile="${pki.caFile}"`,
      `  defaultNetstreamDriverCertFile="${pki.serverCertFile}"`,
      `  defaultNetstreamDriverKeyFile="${pki.serverKeyFile}")`,
      'module(load="imtcp")',
      `input(type="imtcp" name="plain" address="127.0.0.1" port="${plainPort}" ruleset="sinks"`,
      '  streamDriver.name="ptcp" streamDriver.mode="0")',
      `input(type="imtcp" name="tls" address="127.0.0.1" port="${tlsPort}" ruleset="sinks"`,
      '  streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="anon")',
      `input(type="imtcp" name="mtls" address="127.0.0.1" port="${mtlsPort}" ruleset="sinks"`,
      '  streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")',
    ],
  });
}
