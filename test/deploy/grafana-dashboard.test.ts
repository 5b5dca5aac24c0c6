import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promtoolPath, requireService } from '@gatehouse/testing';
import { describe, expect, it } from 'vitest';
import { METRIC_DEFINITIONS } from './metric-definitions.js';

/**
 * deploy/grafana: the dashboard is a Grafana dashboard model, every query is valid PromQL (each one is
 * loaded by `promtool check rules` as a recording rule, Grafana's variables replaced by what they
 * expand to), and every series it reads is one a Gatehouse component registers.
 */
const DASHBOARD = fileURLToPath(new URL('../../deploy/grafana/gatehouse-overview.json', import.meta.url));

interface Panel {
  readonly type: string;
  readonly title: string;
  readonly gridPos: { readonly h: number; readonly w: number; readonly x: number; readonly y: number };
  readonly targets?: readonly { readonly expr: string; readonly refId: string }[];
}
interface Dashboard {
  readonly uid: string;
  readonly title: string;
  readonly schemaVersion: number;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly name: string }[] };
}

const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const queries = dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));

/** What Grafana substitutes before the query reaches Prometheus. */
const expand = (expr: string): string =>
  expr.replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1h').replaceAll('$instance', '.*');

const promtool = await requireService('promtool', 'deploy/grafana dashboard queries (promtool)');

describe('Grafana dashboard', () => {
  it('is a dashboard model: uid, title, variables, panels on the 24-column grid with queries', () => {
    expect(dashboard.uid).toBe('gatehouse-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(['datasource', 'instance']);
    const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
    expect(panels.length).toBeGreaterThanOrEqual(10);
    for (const panel of panels) {
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      expect(panel.gridPos.x + panel.gridPos.w, panel.title).toBeLessThanOrEqual(24);
    }
    const ids = dashboard.panels.map((panel) => (panel as unknown as { id: number }).id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('has the authorization server row of issue 6, its panels reading the auth server series', () => {
    const row = dashboard.panels.findIndex(
      (panel) => panel.type === 'row' && panel.title === 'Authorization server',
    );
    expect(row).toBeGreaterThan(-1);
    const next = dashboard.panels.findIndex((panel, i) => i > row && panel.type === 'row');
    const panels = dashboard.panels.slice(row + 1, next === -1 ? undefined : next);
    const series = (panel: Panel): string[] =>
      (panel.targets ?? []).flatMap((target) =>
        [...target.expr.matchAll(/\b(gatehouse_auth_\w+)/g)].map((m) => m[1]!),
      );
    expect(Object.fromEntries(panels.map((panel) => [panel.title, [...new Set(series(panel))]]))).toEqual({
      'Auth server requests per second by endpoint': ['gatehouse_auth_requests_total'],
      'Auth server 5xx ratio': ['gatehouse_auth_requests_total'],
      'Auth server latency by endpoint (p99)': ['gatehouse_auth_request_duration_seconds_bucket'],
      'Tokens issued by grant type': ['gatehouse_auth_tokens_issued_total'],
      'Token refusals by error': ['gatehouse_auth_token_refusals_total'],
      'Sign-ins by outcome': ['gatehouse_auth_logins_total'],
      'Signing keys by state': ['gatehouse_auth_signing_keys'],
    });
    // The instance variable lists gateways and auth servers alike, and every panel filters by it.
    expect(JSON.stringify(dashboard.templating)).toContain('gatehouse_auth_requests_total');
    for (const panel of panels)
      for (const target of panel.targets ?? [])
        expect(target.expr, panel.title).toContain('instance=~"$instance"');
  });

  it('reads only series Gatehouse registers', () => {
    const exposed = new Set(
      METRIC_DEFINITIONS.flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/name: '(gatehouse_\w+)'/g)].map((m) => m[1]!),
      ),
    );
    const used = new Set(
      queries.flatMap((expr) =>
        [...expr.matchAll(/\b(gatehouse_\w+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, '')),
      ),
    );
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
  });

  it.runIf(promtool.available)('every query is valid PromQL (promtool)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-grafana-'));
    try {
      const rules = queries
        .map(
          (expr, i) =>
            `      - record: gatehouse:dashboard_query_${i}\n        expr: ${JSON.stringify(expand(expr))}`,
        )
        .join('\n');
      writeFileSync(join(dir, 'queries.yml'), `groups:\n  - name: dashboard\n    rules:\n${rules}\n`);
      const result = spawnSync(promtoolPath(), ['check', 'rules', 'queries.yml'], {
        cwd: dir,
        encoding: 'utf8',
      });
      expect(`${result.stdout}${result.stderr}`).toContain(`SUCCESS: ${queries.length} rules found`);
      expect(result.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
