import type { CertificateInfo } from '../tls/describe-certificate.js';
import type { MetricsRegistry } from './metric-types.js';

/** Sets the series of `listener` to the certificate it serves now: call it at start and at each reload. */
export type RecordCertificateExpiry = (listener: string, info: CertificateInfo) => void;

/**
 * Adds `gatehouse_tls_certificate_expiry_seconds{listener}` to a registry without prefix: the one
 * definition every component with TLS listeners shares (the gateway's and the auth server's
 * `/metrics`), so one alert rule covers them all. Listener labels are fixed by the code
 * (`gateway`, `issuer`, `admin`): a bounded set.
 */
export function registerCertificateExpiryGauge(registry: MetricsRegistry): RecordCertificateExpiry {
  // A timestamp, as blackbox_exporter's probe_ssl_earliest_cert_expiry: it changes only when the
  // certificate does, and the alert is `gatehouse_tls_certificate_expiry_seconds - time() < 14 * 86400`.
  const expiry = registry.gauge({
    name: 'gatehouse_tls_certificate_expiry_seconds',
    help: 'Expiry time (notAfter, Unix seconds) of the certificate a TLS listener serves, by listener',
    labelNames: ['listener'],
  });
  return (listener, info) => {
    expiry.set([listener], info.notAfter.getTime() / 1000);
  };
}
