import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * The root Dockerfile, read as data (no container runtime runs here): one build stage, a distroless
 * non-root runtime, one final stage per component whose command is the one the Kubernetes Deployment
 * runs, and a build context that never carries data dirs, keys or secrets.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dockerfile = readFileSync(`${ROOT}Dockerfile`, 'utf8').replace(/\\\n/g, ' ');
const instructions = dockerfile
  .split('\n')
  .map((line) => line.trim())
  .filter((line) => line !== '' && !line.startsWith('#'))
  .map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
  });

interface Stage {
  readonly from: string;
  readonly name: string;
  readonly lines: { keyword: string; args: string }[];
}
const stages: Stage[] = [];
for (const instruction of instructions) {
  if (instruction.keyword === 'FROM') {
    const [from, , name] = instruction.args.split(/\s+/);
    stages.push({ from: from!, name: name ?? '', lines: [] });
  } else stages.at(-1)?.lines.push(instruction);
}
const stage = (name: string): Stage => stages.find((s) => s.name === name)!;
const json = (args: string): string[] => JSON.parse(args) as string[];

describe('Dockerfile', () => {
  it('builds in a full Node image and runs in a distroless non-root one', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'runtime', 'auth-server', 'gateway', 'bff']);
    expect(stage('build').from).toMatch(/^node:\$\{NODE_MAJOR\}-bookworm-slim$/);
    expect(stage('runtime').from).toMatch(/^gcr\.io\/distroless\/nodejs\$\{NODE_MAJOR\}-debian12:nonroot$/);
    const user = stage('runtime').lines.find((l) => l.keyword === 'USER');
    expect(user?.args).toBe('65532:65532');
    // Nothing but the assembled tree reaches the runtime image.
    const copies = stage('runtime').lines.filter((l) => l.keyword === 'COPY');
    expect(copies.map((l) => l.args)).toEqual(['--from=build --chown=0:0 /out/ /app/']);
    expect(
      stage('build').lines.find((l) => l.keyword === 'RUN' && l.args.includes('assemble-runtime.sh')),
    ).toBeDefined();
    expect(dockerfile).not.toMatch(/:latest\b/);
  });

  it.each(['auth-server', 'gateway', 'bff'])(
    'the %s stage runs the command its Kubernetes Deployment runs (same config layout, data dir)',
    (component) => {
      const cmd = json(stage(component).lines.find((l) => l.keyword === 'CMD')!.args);
      expect(cmd[0]).toBe(component);
      expect(cmd.slice(-2)).toEqual(['--data-dir', '/var/lib/gatehouse']);
      const manifest = parseAllDocuments(readFileSync(`${ROOT}deploy/kubernetes/${component}.yaml`, 'utf8'))
        .map((d) => d.toJS() as Deployment)
        .find((d) => d.kind === 'Deployment')!;
      const container = manifest.spec!.template.spec!.containers[0]!;
      expect(container.args?.[0]).toBe(component);
      expect(container.args?.slice(-2)).toEqual(['--data-dir', '/var/lib/gatehouse']);
      const exposed = stage(component)
        .lines.filter((l) => l.keyword === 'EXPOSE')
        .flatMap((l) => l.args.split(/\s+/).map(Number));
      const ports = (container.ports ?? []).map((p) => p.containerPort);
      expect(exposed.sort()).toEqual([...ports].sort());
    },
  );

  it('keeps data dirs, keys, secrets and local builds out of the build context', () => {
    const ignored = readFileSync(`${ROOT}.dockerignore`, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#'));
    for (const pattern of [
      '**/node_modules',
      '**/dist',
      '.git',
      '.gatehouse',
      '.gatehouse-tls',
      '**/*.pem',
      '**/*.key',
      '.env',
    ])
      expect(ignored).toContain(pattern);
  });
});
