import { X509Certificate } from 'node:crypto';
import type { CertificateUsage } from '@gatehouse/core';
import { DEPLOYMENT_OPTIONS, JSON_OPTION, parse, requireValue } from '../args.js';
import { checkCertificateName } from '../certs/check-certificate-name.js';
import { checkSubjectAltNames } from '../certs/check-subject-alt-names.js';
import { classifyExpiry, daysLeft } from '../certs/classify-expiry.js';
import { isIssuedBy } from '../certs/is-issued-by.js';
import {
  issueNamedCertificate,
  refuseExistingCertificate,
  type IssuedCertificate,
} from '../certs/issue-named-certificate.js';
import { listCertificates, type ListedCertificate } from '../certs/list-certificates.js';
import { locatePki, type PkiFolder } from '../certs/locate-pki.js';
import { openDevCa } from '../certs/open-dev-ca.js';
import { parseDayCount } from '../certs/parse-day-count.js';
import type { CertificateDetails } from '../certs/read-certificate.js';
import { MAX_VALIDITY_DAYS, renewCertificate } from '../certs/renew-certificate.js';
import { formatSubjectAltNames } from '../certs/subject-alt-names.js';
import {
  CommandError,
  EXIT_FAILURE,
  EXIT_OK,
  UsageError,
  formatTable,
  writeJson,
  writeLine,
  type CliIo,
} from '../io.js';
import { subcommands } from './subcommands.js';

/** `gatehouse certs issue|list|renew`: the development CA's certificates in `<dataDir>/pki`. */
export const certsCommand = subcommands('certs', { issue, list, renew });

const DEFAULT_VALIDITY_DAYS = 30;
const DEFAULT_WITHIN_DAYS = 14;
const MAX_WITHIN_DAYS = 3650;
const USAGES: readonly CertificateUsage[] = ['server', 'client', 'both'];

/** Short lifetimes keep a leaked development key short-lived; the CA's key is the lasting secret. */
function validityDays(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseDayCount(value, '--days', 1, MAX_VALIDITY_DAYS);
}

function withinDays(value: string | undefined): number | undefined {
  return value === undefined ? undefined : parseDayCount(value, '--within', 0, MAX_WITHIN_DAYS);
}

/** The development CA's key sits in a file: never the trust anchor of a production deployment. */
function refuseProduction(io: CliIo, what: string): void {
  if (io.env['NODE_ENV'] === 'production') {
    throw new CommandError(
      `${what} signs with the development CA and refuses to run with NODE_ENV=production`,
    );
  }
}

const time = (date: Date): string => date.toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The public face of a certificate: never its key. */
function detailsJson(details: CertificateDetails) {
  return {
    subject: details.subject,
    issuer: details.issuer,
    usage: details.role,
    sans: { dns: details.sans.dns, ip: details.sans.ip, uri: details.sans.uri },
    notBefore: time(details.notBefore),
    notAfter: time(details.notAfter),
    serialNumber: details.serialNumber,
    fingerprint256: details.fingerprint256,
  };
}

function issuedJson(issued: IssuedCertificate, now: number) {
  return {
    name: issued.name,
    ...detailsJson(issued.details),
    daysLeft: daysLeft(issued.details.notAfter, now),
    cert: issued.files.cert,
    key: issued.files.key,
  };
}

function describeIssued(io: CliIo, issued: IssuedCertificate): void {
  const { details } = issued;
  writeLine(io.stdout, `  subject      ${details.subject}`);
  writeLine(io.stdout, `  usage        ${details.role}`);
  writeLine(io.stdout, `  SANs         ${formatSubjectAltNames(details.sans)}`);
  writeLine(io.stdout, `  not after    ${time(details.notAfter)}`);
  writeLine(io.stdout, `  sha-256      ${details.fingerprint256}`);
  writeLine(io.stdout, `  certificate  ${issued.files.cert}`);
  writeLine(io.stdout, `  key          ${issued.files.key} (owner only)`);
}

async function issue(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...DEPLOYMENT_OPTIONS,
      ...JSON_OPTION,
      dns: { type: 'string', multiple: true },
      ip: { type: 'string', multiple: true },
      uri: { type: 'string', multiple: true },
      usage: { type: 'string' },
      days: { type: 'string' },
      force: { type: 'boolean' },
    },
    1,
  );
  const name = checkCertificateName(requireValue(positionals[0], 'certs issue NAME'));
  const usage = values.usage ?? 'server';
  if (!USAGES.includes(usage as CertificateUsage)) throw new UsageError('--usage: server, client or both');
  const sans = checkSubjectAltNames({ dns: values.dns ?? [], ip: values.ip ?? [], uri: values.uri ?? [] });
  const days = validityDays(values.days) ?? DEFAULT_VALIDITY_DAYS;
  refuseProduction(io, 'certs issue');
  const pki = await locatePki(io, { config: values.config, dataDir: values['data-dir'] });
  if (values.force !== true) refuseExistingCertificate(pki, name);
  const now = Date.now();
  const authority = await openDevCa(pki, { create: true, now });
  const issued = await issueNamedCertificate(pki, authority, {
    name,
    sans,
    usage: usage as CertificateUsage,
    validityDays: days,
    now,
  });
  if (values.json === true) {
    writeJson(io, { ...issuedJson(issued, now), ca: { cert: pki.ca.cert, created: authority.created } });
    return EXIT_OK;
  }
  if (authority.created) {
    writeLine(io.stdout, `Created the development CA ${pki.ca.cert} (clients trust this file).`);
  }
  writeLine(io.stdout, `Issued ${name}, valid for ${days} day(s):`);
  describeIssued(io, issued);
  return EXIT_OK;
}

function listedJson(entry: ListedCertificate) {
  if (entry.status === 'unreadable') return entry;
  return {
    name: entry.name,
    file: entry.file,
    status: entry.status,
    daysLeft: entry.daysLeft,
    ...detailsJson(entry.details),
  };
}

async function list(args: readonly string[], io: CliIo): Promise<number> {
  const { values } = parse(args, { ...DEPLOYMENT_OPTIONS, ...JSON_OPTION, within: { type: 'string' } });
  const within = withinDays(values.within) ?? DEFAULT_WITHIN_DAYS;
  const pki = await locatePki(io, { config: values.config, dataDir: values['data-dir'] });
  const entries = await listCertificates(pki, { withinDays: within, now: Date.now() });
  const attention = entries.filter((entry) => entry.status !== 'ok');
  // Like `keys check`: non-zero as soon as one certificate needs attention, for cron and alerts.
  const code = attention.length === 0 ? EXIT_OK : EXIT_FAILURE;
  if (values.json === true) {
    writeJson(io, {
      ok: code === EXIT_OK,
      folder: pki.folder,
      withinDays: within,
      certificates: entries.map(listedJson),
    });
    return code;
  }
  if (entries.length === 0) {
    writeLine(io.stdout, `No certificates in ${pki.folder} (gatehouse init or certs issue creates them).`);
    return code;
  }
  writeLine(
    io.stdout,
    formatTable(
      ['NAME', 'USAGE', 'NOT AFTER', 'DAYS LEFT', 'STATUS', 'SANS'],
      entries.map((entry) =>
        entry.status === 'unreadable'
          ? [entry.name, '-', '-', '-', entry.status, entry.problem]
          : [
              entry.name,
              entry.details.role,
              time(entry.details.notAfter),
              String(entry.daysLeft),
              entry.status,
              formatSubjectAltNames(entry.details.sans),
            ],
      ),
    ),
  );
  if (attention.length > 0) {
    writeLine(
      io.stdout,
      `\n${attention.length} certificate(s) expired, unreadable or expiring within ${within} day(s): ` +
        `gatehouse certs renew --all --within ${within}`,
    );
  }
  return code;
}

interface RenewPlan {
  readonly renew: string[];
  readonly skipped: { name: string; reason: string }[];
  readonly failed: { name: string; reason: string }[];
}

/**
 * Which certificates `renew` reissues. Named ones must exist. `--all` takes every leaf this CA
 * issued and passes over the others (a partner's CA kept in the folder is not ours to reissue).
 * `--within DAYS` keeps only those expired or expiring.
 */
async function planRenewal(
  pki: PkiFolder,
  ca: X509Certificate,
  names: readonly string[] | 'all',
  within: number | undefined,
  now: number,
): Promise<RenewPlan> {
  const plan: RenewPlan = { renew: [], skipped: [], failed: [] };
  const entries = await listCertificates(pki, { withinDays: within ?? 0, now });
  const candidates = entries.filter((entry) =>
    names === 'all' ? entry.name !== 'ca' : names.includes(entry.name),
  );
  const missing =
    names === 'all' ? [] : names.filter((name) => !candidates.some((entry) => entry.name === name));
  if (missing.length > 0) {
    throw new CommandError(`no certificate ${missing.join(', ')} in ${pki.folder} (certs issue creates one)`);
  }
  for (const entry of candidates) {
    if (entry.status === 'unreadable') {
      plan.failed.push({ name: entry.name, reason: entry.problem });
    } else if (names === 'all' && !isIssuedBy(entry.details.x509, ca)) {
      plan.skipped.push({ name: entry.name, reason: 'not issued by the development CA' });
    } else if (within !== undefined && classifyExpiry(entry.details.notAfter, now, within) === 'ok') {
      plan.skipped.push({ name: entry.name, reason: `${entry.daysLeft} day(s) left, not within ${within}` });
    } else {
      plan.renew.push(entry.name);
    }
  }
  return plan;
}

async function renew(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      ...DEPLOYMENT_OPTIONS,
      ...JSON_OPTION,
      all: { type: 'boolean' },
      within: { type: 'string' },
      days: { type: 'string' },
    },
    Number.POSITIVE_INFINITY,
  );
  if (values.all === true && positionals.length > 0)
    throw new UsageError('certs renew: NAME … or --all, not both');
  if (values.all !== true && positionals.length === 0) throw new UsageError('certs renew: NAME … or --all');
  const names = values.all === true ? 'all' : [...new Set(positionals.map(checkCertificateName))];
  const within = withinDays(values.within);
  const days = validityDays(values.days);
  refuseProduction(io, 'certs renew');
  const pki = await locatePki(io, { config: values.config, dataDir: values['data-dir'] });
  const now = Date.now();
  const authority = await openDevCa(pki, { create: false, now });
  const plan = await planRenewal(pki, new X509Certificate(authority.ca.certPem), names, within, now);
  const renewed: IssuedCertificate[] = [];
  for (const name of plan.renew) {
    try {
      renewed.push(
        await renewCertificate(pki, authority, name, {
          now,
          ...(days === undefined ? {} : { validityDays: days }),
        }),
      );
    } catch (err) {
      plan.failed.push({ name, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  const code = plan.failed.length === 0 ? EXIT_OK : EXIT_FAILURE;
  if (values.json === true) {
    writeJson(io, {
      ok: code === EXIT_OK,
      renewed: renewed.map((issued) => issuedJson(issued, now)),
      skipped: plan.skipped,
      failed: plan.failed,
    });
    return code;
  }
  for (const issued of renewed) {
    writeLine(io.stdout, `Renewed ${issued.name} with a new key:`);
    describeIssued(io, issued);
  }
  for (const { name, reason } of plan.skipped) writeLine(io.stdout, `Skipped ${name}: ${reason}`);
  for (const { name, reason } of plan.failed) writeLine(io.stderr, `gatehouse certs: ${name}: ${reason}`);
  writeLine(
    io.stdout,
    `${renewed.length} renewed, ${plan.skipped.length} skipped, ${plan.failed.length} failed.`,
  );
  return code;
}
