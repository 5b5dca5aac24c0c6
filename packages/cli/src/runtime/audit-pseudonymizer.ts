import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import { createPseudonymizer, MIN_PSEUDONYM_KEY_BYTES, type Pseudonymizer } from '@gatehouse/audit';
import { GatehouseError } from '@gatehouse/core';
import type { Deployment } from '../config/load-deployment.js';

export const PSEUDONYM_KEY_ENV = 'GATEHOUSE_AUDIT_PSEUDONYM_KEY';
export const PSEUDONYM_KEY_FILE = 'audit-pseudonym.key';

function decodeKey(text: string, where: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length < MIN_PSEUDONYM_KEY_BYTES)
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: `${where}: the audit pseudonymisation key must be at least ${MIN_PSEUDONYM_KEY_BYTES} bytes, base64`,
    });
  return key;
}

/**
 * The deployment's pseudonymizer, or undefined when `audit.pseudonymize` is off. The key comes from
 * GATEHOUSE_AUDIT_PSEUDONYM_KEY, `audit.pseudonymize.keyFile`, or `<dataDir>/audit-pseudonym.key`,
 * which is created (random, 0600) when `create` is set and it does not exist. Messages never show the key.
 */
export async function loadAuditPseudonymizer(
  deployment: Deployment,
  env: NodeJS.ProcessEnv,
  options: { readonly create: boolean },
): Promise<Pseudonymizer | undefined> {
  const settings = deployment.config.audit.pseudonymize;
  if (!settings.sourceIp && !settings.subject) return undefined;
  const fromEnv = env[PSEUDONYM_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '')
    return createPseudonymizer(decodeKey(fromEnv, PSEUDONYM_KEY_ENV), settings);
  const file =
    settings.keyFile === undefined
      ? join(deployment.dataDir, PSEUDONYM_KEY_FILE)
      : isAbsolute(settings.keyFile)
        ? settings.keyFile
        : join(dirname(deployment.file), settings.keyFile);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || !options.create || settings.keyFile !== undefined)
      throw new GatehouseError('ERR_CONFIG_INVALID', {
        detail: `the audit pseudonymisation key ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      });
    await mkdir(dirname(file), { recursive: true, mode: 0o700 });
    text = randomBytes(32).toString('base64');
    // `wx`: two processes starting together never overwrite each other's key.
    try {
      await writeFile(file, `${text}\n`, { mode: 0o600, flag: 'wx' });
    } catch (raced) {
      if ((raced as NodeJS.ErrnoException).code !== 'EEXIST') throw raced;
      text = await readFile(file, 'utf8');
    }
    await chmod(file, 0o600);
  }
  return createPseudonymizer(decodeKey(text, file), settings);
}
