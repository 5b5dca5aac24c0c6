import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { run, type CliIo } from '../../src/index.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly cwd: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Text on standard input (a pipe, not a terminal). */
  readonly stdin?: string;
  readonly signal?: AbortSignal;
}

/** Runs the CLI in-process with captured streams. */
export async function runCli(argv: readonly string[], options: RunOptions): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from(options.stdin === undefined ? [] : [Buffer.from(options.stdin)]),
    env: options.env ?? {},
    cwd: options.cwd,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  const code = await run(argv, io);
  return { code, stdout, stderr };
}

/** A 32-byte key-encryption key for tests, as GATEHOUSE_KEK carries it. */
export const TEST_KEK_B64 = Buffer.alloc(32, 9).toString('base64');
/** An admin token of the required strength. */
export const TEST_ADMIN_TOKEN = randomBytes(32).toString('base64url');

export const MINIMAL_CONFIG = `# test deployment
authServer:
  issuer: http://127.0.0.1:4000
  listen:
    port: 0
admin:
  token: \${GATEHOUSE_ADMIN_TOKEN}
  listen:
    port: 0
`;

export interface TestDeployment {
  /** Folder holding gatehouse.yaml (the data dir is `.gatehouse` inside it). */
  readonly dir: string;
  readonly configFile: string;
  readonly dataDir: string;
  /** Environment for the CLI: test KEK and admin token, never the machine's DATABASE_URL/REDIS_URL. */
  readonly env: Readonly<Record<string, string>>;
  run(argv: readonly string[], options?: Omit<RunOptions, 'cwd'>): Promise<CliResult>;
  remove(): Promise<void>;
}

/** A temporary folder with a gatehouse.yaml on embedded stores (SQLite + memory). */
export async function createTestDeployment(config = MINIMAL_CONFIG): Promise<TestDeployment> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-cli-'));
  const configFile = join(dir, 'gatehouse.yaml');
  await writeFile(configFile, config);
  const env = { GATEHOUSE_KEK: TEST_KEK_B64, GATEHOUSE_ADMIN_TOKEN: TEST_ADMIN_TOKEN };
  return {
    dir,
    configFile,
    dataDir: join(dir, '.gatehouse'),
    env,
    run: (argv, options = {}) => runCli(argv, { ...options, cwd: dir, env: { ...env, ...options.env } }),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
