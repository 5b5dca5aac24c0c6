import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KEK_ENV, createKeyService, loadKek, type AuthServerDeps } from '@gatehouse/auth-server';
import { isGatehouseError } from '@gatehouse/core';
import { CLI_ACTOR, withRuntime } from '../commands/common.js';
import type { Deployment } from '../config/load-deployment.js';
import type { CliIo } from '../io.js';
import type { DoctorFinding } from './finding.js';
import { keyFileExposure } from './key-file-exposure.js';

interface KekStatus {
  readonly kek: Buffer | undefined;
  readonly file: string | undefined;
  readonly findings: DoctorFinding[];
}

const detailOf = (err: unknown): string =>
  isGatehouseError(err) ? (err.detail ?? err.message) : err instanceof Error ? err.message : String(err);

/**
 * The key-encryption key as the auth server would find it (GATEHOUSE_KEK, `kekFile`,
 * `<dataDir>/kek.key`), never generating one: its permissions and whether it decodes. Messages
 * come from `loadKek`, which never echoes the key.
 */
async function checkKek(io: CliIo, deployment: Deployment): Promise<KekStatus> {
  const fromEnv = io.env[KEK_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    try {
      return { kek: (await loadKek({ env: io.env, production: false })).kek, file: undefined, findings: [] };
    } catch (err) {
      return {
        kek: undefined,
        file: undefined,
        findings: [{ severity: 'high', check: 'kek.invalid', message: detailOf(err) }],
      };
    }
  }
  const file = deployment.kekFile ?? join(deployment.dataDir, 'kek.key');
  if (!existsSync(file)) {
    const configured = deployment.kekFile !== undefined;
    if (!configured && !deployment.production) return { kek: undefined, file, findings: [] };
    return {
      kek: undefined,
      file,
      findings: [
        {
          severity: 'high',
          check: 'kek.missing',
          message: configured
            ? `kekFile ${file} does not exist: the auth server cannot start`
            : `no key-encryption key: production refuses to start without ${KEK_ENV} or the key file ${file}`,
          file,
        },
      ],
    };
  }
  const findings: DoctorFinding[] = [];
  // Production refuses a key file with any group or other access (loadKek).
  const exposure = await keyFileExposure(file, {
    check: 'kek.permissions',
    usedBy: 'key-encryption key',
    what: 'the key file',
    strict: deployment.production,
  });
  if (exposure !== undefined) findings.push(exposure);
  try {
    const loaded = await loadKek({ env: {}, kekFile: file, production: false });
    return { kek: loaded.kek, file, findings };
  } catch (err) {
    findings.push({ severity: 'high', check: 'kek.invalid', message: detailOf(err), file });
    return { kek: undefined, file, findings };
  }
}

/** A store error may carry its connection string: never its credentials. */
const withoutCredentials = (text: string): string => text.replace(/\/\/[^/@\s]*@/g, '//');

/**
 * Signing-key hygiene: the key-encryption key, then the keys as stored, checked as
 * `gatehouse keys check` does (AdminOperations.checkKeys, audited). Read-only: no key is generated,
 * the lifecycle is not advanced, and a data dir without a database is left without one.
 */
export async function checkSigningKeys(io: CliIo, deployment: Deployment): Promise<DoctorFinding[]> {
  const kek = await checkKek(io, deployment);
  const findings = [...kek.findings];
  if (deployment.databaseUrl === undefined && !existsSync(deployment.sqliteFile)) {
    findings.push({
      severity: 'info',
      check: 'keys.no_store',
      message: `no database at ${deployment.sqliteFile} yet: the auth server creates it, and its first signing key, when it starts`,
      file: deployment.sqliteFile,
    });
    return findings;
  }
  try {
    await withRuntime(io, deployment, async (runtime) => {
      // Without a usable key-encryption key only the stored rows are read (list opens no key): a
      // random one makes sure nothing could be opened with it.
      const deps: AuthServerDeps = {
        ...runtime.base,
        config: deployment.config.authServer,
        kek: kek.kek ?? randomBytes(32),
      };
      const keys = createKeyService(deps, () =>
        Promise.reject(new Error('token lifetimes are only needed to advance the lifecycle')),
      );
      const stored = await keys.list();
      if (stored.length === 0) {
        findings.push({
          severity: 'info',
          check: 'keys.none',
          message: 'no signing keys yet: the auth server creates the first when it starts',
        });
        return;
      }
      if (kek.kek === undefined) {
        if (kek.findings.length === 0) {
          findings.push({
            severity: 'high',
            check: 'kek.missing',
            message:
              `${stored.length} signing key(s) are sealed with a key-encryption key that is missing ` +
              `(${KEK_ENV} unset, no ${kek.file ?? 'key file'}): the auth server cannot start; restore it`,
            ...(kek.file === undefined ? {} : { file: kek.file }),
          });
        }
        return;
      }
      // Checking opens the active key, so a key-encryption key that changed is found here.
      const check = await runtime.operations(keys).checkKeys(CLI_ACTOR);
      for (const finding of check.findings) {
        findings.push({
          severity: finding.severity === 'high' ? 'high' : 'warning',
          check: `keys.${finding.code}`,
          message: finding.message,
          ...(finding.kid === undefined ? {} : { kid: finding.kid }),
        });
      }
    });
  } catch (err) {
    const wrongKek = isGatehouseError(err) && err.code === 'ERR_STORE_CORRUPT';
    findings.push({
      severity: 'high',
      check: wrongKek ? 'kek.wrong' : 'keys.store_unavailable',
      message: wrongKek
        ? `${detailOf(err)}: the auth server cannot start`
        : `cannot read the signing keys: ${withoutCredentials(detailOf(err))}`,
    });
  }
  return findings;
}
