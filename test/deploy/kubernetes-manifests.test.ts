import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deploymentFindings, loadDeployment, type CliIo } from 'gatehouse';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { ConfigMap, Container, EnvVar, PodTemplateSpec, Service } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { NetworkPolicy, NetworkPolicyPeer } from 'kubernetes-types/networking/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/**
 * deploy/kubernetes: every manifest is checked against the Kubernetes API types (the `kubernetes-types`
 * package, generated from the Kubernetes OpenAPI document) by the TypeScript compiler, which refuses
 * unknown fields, missing required fields and wrong types, as `kubeconform -strict` would. Then the
 * deployment rules of issue 7 are asserted: probes, limits, non-root, read-only root filesystem, secrets
 * from Secrets only, a PodDisruptionBudget per component, and network policies that deny by default and
 * let only the gateway reach the services. Each component's configuration loads with exactly the
 * environment its Deployment gives it, and production would start with it (no high-severity finding).
 */
const DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPONENTS = ['auth-server', 'gateway', 'bff'] as const;

/** A parsed document: what every Kubernetes object has; the rest is checked by `typeCheck`. */
interface KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}
interface Manifest {
  readonly file: string;
  readonly index: number;
  readonly doc: KubernetesObject;
}

const manifestFiles = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
const manifests: Manifest[] = manifestFiles.flatMap((file) =>
  parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((document, index) => {
    if (document.errors.length > 0) throw new Error(`${file}#${index}: ${document.errors[0]!.message}`);
    return { file, index, doc: document.toJS() as KubernetesObject };
  }),
);
/** The documents of one kind, typed (sound once `typeCheck` passed, which the first tests assert). */
interface Kinds {
  Deployment: Deployment;
  Service: Service;
  ConfigMap: ConfigMap;
  PodDisruptionBudget: PodDisruptionBudget;
  NetworkPolicy: NetworkPolicy;
}
const byKind = <K extends keyof Kinds>(kind: K): Kinds[K][] =>
  manifests.filter((m) => m.doc.kind === kind).map((m) => m.doc as unknown as Kinds[K]);
const named = <K extends keyof Kinds>(kind: K, name: string): Kinds[K] => {
  const found = byKind(kind).find((doc) => doc.metadata?.name === name);
  if (found === undefined) throw new Error(`no ${kind} ${name}`);
  return found;
};

/** apiVersion → the kubernetes-types module that declares it. */
const TYPE_MODULES: Record<string, string> = {
  v1: 'kubernetes-types/core/v1',
  'apps/v1': 'kubernetes-types/apps/v1',
  'policy/v1': 'kubernetes-types/policy/v1',
  'networking.k8s.io/v1': 'kubernetes-types/networking/v1',
};

/** Type-checks the manifests as object literals of their API type; returns the compiler's complaints. */
function typeCheck(items: readonly Manifest[]): string[] {
  const source = items
    .map((m, i) => {
      const module = TYPE_MODULES[m.doc.apiVersion] ?? 'unknown-api-version';
      return `// ${m.file}#${String(m.index)}\nexport const m${String(i)}: import('${module}').${m.doc.kind} = ${JSON.stringify(m.doc, null, 1)};`;
    })
    .join('\n');
  const fileName = join(ROOT, 'test/deploy/__k8s_manifests__.ts');
  const options: ts.CompilerOptions = {
    strict: true,
    exactOptionalPropertyTypes: true,
    noEmit: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es5.d.ts'],
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  host.readFile = (name) => (name === fileName ? source : readFile(name));
  host.fileExists = (name) => name === fileName || ts.sys.fileExists(name);
  host.getSourceFile = (name, language) =>
    name === fileName ? ts.createSourceFile(name, source, language) : getSourceFile(name, language);
  const program = ts.createProgram([fileName], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file === undefined || d.start === undefined) return text;
    const line = d.file.getLineAndCharacterOfPosition(d.start).line;
    const origin = source
      .split('\n')
      .slice(0, line + 1)
      .reverse()
      .find((l) => l.startsWith('// '));
    return `${origin ?? '?'}: ${text}`;
  });
}

describe('Kubernetes manifests: schema', () => {
  it('kustomization.yaml lists every manifest of the folder, and only those', () => {
    const kustomization = parseAllDocuments(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8'))[0]!.toJS();
    expect([...(kustomization.resources as string[])].sort()).toEqual([...manifestFiles].sort());
  });

  it('every document is a known API type and type-checks against the Kubernetes API', () => {
    expect(manifests.length).toBeGreaterThan(10);
    for (const m of manifests)
      expect(TYPE_MODULES, `${m.file}#${m.index}`).toHaveProperty([m.doc.apiVersion]);
    expect(typeCheck(manifests)).toEqual([]);
  });

  // The check is only worth something if it refuses what kubeconform -strict refuses. One compiler
  // run for every case: each broken copy is its own "file" in the error origins.
  type Mutable = Record<string, Record<string, unknown>>;
  const containerOf = (d: Deployment): Container => d.spec!.template.spec!.containers[0]!;
  const broken: [string, (d: Deployment) => void, RegExp][] = [
    [
      'an unknown field',
      (d) => ((containerOf(d) as unknown as Record<string, unknown>)['imagePullSecret'] = 'x'),
      /imagePullSecret/,
    ],
    ['a misspelt field', (d) => ((d as unknown as Mutable)['spec']!['replica'] = 2), /replica/],
    ['a wrong type', (d) => ((d as unknown as Mutable)['spec']!['replicas'] = 'two'), /string.*number/],
    ['a missing required field', (d) => delete (d as unknown as Mutable)['spec']!['selector'], /selector/],
    ['a container without a name', (d) => delete (containerOf(d) as Partial<Container>).name, /name/],
    [
      'a probe port of the wrong type',
      (d) => ((containerOf(d).livenessProbe!.httpGet as unknown as Record<string, unknown>)['port'] = true),
      /boolean/,
    ],
  ];
  let brokenErrors: string[] | undefined;
  it.each(broken)('the type check refuses %s', (name, _breakIt, complaint) => {
    brokenErrors ??= typeCheck(
      broken.map(([caseName, breakIt]) => {
        const doc = structuredClone(named('Deployment', 'gateway'));
        breakIt(doc);
        return { file: caseName, index: 0, doc: doc as unknown as KubernetesObject };
      }),
    );
    const mine = brokenErrors.filter((e) => e.startsWith(`// ${name}#0:`));
    expect(mine.join('\n')).toMatch(complaint);
  });
});

describe('Kubernetes manifests: deployment rules', () => {
  const envOf = (container: Container): EnvVar[] => container.env ?? [];
  const podOf = (component: string): PodTemplateSpec => named('Deployment', component).spec!.template;

  describe.each(COMPONENTS)('%s', (component) => {
    const deployment = named('Deployment', component);
    const pod = podOf(component);
    const spec = pod.spec!;
    const container = spec.containers[0]!;
    const labels = pod.metadata!.labels;

    it('runs several replicas, rolls without losing capacity, and is spread across nodes', () => {
      expect(deployment.spec!.replicas).toBeGreaterThanOrEqual(2);
      expect(deployment.spec!.strategy!.rollingUpdate!.maxUnavailable).toBe(0);
      expect(spec.topologySpreadConstraints).toHaveLength(1);
    });

    it('runs as non-root with a read-only root filesystem, no privilege escalation, no capabilities', () => {
      expect(spec.securityContext).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      });
      expect(container.securityContext).toEqual({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(spec.automountServiceAccountToken).toBe(false);
      // The only writable paths are the data dir and /tmp (emptyDir).
      const writable = (container.volumeMounts ?? []).filter((v) => v.readOnly !== true);
      expect(writable.map((v) => v.mountPath).sort()).toEqual(['/tmp', '/var/lib/gatehouse']);
    });

    it('has requests and limits, and startup, liveness and readiness probes on a declared port', () => {
      for (const bound of [container.resources?.requests, container.resources?.limits]) {
        expect(bound).toHaveProperty('cpu');
        expect(bound).toHaveProperty('memory');
      }
      const ports = new Set((container.ports ?? []).map((p) => p.name));
      for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
        expect(ports).toContain(probe?.httpGet?.port);
        expect(probe?.httpGet?.scheme).toBe('HTTPS');
      }
      expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    });

    it('takes every secret from a Secret, never from a literal', () => {
      for (const variable of envOf(container)) {
        if (/SECRET|TOKEN|KEY|KEK|_URL|_ID$/.test(variable.name)) {
          expect(variable, variable.name).not.toHaveProperty('value');
          expect(variable.valueFrom).toHaveProperty('secretKeyRef');
        }
      }
      expect(container.image).toMatch(/^gatehouse\/[a-z-]+:\d+\.\d+\.\d+$/);
    });

    it('is covered by a PodDisruptionBudget and a Service that select its pods', () => {
      const pdb = named('PodDisruptionBudget', component);
      expect(pdb.spec!.minAvailable).toBe(1);
      expect(labels).toMatchObject(pdb.spec!.selector!.matchLabels!);
      const service = byKind('Service').find(
        (s) => s.spec?.selector?.['app.kubernetes.io/name'] === component,
      );
      expect(labels).toMatchObject(service!.spec!.selector!);
    });

    it('loads its configuration with exactly the environment the Deployment gives it; production starts', async () => {
      const args = container.args ?? [];
      expect(args[0]).toBe(component);
      const configPath = args[args.indexOf('--config') + 1]!;
      const mount = (container.volumeMounts ?? []).find((v) => configPath.startsWith(`${v.mountPath}/`))!;
      const volume = (spec.volumes ?? []).find((v) => v.name === mount.name)!;
      const configMap = named('ConfigMap', volume.configMap!.name!);
      const text = configMap.data![configPath.slice(mount.mountPath.length + 1)]!;
      const dir = mkdtempSync(join(tmpdir(), 'gatehouse-k8s-'));
      writeFileSync(join(dir, 'gatehouse.yaml'), text);
      const env: Record<string, string> = { NODE_ENV: 'production' };
      for (const { name, value } of envOf(container)) {
        const store = name.startsWith('REDIS') ? 'redis' : 'postgres';
        env[name] = value ?? (name.endsWith('_URL') ? `${store}://store.example:1/x` : 'A'.repeat(43));
      }
      const io = { env, cwd: dir } as unknown as CliIo;
      const loaded = await loadDeployment(io, { config: 'gatehouse.yaml' });
      expect(loaded.production).toBe(true);
      expect(loaded.databaseUrl).toMatch(/^postgres:/);
      expect(loaded.dataDir).toBe('/var/lib/gatehouse');
      // The auth server refuses to start in production on a high-severity finding (`gatehouse doctor`
      // lists the same); the BFF's file has no auth server admin API, so `admin.token` is not its concern.
      const high = deploymentFindings(loaded)
        .filter((f) => f.severity === 'high')
        .map((f) => f.check);
      expect(high).toEqual(component === 'bff' ? ['admin_token_missing'] : []);
      // Nothing in the file names a variable the pod does not have (loadDeployment would have thrown),
      // and the pod gets no variable its file does not use, except the ones the CLI reads itself.
      const used = new Set([...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!));
      const readByCli = [
        'NODE_ENV',
        'NODE_EXTRA_CA_CERTS',
        'DATABASE_URL',
        'REDIS_URL',
        'GATEHOUSE_KEK',
        'GATEHOUSE_AUDIT_PSEUDONYM_KEY',
      ];
      expect(Object.keys(env).filter((name) => !used.has(name) && !readByCli.includes(name))).toEqual([]);
    });
  });

  it('only the auth server holds the key-encryption key', () => {
    for (const component of COMPONENTS) {
      const names = envOf(podOf(component).spec!.containers[0]!).map((v) => v.name);
      expect(names.includes('GATEHOUSE_KEK'), component).toBe(component === 'auth-server');
    }
  });
});

describe('Kubernetes manifests: network policies', () => {
  const policies = byKind('NetworkPolicy');
  const policy = (name: string): NetworkPolicy => policies.find((p) => p.metadata?.name === name)!;

  it('deny every ingress and egress in the gatehouse namespace unless a policy opens it', () => {
    expect(policy('default-deny').spec).toEqual({ podSelector: {}, policyTypes: ['Ingress', 'Egress'] });
  });

  it('let only the gateway pods reach the services namespace, and only on the service port', () => {
    const services = policies.filter((p) => p.metadata?.namespace === 'gatehouse-services');
    expect(services).toHaveLength(1);
    const spec = services[0]!.spec!;
    expect(spec.podSelector).toEqual({});
    expect(spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(spec.ingress).toEqual([
      {
        from: [
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gatehouse' } },
            podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway' } },
          },
        ],
        ports: [{ protocol: 'TCP', port: 8443 }],
      },
    ]);
    // Of the gatehouse pods, only the gateway may leave for the services namespace.
    const reachesServices = (peer: NetworkPolicyPeer): boolean =>
      peer.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'gatehouse-services';
    const toServices = policies.filter((p) =>
      (p.spec?.egress ?? []).some((rule) => (rule.to ?? []).some(reachesServices)),
    );
    expect(toServices.map((p) => p.metadata?.name)).toEqual(['gateway']);
  });

  it('open the admin listeners to the monitoring namespace only', () => {
    for (const [name, port] of [
      ['auth-server', 9090],
      ['gateway', 9091],
    ] as const) {
      const admin = (policy(name).spec?.ingress ?? []).filter((rule) =>
        (rule.ports ?? []).some((p) => p.port === port),
      );
      expect(admin).toEqual([
        {
          from: [{ namespaceSelector: { matchLabels: { 'gatehouse.dev/monitoring': 'true' } } }],
          ports: [{ protocol: 'TCP', port }],
        },
      ]);
    }
  });

  it('every namespaced object names its namespace (no reliance on the kubectl context)', () => {
    for (const m of manifests) {
      if (m.doc.kind === 'Namespace') continue;
      expect(['gatehouse', 'gatehouse-services'], `${m.file}#${m.index}`).toContain(m.doc.metadata.namespace);
    }
  });
});
