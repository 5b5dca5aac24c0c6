import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promtoolPath, requireService } from '@gatehouse/testing';
import { describe, expect, it } from 'vitest';
import { METRIC_DEFINITIONS } from './metric-definitions.js';

/**
 * deploy/prometheus: the alert rules load (`promtool check rules`), their unit tests pass
 * (`promtool test rules`), every alert has a test, and every series they use is one a Gatehouse
 * component exposes. Without promtool the suite skips with the reason, except under
 * GATEHOUSE_REQUIRE_ALL=1.
 */
const DIR = fileURLToPath(new URL('../../deploy/prometheus/', import.meta.url));
const RULES = 'gatehouse-alerts.yml';
const TESTS = 'gatehouse-alerts.test.yml';

const promtool = await requireService('promtool', 'deploy/prometheus alert rules (promtool)');

const read = (file: string): string => readFileSync(`${DIR}${file}`, 'utf8');
const all = (text: string, pattern: RegExp): string[] => [...text.matchAll(pattern)].map((m) => m[1]!);

function runPromtool(...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(promtoolPath(), args, { cwd: DIR, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe.runIf(promtool.available)('Prometheus alert rules', () => {
  it('promtool check rules accepts the rule file', () => {
    const result = runPromtool('check', 'rules', RULES);
    expect(result.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(result.status).toBe(0);
  });

  it('promtool test rules: each alert fires where it should and stays quiet elsewhere', () => {
    const result = runPromtool('test', 'rules', TESTS);
    expect(result.output).toContain('SUCCESS');
    expect(result.status).toBe(0);
  });

  it('the certificate alerts of issue 9 are there, and every alert has a promtool test', () => {
    const alerts = all(read(RULES), /^\s*- alert: (\w+)$/gm);
    expect(alerts).toEqual(
      expect.arrayContaining(['GatehouseCertificateExpiresSoon', 'GatehouseCertificateExpired']),
    );
    const tested = new Set(all(read(TESTS), /^\s*alertname: (\w+)$/gm));
    expect(alerts.filter((alert) => !tested.has(alert))).toEqual([]);
  });

  it('the auth server alerts of issue 6 are there, on auth server series', () => {
    const rules = read(RULES);
    expect(all(rules, /^\s*- alert: (\w+)$/gm)).toEqual(
      expect.arrayContaining([
        'GatehouseLoginFailureSpike',
        'GatehouseTokenRefusalRatioHigh',
        'GatehouseAuthServerErrors',
      ]),
    );
    for (const series of [
      'gatehouse_auth_logins_total',
      'gatehouse_auth_token_refusals_total',
      'gatehouse_auth_requests_total',
    ])
      expect(rules).toContain(series);
  });

  it('every series a rule uses is one Gatehouse registers', () => {
    const exposed = new Set(
      METRIC_DEFINITIONS.flatMap((file) => all(readFileSync(file, 'utf8'), /name: '(gatehouse_\w+)'/g)),
    );
    expect(exposed).toContain('gatehouse_tls_certificate_expiry_seconds');
    const used = new Set(all(read(RULES), /\b(gatehouse_\w+)/g));
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
  });
});

describe('runbooks', () => {
  it('every alert links a runbook section that exists', () => {
    const rules = read(RULES);
    const alerts = all(rules, /^\s*- alert: (\w+)$/gm);
    const links = all(rules, /runbook_url: (\S+)/g);
    expect(links).toHaveLength(alerts.length);
    for (const link of links) {
      const [file = '', anchor = ''] = link.split('#');
      const page = readFileSync(fileURLToPath(new URL(`../../${file}`, import.meta.url)), 'utf8');
      const headings = all(page, /^#+ (.+)$/gm).map((heading) =>
        heading
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, '')
          .replace(/ /g, '-'),
      );
      expect(headings, link).toContain(anchor);
    }
  });
});
