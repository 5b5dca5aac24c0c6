import { registerCertificateExpiryGauge, type CertificateInfo, type MetricsRegistry } from '@gatehouse/core';

/**
 * The authorization server's Prometheus series, served on the admin listener's `/metrics`. Labels
 * come from the code, never from requests: bounded sets.
 */
export interface AuthServerMetrics {
  /** The certificate a TLS listener (`issuer`, `admin`) serves now: on start and on each reload. */
  certificateLoaded(listener: string, info: CertificateInfo): void;
}

export function createAuthServerMetrics(registry: MetricsRegistry): AuthServerMetrics {
  // The same definition as the gateway's, so one alert rule covers both components.
  const recordCertificate = registerCertificateExpiryGauge(registry);
  return { certificateLoaded: recordCertificate };
}
