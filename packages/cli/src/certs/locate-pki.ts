import { join, resolve } from 'node:path';
import type { CliIo } from '../io.js';
import { pkiFiles } from '../stack/build-stack-deployment.js';
import { loadStack } from '../stack/load-stack.js';

/** A certificate file and its private key file, as `gatehouse init` names them. */
export interface CertificateFiles {
  readonly cert: string;
  readonly key: string;
}

/** The development PKI folder of a data dir (`<dataDir>/pki`). */
export interface PkiFolder {
  readonly dataDir: string;
  readonly folder: string;
  readonly ca: CertificateFiles;
  /** `<folder>/NAME.pem` and `<folder>/NAME-key.pem`; NAME must have passed `checkCertificateName`. */
  filesOf(name: string): CertificateFiles;
}

export interface LocatePkiOptions {
  readonly config?: string | undefined;
  readonly dataDir?: string | undefined;
}

/**
 * `--data-dir DIR` when given (resolved as `gatehouse init` resolves it), else the data dir of the
 * stack file. With `--data-dir` the stack file is not read: certificates can be listed and renewed
 * on a data dir that has no stack file beside it.
 */
export async function locatePki(io: CliIo, options: LocatePkiOptions): Promise<PkiFolder> {
  const dataDir =
    options.dataDir === undefined
      ? (await loadStack(io, { config: options.config })).dataDir
      : resolve(io.cwd, options.dataDir);
  const files = pkiFiles(dataDir);
  return {
    dataDir,
    folder: files.folder,
    ca: files.ca,
    filesOf: (name) => ({
      cert: join(files.folder, `${name}.pem`),
      key: join(files.folder, `${name}-key.pem`),
    }),
  };
}
