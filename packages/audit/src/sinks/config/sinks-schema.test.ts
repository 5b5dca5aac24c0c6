import { parseConfig } from '@gatehouse/core';
import { describe, expect, it } from 'vitest';
import { buildSinksConfig, isLoopbackHost, sinksConfigSchema, type SinkConfigInput } from './sinks-schema.js';

const tlsSyslog = { type: 'syslog', id: 'siem', host: 'siem.example', tls: { caFile: 'ca.pem' } } as const;
const tlsRelp = {
  type: 'relp',
  id: 'relp',
  host: 'siem.example',
  port: 2514,
  tls: { caFile: 'ca.pem' },
} as const;

describe('sinks config', () => {
  it('fills secure defaults', () => {
    const [syslog, webhook] = buildSinksConfig([
      tlsSyslog,
      { type: 'webhook', id: 'hook', url: 'https://hooks.example/audit' },
    ]);
    expect(syslog).toMatchObject({
      protocol: 'tls',
      facility: 'authpriv',
      sdId: 'gatehouse@32473',
      tls: { caFile: 'ca.pem', minVersion: 'TLSv1.2' },
      batch: { maxEvents: 500, maxWaitMs: 1000 },
      retry: { initialDelayMs: 500, maxDelayMs: 60_000, permanentFailureDelayMs: 300_000 },
      backlogAlertEvents: 100_000,
    });
    expect(webhook).toMatchObject({ headers: {}, timeoutMs: 10_000 });
    expect(buildSinksConfig([tlsRelp])[0]).toMatchObject({
      protocol: 'tls',
      port: 2514,
      window: 128,
      facility: 'authpriv',
      tls: { caFile: 'ca.pem', minVersion: 'TLSv1.2' },
      connectTimeoutMs: 5000,
      timeoutMs: 30_000,
    });
    expect(buildSinksConfig([])).toEqual([]);
  });

  it('reads a YAML list with the bearer token from the environment', () => {
    const yaml = [
      '- type: webhook',
      '  id: hook',
      '  url: https://hooks.example/audit',
      '  bearerToken: ${AUDIT_WEBHOOK_TOKEN}',
      '- type: file',
      '  id: local',
      '  path: audit/events.jsonl',
      '- type: stdout',
      '  id: out',
    ].join('\n');
    const sinks = parseConfig(yaml, sinksConfigSchema, { AUDIT_WEBHOOK_TOKEN: 'tok-123' });
    expect(sinks.map((sink) => sink.type)).toEqual(['webhook', 'file', 'stdout']);
    expect(sinks[0]).toMatchObject({ bearerToken: 'tok-123' });
  });

  const refused: [string, SinkConfigInput[], RegExp][] = [
    [
      'syslog over TLS without a CA',
      [{ type: 'syslog', id: 's', host: 'siem.example' }],
      /tls\.caFile is required/,
    ],
    [
      'plain TCP syslog to another host',
      [{ type: 'syslog', id: 's', host: '10.0.0.5', port: 514, protocol: 'tcp' }],
      /only to a loopback receiver/,
    ],
    [
      'plain TCP syslog without a port',
      [{ type: 'syslog', id: 's', host: '127.0.0.1', protocol: 'tcp' }],
      /port/,
    ],
    [
      'a client certificate without its key',
      [{ ...tlsSyslog, tls: { caFile: 'ca.pem', certFile: 'c.pem' } }],
      /go together/,
    ],
    ['an SD-ID without an enterprise number', [{ ...tlsSyslog, sdId: 'gatehouse' }], /SD-ID/],
    ['a facility out of range', [{ ...tlsSyslog, facility: 24 }], /facility/],
    [
      'a webhook over http to another host',
      [{ type: 'webhook', id: 'w', url: 'http://hooks.example/' }],
      /loopback/,
    ],
    [
      'credentials in the webhook URL',
      [{ type: 'webhook', id: 'w', url: 'https://user:pw@hooks.example/' }],
      /no credentials in the URL/,
    ],
    [
      'an Authorization header next to a bearer token',
      [
        {
          type: 'webhook',
          id: 'w',
          url: 'https://h.example/',
          bearerToken: 't',
          headers: { Authorization: 'x' },
        },
      ],
      /set by the sink/,
    ],
    [
      'a header value with a line break',
      [{ type: 'webhook', id: 'w', url: 'https://h.example/', headers: { 'X-Tenant': 'a\r\nX-Evil: 1' } }],
      /line breaks/,
    ],
    ['an unknown key', [{ type: 'stdout', id: 'o', colour: true } as unknown as SinkConfigInput], /colour/],
    ['an unknown type', [{ type: 'kafka', id: 'k' } as unknown as SinkConfigInput], /type/],
    [
      'two sinks with one id',
      [
        { type: 'stdout', id: 'o' },
        { type: 'stdout', id: 'o' },
      ],
      /duplicate sink id o/,
    ],
    ['an id unfit for a file name', [{ type: 'stdout', id: '../x' }], /lower-case/],
    [
      'RELP over TLS without a CA',
      [{ type: 'relp', id: 'r', host: 'siem.example', port: 2514 }],
      /tls\.caFile is required/,
    ],
    [
      'plain RELP to another host',
      [{ type: 'relp', id: 'r', host: '10.0.0.5', port: 2514, protocol: 'tcp' }],
      /only to a loopback receiver/,
    ],
    [
      'RELP without a port (it has no registered one)',
      [
        {
          type: 'relp',
          id: 'r',
          host: 'siem.example',
          tls: { caFile: 'ca.pem' },
        } as unknown as SinkConfigInput,
      ],
      /port/,
    ],
    [
      'plain RELP with tls settings',
      [{ type: 'relp', id: 'r', host: '127.0.0.1', port: 2514, protocol: 'tcp', tls: { caFile: 'ca.pem' } }],
      /tls settings need protocol tls/,
    ],
    ['a RELP window of 0', [{ ...tlsRelp, window: 0 }], /window/],
    ['a RELP window above 1024', [{ ...tlsRelp, window: 1025 }], /window/],
    ['a RELP window on a syslog sink', [{ ...tlsSyslog, window: 8 } as unknown as SinkConfigInput], /window/],
  ];

  it.each(refused)('refuses %s', (_name, input, message) => {
    const result = sinksConfigSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(
      result.error?.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('\n'),
    ).toMatch(message);
  });

  it('admits plaintext to loopback only', () => {
    expect(['localhost', '127.0.0.1', '127.8.9.1', '::1', '[::1]', 'a.localhost'].every(isLoopbackHost)).toBe(
      true,
    );
    expect(['10.0.0.1', 'example.com', '::ffff:10.0.0.1', 'localhost.example.com'].some(isLoopbackHost)).toBe(
      false,
    );
    expect(
      buildSinksConfig([
        { type: 'syslog', id: 's', host: '127.0.0.1', port: 1514, protocol: 'tcp' },
        { type: 'relp', id: 'r', host: 'localhost', port: 2514, protocol: 'tcp' },
        { type: 'webhook', id: 'w', url: 'http://127.0.0.1:9999/audit' },
      ]),
    ).toHaveLength(3);
  });
});
