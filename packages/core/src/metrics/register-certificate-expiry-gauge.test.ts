import { describe, expect, it } from 'vitest';
import { createDevCa } from '../pki/create-dev-ca.js';
import { describeCertificate } from '../tls/describe-certificate.js';
import { createMetricsRegistry } from './create-metrics-registry.js';
import { registerCertificateExpiryGauge } from './register-certificate-expiry-gauge.js';

const DAY_MS = 86_400_000;
const HEADER =
  '# HELP gatehouse_tls_certificate_expiry_seconds Expiry time (notAfter, Unix seconds) of the certificate a TLS listener serves, by listener\n' +
  '# TYPE gatehouse_tls_certificate_expiry_seconds gauge\n';

describe('registerCertificateExpiryGauge', () => {
  it("shows each listener's notAfter in Unix seconds, and the latest certificate after a reload", async () => {
    const ca = await createDevCa();
    const notBefore = new Date(Date.UTC(2030, 0, 1));
    const issue = async (validityDays: number) =>
      describeCertificate(
        (await ca.issue({ commonName: 'localhost', usage: 'server', notBefore, validityDays })).certPem,
      );
    const registry = createMetricsRegistry();
    const record = registerCertificateExpiryGauge(registry);
    // Before any certificate is loaded: HELP and TYPE only.
    expect(registry.render()).toContain(`${HEADER}# HELP gatehouse_metrics_series_dropped_total`);

    const seconds = (days: number): number => (notBefore.getTime() + days * DAY_MS) / 1000;
    record('gateway', await issue(90));
    record('admin', await issue(30));
    expect(registry.render()).toContain(
      `${HEADER}gatehouse_tls_certificate_expiry_seconds{listener="gateway"} ${seconds(90)}\n` +
        `gatehouse_tls_certificate_expiry_seconds{listener="admin"} ${seconds(30)}\n`,
    );
    record('admin', await issue(7));
    expect(registry.render()).toContain(
      `gatehouse_tls_certificate_expiry_seconds{listener="admin"} ${seconds(7)}\n`,
    );
  });

  it('is one definition per registry: a second one is refused', () => {
    const registry = createMetricsRegistry();
    registerCertificateExpiryGauge(registry);
    expect(() => registerCertificateExpiryGauge(registry)).toThrow(/already defined/);
  });
});
