import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isGatehouseError, loadTlsServerOptions } from '@gatehouse/core';
import { certificateExpiry } from './certificate-expiry.js';
import type { DoctorFinding } from './finding.js';
import { keyFileExposure } from './key-file-exposure.js';
import type { TlsFileSet } from './tls-file-sets.js';

export interface CheckTlsFilesOptions {
  readonly now: number;
  readonly withinDays: number;
  /** The configuration file's folder: a listener's block is loaded from there, as at start. */
  readonly baseDir: string;
}

export interface TlsFilesCheck {
  readonly findings: DoctorFinding[];
  /** Every file a setting names (the pki check passes over them: one finding per file). */
  readonly files: ReadonlySet<string>;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

type Role = 'cert' | 'key' | 'ca';

/** Each file once, with every setting that names it (the demo's listeners share one certificate). */
function filesByRole(sets: readonly TlsFileSet[], role: Role): Map<string, string> {
  const users = new Map<string, string[]>();
  for (const set of sets) {
    const file = set[role];
    if (file !== undefined) users.set(file, [...(users.get(file) ?? []), set.setting]);
  }
  return new Map([...users].map(([file, settings]) => [file, settings.join(', ')]));
}

async function readText(file: string): Promise<{ text: string } | { problem: string }> {
  try {
    return { text: await readFile(file, 'utf8') };
  } catch (err) {
    return { problem: (err as NodeJS.ErrnoException).code ?? 'error' };
  }
}

/** Every certificate of a PEM file, or undefined when it holds none or one does not parse. */
function parseCertificates(text: string): X509Certificate[] | undefined {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) return undefined;
  try {
    return blocks.map((block) => new X509Certificate(block));
  } catch {
    return undefined;
  }
}

const oneLine = (name: string): string => name.split('\n').join(', ');

/**
 * The TLS files of the configuration, each file once: readable, parseable, key and certificate
 * together, key permissions, and the expiry of every certificate (chains and CA bundles too). A
 * listener whose files pass is then loaded as the component loads it at start
 * (`loadTlsServerOptions`): whatever else would stop it starting is found too.
 * Messages name settings and files; key material never leaves this function.
 */
export async function checkTlsFiles(
  sets: readonly TlsFileSet[],
  options: CheckTlsFilesOptions,
): Promise<TlsFilesCheck> {
  const findings: DoctorFinding[] = [];
  const broken = new Set<string>();
  const high = (check: string, file: string, message: string): void => {
    broken.add(file);
    findings.push({ severity: 'high', check, message, file });
  };
  const expiry = { now: options.now, withinDays: options.withinDays };

  const leaves = new Map<string, X509Certificate>();
  for (const [file, usedBy] of filesByRole(sets, 'cert')) {
    const read = await readText(file);
    if ('problem' in read) {
      high('tls.cert_unreadable', file, `${usedBy}: cannot read the certificate ${file} (${read.problem})`);
      continue;
    }
    const chain = parseCertificates(read.text);
    if (chain?.[0] === undefined) {
      high('tls.cert_invalid', file, `${usedBy}: ${file} is not a PEM certificate`);
      continue;
    }
    leaves.set(file, chain[0]);
    chain.forEach((cert, i) => {
      const what =
        i === 0
          ? `${usedBy}: certificate`
          : `${usedBy}: chain certificate ${i + 1} (${oneLine(cert.subject)}) of`;
      const finding = certificateExpiry(new Date(cert.validTo), {
        ...expiry,
        checkPrefix: 'tls.cert',
        what,
        file,
      });
      if (finding !== undefined) findings.push(finding);
      if (finding?.severity === 'high') broken.add(file);
    });
  }

  const keys = new Map<string, KeyObject>();
  for (const [file, usedBy] of filesByRole(sets, 'key')) {
    const read = await readText(file);
    if ('problem' in read) {
      high('tls.key_unreadable', file, `${usedBy}: cannot read the private key ${file} (${read.problem})`);
      continue;
    }
    const exposure = await keyFileExposure(file, { check: 'tls.key_permissions', usedBy });
    if (exposure !== undefined) findings.push(exposure);
    try {
      keys.set(file, createPrivateKey(read.text));
    } catch {
      // Node's reason is OpenSSL's decoder error: nothing of the key, but nothing useful either.
      high('tls.key_invalid', file, `${usedBy}: ${file} is not an unencrypted PEM private key`);
    }
  }

  const pairs = new Map<string, string[]>();
  for (const set of sets) {
    if ((set.cert === undefined) !== (set.key === undefined)) {
      const file = set.cert ?? set.key ?? '';
      high(
        'tls.pair_incomplete',
        file,
        `${set.setting}: ${set.cert === undefined ? 'keyFile without certFile' : 'certFile without keyFile'}`,
      );
    } else if (set.cert !== undefined && set.key !== undefined) {
      const pair = `${set.cert}\n${set.key}`;
      pairs.set(pair, [...(pairs.get(pair) ?? []), set.setting]);
    }
  }
  for (const [pair, settings] of pairs) {
    const [certFile = '', keyFile = ''] = pair.split('\n');
    const leaf = leaves.get(certFile);
    const key = keys.get(keyFile);
    if (leaf === undefined || key === undefined || matches(leaf, key)) continue;
    high(
      'tls.key_mismatch',
      keyFile,
      `${settings.join(', ')}: the private key ${keyFile} does not belong to the certificate ${certFile}`,
    );
  }

  for (const [file, usedBy] of filesByRole(sets, 'ca')) {
    const read = await readText(file);
    if ('problem' in read) {
      high('tls.ca_unreadable', file, `${usedBy}: cannot read the CA file ${file} (${read.problem})`);
      continue;
    }
    const bundle = parseCertificates(read.text);
    if (bundle === undefined) {
      high('tls.ca_invalid', file, `${usedBy}: ${file} holds no PEM certificate, or one that does not parse`);
      continue;
    }
    for (const cert of bundle) {
      const what = `${usedBy}: CA certificate (${oneLine(cert.subject)}) in`;
      const finding = certificateExpiry(new Date(cert.validTo), {
        ...expiry,
        checkPrefix: 'tls.ca',
        what,
        file,
      });
      if (finding !== undefined) findings.push(finding);
    }
  }

  const loaded = new Set<string>();
  for (const set of sets) {
    const files = [set.cert, set.key, set.ca].filter((file) => file !== undefined);
    if (set.listener === undefined || files.some((file) => broken.has(file))) continue;
    const id = JSON.stringify(set.listener);
    if (loaded.has(id)) continue;
    loaded.add(id);
    try {
      loadTlsServerOptions(set.listener, options.baseDir);
    } catch (err) {
      const reason = isGatehouseError(err) ? (err.detail ?? err.message) : 'cannot be loaded';
      findings.push({
        severity: 'high',
        check: 'tls.refused',
        message: `${set.setting}: the listener would not start: ${reason}`,
      });
    }
  }

  const all = sets.flatMap((set) => [set.cert, set.key, set.ca]).filter((file) => file !== undefined);
  return { findings, files: new Set(all) };
}

function matches(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}
