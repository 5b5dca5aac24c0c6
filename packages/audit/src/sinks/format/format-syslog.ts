import { hostname as osHostname } from 'node:os';
import type { AuditOutcome } from '@gatehouse/core';
import type { AuditRecord } from '../types.js';
import { formatEcsJson } from './format-ecs.js';

/** RFC 5424 §6.2.1 Table 1 facility codes, by their usual names. */
export const SYSLOG_FACILITIES = {
  kern: 0,
  user: 1,
  mail: 2,
  daemon: 3,
  auth: 4,
  syslog: 5,
  lpr: 6,
  news: 7,
  uucp: 8,
  cron: 9,
  authpriv: 10,
  ftp: 11,
  ntp: 12,
  audit: 13,
  alert: 14,
  clock: 15,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
} as const;
export type SyslogFacilityName = keyof typeof SYSLOG_FACILITIES;

/** RFC 5424 §6.2.1 Table 2: a refusal is a warning, an undetermined outcome a notice. */
const SEVERITY: Readonly<Record<AuditOutcome, number>> = { failure: 4, unknown: 5, success: 6 };

/**
 * The default SD-ID. 32473 is the private enterprise number IANA reserves for documentation
 * (RFC 5612): fine for a test or a SIEM that keys on it, but an organisation with its own PEN should
 * configure `name@<its PEN>` (RFC 5424 §7.2.2).
 */
export const DEFAULT_SD_ID = 'gatehouse@32473';

/** RFC 5424 §6.3.2: SD-NAME is 1–32 PRINTUSASCII except `=`, SP, `]` and `"`; a custom ID has `@<PEN>`. */
const SD_ID = /^[\x21\x23-\x3c\x3e\x3f\x41-\x5c\x5e-\x7e]+@\d+(?:\.\d+)*$/;

export function isValidSdId(value: string): boolean {
  return value.length <= 32 && SD_ID.test(value);
}

export interface SyslogFormatOptions {
  /** Facility name or code 0–23 (default `authpriv`, 10: security/authorization messages). */
  readonly facility?: SyslogFacilityName | number;
  /** HOSTNAME field (default: this machine's host name). */
  readonly hostname?: string;
  /** APP-NAME field (default `gatehouse`). */
  readonly appName?: string;
  /** PROCID field (default: this process id). */
  readonly procId?: string;
  /** SD-ID of the element holding the key fields (default `DEFAULT_SD_ID`). */
  readonly sdId?: string;
}

const NILVALUE = '-';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** RFC 5424 §6: header fields are PRINTUSASCII (33–126); anything else becomes `_`, then cut. */
function printUsAscii(value: string | undefined, maxLength: number): string {
  if (value === undefined) return NILVALUE;
  const cleaned = value.replace(/[^\x21-\x7e]/g, '_').slice(0, maxLength);
  return cleaned === '' ? NILVALUE : cleaned;
}

/** RFC 5424 §6.3.3: `"`, `\` and `]` in a PARAM-VALUE are escaped with a backslash. */
export function escapeParamValue(value: string): string {
  return value.replace(/["\\\]]/g, (char) => `\\${char}`);
}

/** RFC 5424 §6.2.3 with the §6.2.3.1 restrictions: `T`, `Z`, at most 6 fractional digits. */
function timestamp(time: string): string {
  const parsed = Date.parse(time);
  if (Number.isNaN(parsed)) return NILVALUE;
  const iso = new Date(parsed).toISOString();
  return /^\d{4}-/.test(iso) ? iso : NILVALUE;
}

function facilityCode(facility: SyslogFacilityName | number | undefined): number {
  const code = typeof facility === 'number' ? facility : SYSLOG_FACILITIES[facility ?? 'authpriv'];
  if (!Number.isInteger(code) || code < 0 || code > 23) {
    throw new RangeError(`syslog facility must be 0-23, got ${String(facility)}`);
  }
  return code;
}

function structuredData(sdId: string, record: AuditRecord): string {
  const { event } = record;
  const params: [string, string | undefined][] = [
    ['id', record.id],
    ['seq', String(record.seq)],
    ['outcome', event.outcome],
    ['service', event.component],
    ['user', event.actor?.sub],
    ['client', event.actor?.clientId],
    ['ip', event.sourceIp],
    ['reqid', event.requestId],
    ['reason', event.reason],
    ['decision', event.decision],
  ];
  const body = params
    .filter((param): param is [string, string] => param[1] !== undefined)
    .map(([name, value]) => ` ${name}="${escapeParamValue(value)}"`)
    .join('');
  return `[${sdId}${body}]`;
}

/** A formatter bound to its options (checked once, when it is created). */
export type SyslogFormatter = (record: AuditRecord) => Buffer;

/**
 * RFC 5424 messages: `<PRI>1 TIMESTAMP HOSTNAME gatehouse PROCID MSGID [SD] BOM{ECS JSON}`, with
 * MSGID the event action and the key fields in one SD-ELEMENT. Framing is the transport's job.
 */
export function createSyslogFormatter(options: SyslogFormatOptions = {}): SyslogFormatter {
  const facility = facilityCode(options.facility);
  const sdId = options.sdId ?? DEFAULT_SD_ID;
  if (!isValidSdId(sdId)) throw new RangeError(`invalid SD-ID ${JSON.stringify(sdId)} (RFC 5424 §6.3.2)`);
  const host = printUsAscii(options.hostname ?? osHostname(), 255);
  const appName = printUsAscii(options.appName ?? 'gatehouse', 48);
  const procId = printUsAscii(options.procId ?? String(process.pid), 128);
  return (record) => {
    const { event } = record;
    // RFC 5424 §6.2.1: PRI = facility × 8 + severity; VERSION is 1.
    const pri = facility * 8 + SEVERITY[event.outcome];
    const msgId = printUsAscii(event.action, 32);
    const head = `<${pri}>1 ${timestamp(event.time)} ${host} ${appName} ${procId} ${msgId} ${structuredData(sdId, record)} `;
    // RFC 5424 §6.4: a UTF-8 MSG starts with the BOM.
    return Buffer.concat([Buffer.from(head, 'utf8'), BOM, Buffer.from(formatEcsJson(record), 'utf8')]);
  };
}

/** RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in octets. */
export function frameOctetCounting(message: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
}
