import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deploymentJsonSchema } from './deployment-schema.js';

/** The part of JSON Schema (draft 2020-12, as zod emits it) the reference is rendered from. */
interface JsonSchema {
  readonly type?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly enum?: readonly unknown[];
  readonly format?: string;
  readonly pattern?: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly minLength?: number;
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly items?: JsonSchema;
}

interface Row {
  readonly key: string;
  readonly type: string;
  readonly fallback: string;
  readonly description: string;
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeOf(schema: JsonSchema): string {
  if (schema.enum !== undefined) return schema.enum.map((value) => `\`${String(value)}\``).join(', ');
  if (schema.type === 'array')
    return `list of ${schema.items === undefined ? 'values' : typeOf(schema.items)}`;
  if (schema.type === 'integer' || schema.type === 'number') {
    const bounds: string[] = [];
    if (schema.exclusiveMinimum === 0) bounds.push('> 0');
    else if (schema.minimum !== undefined) bounds.push(`≥ ${schema.minimum}`);
    if (schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER)
      bounds.push(`≤ ${schema.maximum}`);
    return bounds.length === 0 ? schema.type : `${schema.type} ${bounds.join(', ')}`;
  }
  if (schema.type === 'string' && schema.format === 'uri') return 'URL';
  if (schema.type === 'string' && schema.minLength !== undefined && schema.minLength > 1)
    return `string, ≥ ${schema.minLength} characters`;
  return schema.type ?? 'value';
}

function defaultOf(schema: JsonSchema, required: boolean): string {
  if (required) return '**required**';
  if (schema.default === undefined) return '';
  if (
    typeof schema.default === 'object' &&
    schema.default !== null &&
    Object.keys(schema.default).length === 0
  )
    return '';
  return `\`${JSON.stringify(schema.default)}\``;
}

/** Rows for every setting under `schema`, nested objects flattened to dotted keys. */
function rows(schema: JsonSchema, prefix: string, required: boolean): Row[] {
  if (schema.type === 'object' && schema.properties !== undefined) {
    return Object.entries(schema.properties).flatMap(([name, child]) =>
      rows(child, prefix === '' ? name : `${prefix}.${name}`, schema.required?.includes(name) ?? false),
    );
  }
  if (schema.type === 'array' && schema.items?.type === 'object') {
    return [
      {
        key: prefix,
        type: 'list of objects',
        fallback: defaultOf(schema, required),
        description: schema.description ?? '',
      },
      ...rows(schema.items, `${prefix}[]`, false),
    ];
  }
  return [
    {
      key: prefix,
      type: typeOf(schema),
      fallback: defaultOf(schema, required),
      description: schema.description ?? '',
    },
  ];
}

function table(list: readonly Row[]): string {
  return [
    '| Key | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...list.map(
      (row) => `| \`${row.key}\` | ${cell(row.type)} | ${cell(row.fallback)} | ${cell(row.description)} |`,
    ),
  ].join('\n');
}

const HEADER = `# Configuration reference

<!-- Generated from the configuration schema by \`npm run docs:config\`
     (packages/cli/src/config/render-config-doc.ts). Do not edit by hand: a test keeps it in sync. -->

Every component reads one YAML file, given with \`--config FILE\` (default \`gatehouse.yaml\` in the
current folder). Unknown keys are errors, and every problem is reported at once.

- \`\${NAME}\` and \`\${NAME:-default}\` in values are replaced from the environment (after parsing, so a
  variable cannot add structure). Secrets belong there, e.g. \`token: \${GATEHOUSE_ADMIN_TOKEN}\`.
- \`DATABASE_URL\` and \`REDIS_URL\` override \`database.url\` and \`sharedState.url\` when set.
- \`GATEHOUSE_KEK\` (base64 of 32 random bytes) is the key-encryption key of private signing keys.
- \`NODE_ENV=production\` turns unsafe settings into refusals to start: a plain-HTTP issuer on a
  non-loopback host, a generated key-encryption key, no admin token. Elsewhere they are warnings.

\`gatehouse config validate --config FILE\` checks a file; \`gatehouse config schema\` prints its JSON Schema.

## Example

\`\`\`yaml
dataDir: .gatehouse
admin:
  token: \${GATEHOUSE_ADMIN_TOKEN}
authServer:
  issuer: http://127.0.0.1:4000
  resources:
    - id: https://api.example.com
      scopes: [accounts:read, orders:read]
\`\`\`
`;

/** The Markdown reference of the configuration file (docs/configuration.md), from the schema. */
export function renderConfigDoc(): string {
  const schema = deploymentJsonSchema() as JsonSchema;
  const properties = Object.entries(schema.properties ?? {});
  const sections: string[] = [HEADER];
  const topLevel = properties.filter(([, child]) => child.type !== 'object');
  sections.push(
    `## Top level\n\n${table(topLevel.flatMap(([name, child]) => rows(child, name, schema.required?.includes(name) ?? false)))}\n`,
  );
  for (const [name, child] of properties) {
    if (child.type !== 'object') continue;
    const intro = child.description === undefined ? '' : `${child.description}.\n\n`;
    sections.push(`## \`${name}\`\n\n${intro}${table(rows(child, name, false))}\n`);
  }
  return sections.join('\n');
}

/** `npm run docs:config`: writes docs/configuration.md (run from the built package). */
if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = process.argv[2] ?? 'docs/configuration.md';
  writeFileSync(target, renderConfigDoc());
  process.stdout.write(`wrote ${target}\n`);
}
