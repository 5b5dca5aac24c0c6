import { readFile } from 'node:fs/promises';
import { GatehouseError } from '@gatehouse/core';
import { parse } from 'yaml';
import { buildOpenApiRoutes } from './build-openapi-routes.js';
import type { OpenApiRoutes, OpenApiRoutesOptions } from './types.js';

/**
 * Reads an OpenAPI 3.0/3.1 document (YAML, or JSON which is YAML 1.2) and builds its routes. Every
 * failure — unreadable file, syntax, duplicate keys, external refs, invalid schemas — is a GatehouseError
 * `ERR_CONFIG_INVALID` whose detail names the file and lists the problems.
 */
export async function loadOpenApiDocument(
  file: string,
  options: OpenApiRoutesOptions = {},
): Promise<OpenApiRoutes> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: `cannot read OpenAPI document ${file}: ${reason}`,
      cause: error,
    });
  }
  let document: unknown;
  try {
    // Core schema only (no custom tags); the default alias limit stops "billion laughs" expansion.
    document = parse(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' });
  } catch (error) {
    throw new GatehouseError('ERR_CONFIG_INVALID', {
      detail: `OpenAPI document ${file} is not valid YAML or JSON: ${error instanceof Error ? error.message : String(error)}`,
      cause: error,
    });
  }
  try {
    return buildOpenApiRoutes(document, options);
  } catch (error) {
    if (error instanceof GatehouseError && error.detail !== undefined)
      throw new GatehouseError('ERR_CONFIG_INVALID', { detail: `${file}: ${error.detail}`, cause: error });
    throw error;
  }
}
