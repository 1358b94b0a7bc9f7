/**
 * Certificates and keys on disk. Private keys are written mode 0600, certificates 0644, each
 * file atomically (a temporary file renamed or linked into place), so a crash never leaves a
 * half-written key and a concurrent reader never sees one.
 */
import { randomBytes } from 'node:crypto';
import { link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { openCA, type CertificateAndKey, type CertificateAuthority } from './ca.js';
import { PkiError } from './errors.js';

export const CA_CERT_FILE = 'ca.crt';
export const CA_KEY_FILE = 'ca.key';
export const PRIVATE_KEY_MODE = 0o600;
export const CERTIFICATE_MODE = 0o644;
const DIRECTORY_MODE = 0o700;

export interface WriteOptions {
  /** Replace existing files. Default false: `ambrosia ca init` must never clobber a CA. */
  overwrite?: boolean;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

async function writeAtomically(path: string, contents: string, mode: number, overwrite: boolean): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx' with the final mode: the key is never readable by others, not even for an instant.
  const handle = await open(temporary, 'wx', mode);
  try {
    await handle.writeFile(contents);
    await handle.chmod(mode); // the umask may have narrowed it; make it exact
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (overwrite) {
      await rename(temporary, path);
    } else {
      // link() fails with EEXIST instead of replacing: no window between check and write.
      await link(temporary, path);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new PkiError('PKI_FILE_EXISTS', `${path} already exists`, { cause: error });
    throw error;
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
}

async function writePair(certPath: string, keyPath: string, pair: CertificateAndKey, options: WriteOptions): Promise<void> {
  const overwrite = options.overwrite ?? false;
  await mkdir(dirname(certPath), { recursive: true, mode: DIRECTORY_MODE });
  if (!overwrite) {
    for (const path of [certPath, keyPath]) {
      if (await exists(path)) throw new PkiError('PKI_FILE_EXISTS', `${path} already exists`);
    }
  }
  await writeAtomically(keyPath, pair.keyPem, PRIVATE_KEY_MODE, overwrite);
  await writeAtomically(certPath, pair.certPem, CERTIFICATE_MODE, overwrite);
}

/** Writes `<dir>/ca.crt` (0644) and `<dir>/ca.key` (0600); the directory is created 0700. */
export async function writeCAFiles(dir: string, ca: CertificateAuthority, options: WriteOptions = {}): Promise<{ certPath: string; keyPath: string }> {
  openCA(ca); // refuse to persist a CA that would not load again
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  await writePair(certPath, keyPath, ca, options);
  return { certPath, keyPath };
}

/** Reads a CA written by writeCAFiles and checks that it is a CA and that key and certificate match. */
export async function loadCA(dir: string): Promise<CertificateAuthority> {
  const [certPem, keyPem] = await Promise.all([readFile(join(dir, CA_CERT_FILE), 'utf8'), readFile(join(dir, CA_KEY_FILE), 'utf8')]);
  const ca = { certPem, keyPem };
  openCA(ca);
  return ca;
}

/**
 * Writes `<dir>/<name>.crt` and `<dir>/<name>.key` for an issued or self-signed certificate;
 * `name` is a file name, not a path.
 */
export async function writeCertificateFiles(
  dir: string,
  name: string,
  pair: CertificateAndKey,
  options: WriteOptions = {},
): Promise<{ certPath: string; keyPath: string }> {
  if (name.length === 0 || name !== basename(name) || name.startsWith('.')) {
    throw new PkiError('PKI_INVALID_ARGUMENT', `file name ${JSON.stringify(name)} must be a plain name without directories`);
  }
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  await writePair(certPath, keyPath, pair, options);
  return { certPath, keyPath };
}
