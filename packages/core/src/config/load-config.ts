import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { GatehouseError } from '../errors/gatehouse-error.js';

const VARIABLE = /\$\{([A-Z_][A-Z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${NAME}` and `${NAME:-default}` in string values (never in keys, and after YAML
 * parsing, so a variable cannot inject structure). Unset variables without default are reported.
 */
function substitute(value: unknown, env: NodeJS.ProcessEnv, path: string, missing: string[]): unknown {
  if (typeof value === 'string') {
    return value.replace(VARIABLE, (_match, name: string, fallback: string | undefined) => {
      const found = env[name];
      if (found !== undefined) return found;
      if (fallback !== undefined) return fallback;
      missing.push(`${path || '(root)'}: environment variable ${name} is not set`);
      return '';
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => substitute(item, env, `${path}[${i}]`, missing));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [
        key,
        substitute(item, env, path ? `${path}.${key}` : key, missing),
      ]),
    );
  }
  return value;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Validates configuration text (YAML or JSON) against a schema that rejects unknown keys, and
 * reports every violation at once (`path: message`). The result is frozen.
 */
export function parseConfig<S extends z.ZodType>(
  text: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
  source = 'config',
): z.output<S> {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true, prettyErrors: true }) ?? {};
  } catch (cause) {
    const message = cause instanceof Error ? cause.message.split('\n')[0] : 'unreadable';
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: `${source}: not valid YAML: ${message ?? ''}`,
      cause,
    });
  }
  const missing: string[] = [];
  const substituted = substitute(raw, env, '', missing);
  const result = schema.safeParse(substituted);
  const problems = [
    ...missing,
    ...(result.success
      ? []
      : result.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)),
  ];
  if (problems.length > 0 || !result.success) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `${source}:\n  ${problems.join('\n  ')}` });
  }
  return deepFreeze(result.data);
}

export async function loadConfigFile<S extends z.ZodType>(
  file: string,
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `${file}: cannot be read`, cause });
  }
  return parseConfig(text, schema, env, file);
}
