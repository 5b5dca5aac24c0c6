import { isIP } from 'node:net';
import { z } from 'zod';
import { DEFAULT_SD_ID, isValidSdId, SYSLOG_FACILITIES } from '../format/format-syslog.js';

const positiveInt = (description: string, fallback: number) =>
  z.number().int().positive().default(fallback).describe(description);

const sinkId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _ (a metrics label and file name)');

/** Loopback: the only place where audit events may travel without TLS. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1' || bare === '0:0:0:0:0:0:0:1';
}

const common = {
  id: sinkId.describe('Sink name: metrics label, log field and cursor file name'),
  batch: z
    .strictObject({
      maxEvents: z.number().int().positive().max(10_000).default(500).describe('Most events in one batch'),
      maxWaitMs: z
        .number()
        .int()
        .min(0)
        .default(1000)
        .describe('How long a partial batch waits for more events'),
    })
    .prefault({}),
  retry: z
    .strictObject({
      initialDelayMs: positiveInt(
        'Backoff ceiling after the first failure; doubles per failure (full jitter)',
        500,
      ),
      maxDelayMs: positiveInt('Cap of the retry delay', 60_000),
      permanentFailureDelayMs: positiveInt(
        'Delay after a permanent refusal (4xx): the batch is kept, never dropped',
        300_000,
      ),
    })
    .prefault({}),
  pollIntervalMs: positiveInt('How often an idle sink looks for new audit events', 1000),
  backlogAlertEvents: positiveInt(
    'Lag (events not yet delivered) that raises backlogFull; the backlog stays in the audit store, nothing is dropped',
    100_000,
  ),
};

const certPair = {
  certFile: z
    .string()
    .min(1)
    .optional()
    .describe('Client certificate (PEM) presented to the receiver, relative to the config file'),
  keyFile: z.string().min(1).optional().describe('Private key (PEM) of the client certificate'),
};

const certAndKeyTogether = (tls: { certFile?: string | undefined; keyFile?: string | undefined }): boolean =>
  (tls.certFile === undefined) === (tls.keyFile === undefined);
const certAndKeyMessage = { error: 'certFile and keyFile go together', path: ['keyFile'] };

const fileSinkSchema = z
  .strictObject({
    type: z.literal('file'),
    ...common,
    path: z
      .string()
      .min(1)
      .describe('JSON-lines file appended to (mode 0600), relative to the config file; fsynced per batch'),
  })
  .describe('ECS JSON lines appended to a file');

const stdoutSinkSchema = z
  .strictObject({ type: z.literal('stdout'), ...common })
  .describe('ECS JSON lines on standard output');

const receiverHost = z.string().min(1).describe('Syslog receiver (rsyslog, syslog-ng, a SIEM collector)');
const port = z.number().int().min(1).max(65535);
const protocol = z.enum(['tls', 'tcp']).default('tls');

/** TLS, RFC 5424 header and connect settings shared by the syslog and relp sinks. */
const syslogFields = {
  tls: z
    .strictObject({
      caFile: z
        .string()
        .min(1)
        .describe('CA certificate(s) (PEM) the receiver certificate must chain to: only these are trusted'),
      ...certPair,
      servername: z
        .string()
        .min(1)
        .optional()
        .describe('Name the receiver certificate must carry (default: host)'),
      minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Lowest TLS version'),
    })
    .refine(certAndKeyTogether, certAndKeyMessage)
    .optional()
    .describe('TLS settings; required when protocol is tls'),
  facility: z
    .union([
      z.enum(Object.keys(SYSLOG_FACILITIES) as [keyof typeof SYSLOG_FACILITIES]),
      z.number().int().min(0).max(23),
    ])
    .default('authpriv')
    .describe('Syslog facility (RFC 5424 §6.2.1), by name or code'),
  hostname: z.string().min(1).optional().describe('HOSTNAME field (default: the machine host name)'),
  sdId: z
    .string()
    .refine(isValidSdId, { error: 'an SD-ID of the form name@<private enterprise number>' })
    .default(DEFAULT_SD_ID)
    .describe(
      'SD-ID of the structured data element; the default uses 32473, the IANA example enterprise number (RFC 5612): use your own',
    ),
  connectTimeoutMs: positiveInt('Time allowed to connect (TLS handshake included)', 5000),
};

/** The protocol, tls and host rules of the syslog and relp sinks. */
function checkSyslogTransport(
  sink: { protocol: 'tls' | 'tcp'; tls?: object | undefined; host: string },
  context: z.RefinementCtx,
): void {
  if (sink.protocol === 'tls' && sink.tls === undefined) {
    context.addIssue({
      code: 'custom',
      message: 'tls.caFile is required with protocol tls (the receiver certificate is verified against it)',
      path: ['tls'],
    });
  }
  if (sink.protocol === 'tcp') {
    if (sink.tls !== undefined) {
      context.addIssue({ code: 'custom', message: 'tls settings need protocol tls', path: ['tls'] });
    }
    if (!isLoopbackHost(sink.host)) {
      context.addIssue({
        code: 'custom',
        message: 'plain tcp only to a loopback receiver: audit events carry personal data; use protocol tls',
        path: ['protocol'],
      });
    }
  }
}

const syslogSinkSchema = z
  .strictObject({
    type: z.literal('syslog'),
    ...common,
    host: receiverHost,
    port: port.optional().describe('Receiver port (default 6514 for tls, RFC 5425 §4.1; required for tcp)'),
    protocol: protocol.describe(
      'tls (RFC 5425) or plain tcp (RFC 6587), the latter only to a loopback receiver',
    ),
    ...syslogFields,
    timeoutMs: positiveInt('Time allowed for one batch until the receiver confirms it', 30_000),
  })
  .superRefine((sink, context) => {
    checkSyslogTransport(sink, context);
    if (sink.protocol === 'tcp' && sink.port === undefined) {
      context.addIssue({ code: 'custom', message: 'port is required with protocol tcp', path: ['port'] });
    }
  })
  .describe('Syslog (RFC 5424) over TLS or TCP, octet-counting framing');

const relpSinkSchema = z
  .strictObject({
    type: z.literal('relp'),
    ...common,
    host: receiverHost,
    // RELP has no registered port; rsyslog's examples use 2514.
    port: port.describe('Receiver port (rsyslog imrelp `port`)'),
    protocol: protocol.describe('tls (imrelp tls="on") or plain tcp, the latter only to a loopback receiver'),
    ...syslogFields,
    window: z
      .number()
      .int()
      .min(1)
      .max(1024)
      .default(128)
      .describe('Messages sent ahead of their acknowledgement'),
    timeoutMs: positiveInt('Time allowed for one batch until its last message is acknowledged', 30_000),
  })
  .superRefine(checkSyslogTransport)
  .describe('Syslog (RFC 5424) over RELP: every message acknowledged by the receiver');

const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'a header name (RFC 9110 §5.1)');
const RESERVED_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
]);

const webhookSinkSchema = z
  .strictObject({
    type: z.literal('webhook'),
    ...common,
    url: z
      .url({ protocol: /^https?$/ })
      .describe(
        'Receiver URL; https, or http to a loopback address only. Each batch is POSTed as a JSON array',
      ),
    headers: z
      .record(headerName, z.string().regex(/^[^\r\n\0]*$/, 'no line breaks'))
      .default({})
      .describe('Extra request headers (values never logged)'),
    bearerToken: z
      .string()
      .min(1)
      .optional()
      .describe('Sent as Authorization: Bearer; typically `${AUDIT_WEBHOOK_TOKEN}`; never logged'),
    tls: z
      .strictObject({
        caFile: z
          .string()
          .min(1)
          .optional()
          .describe('CA certificate(s) (PEM) trusted for the receiver instead of the system roots'),
        ...certPair,
      })
      .refine(certAndKeyTogether, certAndKeyMessage)
      .optional()
      .describe('TLS settings for an https receiver'),
    timeoutMs: positiveInt('Time allowed for one POST until the end of the answer', 10_000),
  })
  .superRefine((sink, context) => {
    let url: URL;
    try {
      url = new URL(sink.url);
    } catch {
      return; // reported by the url check
    }
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
      context.addIssue({
        code: 'custom',
        message: 'http only to a loopback receiver: audit events carry personal data; use https',
        path: ['url'],
      });
    }
    if (url.username !== '' || url.password !== '') {
      context.addIssue({
        code: 'custom',
        message: 'no credentials in the URL; use bearerToken or headers',
        path: ['url'],
      });
    }
    for (const name of Object.keys(sink.headers)) {
      const lower = name.toLowerCase();
      if (RESERVED_HEADERS.has(lower) || (lower === 'authorization' && sink.bearerToken !== undefined)) {
        context.addIssue({
          code: 'custom',
          message: `header ${name} is set by the sink`,
          path: ['headers', name],
        });
      }
    }
  })
  .describe('HTTPS webhook receiving JSON arrays of ECS documents');

export const sinkConfigSchema = z.discriminatedUnion('type', [
  fileSinkSchema,
  stdoutSinkSchema,
  syslogSinkSchema,
  relpSinkSchema,
  webhookSinkSchema,
]);

/** The `sinks` list: each sink gets every audit event, at least once, in store order. */
export const sinksConfigSchema = z
  .array(sinkConfigSchema)
  .default([])
  .superRefine((sinks, context) => {
    const seen = new Set<string>();
    sinks.forEach((sink, index) => {
      if (seen.has(sink.id)) {
        context.addIssue({ code: 'custom', message: `duplicate sink id ${sink.id}`, path: [index, 'id'] });
      }
      seen.add(sink.id);
    });
  })
  .describe('SIEM sinks of the audit log');

export type SinkConfig = z.output<typeof sinkConfigSchema>;
export type SinkConfigInput = z.input<typeof sinkConfigSchema>;
export type FileSinkConfig = z.output<typeof fileSinkSchema>;
export type StdoutSinkConfig = z.output<typeof stdoutSinkSchema>;
export type SyslogSinkConfig = z.output<typeof syslogSinkSchema>;
export type RelpSinkConfig = z.output<typeof relpSinkSchema>;
export type WebhookSinkConfig = z.output<typeof webhookSinkSchema>;

/** Parses (and defaults) a sinks list given as plain data, e.g. by tests. */
export function buildSinksConfig(input: readonly SinkConfigInput[]): SinkConfig[] {
  return sinksConfigSchema.parse(input);
}
