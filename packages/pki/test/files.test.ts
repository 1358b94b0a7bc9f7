import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CA_CERT_FILE,
  CA_KEY_FILE,
  createCA,
  issueCertificate,
  loadCA,
  writeCAFiles,
  writeCertificateFiles,
  type CertificateAuthority,
} from '../src/index.js';

let scratch: string;
let ca: CertificateAuthority;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'ambrosia-pki-'));
  ca = await createCA();
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** process.umask(mask) throws in worker threads; there the test runs with the inherited umask. */
function setUmask(mask: number): number | undefined {
  try {
    return process.umask(mask);
  } catch {
    return undefined;
  }
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

describe('CA files', () => {
  it('writes the key 0600 and the certificate 0644 in a 0700 directory, and loads them back', async () => {
    const dir = join(scratch, 'fresh', 'ca');
    // A restrictive umask must not leave the certificate unreadable, nor a loose one widen the key.
    const previousUmask = setUmask(0o077);
    try {
      const paths = await writeCAFiles(dir, ca);
      expect(paths).toEqual({ certPath: join(dir, CA_CERT_FILE), keyPath: join(dir, CA_KEY_FILE) });
    } finally {
      if (previousUmask !== undefined) process.umask(previousUmask);
    }
    expect(await modeOf(join(dir, CA_KEY_FILE))).toBe(0o600);
    expect(await modeOf(join(dir, CA_CERT_FILE))).toBe(0o644);
    expect(await modeOf(dir)).toBe(0o700);
    expect(await readdir(dir)).toEqual([CA_CERT_FILE, CA_KEY_FILE].sort()); // no temporary files left
    expect(await loadCA(dir)).toEqual(ca);
  });

  it('never overwrites an existing CA unless asked to', async () => {
    const dir = join(scratch, 'existing');
    await writeCAFiles(dir, ca);
    const other = await createCA();
    await expect(writeCAFiles(dir, other)).rejects.toMatchObject({ code: 'PKI_FILE_EXISTS' });
    expect(await loadCA(dir)).toEqual(ca);
    await writeCAFiles(dir, other, { overwrite: true });
    expect(await loadCA(dir)).toEqual(other);
    expect(await modeOf(join(dir, CA_KEY_FILE))).toBe(0o600);
  });

  it('refuses to clobber even when only one of the two files exists', async () => {
    const dir = join(scratch, 'half');
    await writeCAFiles(dir, ca);
    await rm(join(dir, CA_CERT_FILE));
    await expect(writeCAFiles(dir, ca)).rejects.toMatchObject({ code: 'PKI_FILE_EXISTS' });
  });

  it('will not load a CA whose key belongs to another certificate', async () => {
    const dir = join(scratch, 'mismatched');
    await writeCAFiles(dir, ca);
    await writeFile(join(dir, CA_KEY_FILE), (await createCA()).keyPem);
    await expect(loadCA(dir)).rejects.toMatchObject({ code: 'PKI_INVALID_CA' });
  });

  it('will not write something that is not a CA', async () => {
    const leaf = await issueCertificate(ca, { role: 'admin', commonName: 'a' });
    await expect(writeCAFiles(join(scratch, 'not-a-ca'), leaf)).rejects.toMatchObject({ code: 'PKI_INVALID_CA' });
  });
});

describe('certificate files', () => {
  it('writes <name>.crt and <name>.key with the same modes', async () => {
    const pair = await issueCertificate(ca, { role: 'service', commonName: 'im', permissions: [{ domain: 'example.org', type: 'client' }] });
    const dir = join(scratch, 'issued');
    const { certPath, keyPath } = await writeCertificateFiles(dir, 'im-service', pair);
    expect(certPath).toBe(join(dir, 'im-service.crt'));
    expect(await readFile(certPath, 'utf8')).toBe(pair.certPem);
    expect(await readFile(keyPath, 'utf8')).toBe(pair.keyPem);
    expect(await modeOf(keyPath)).toBe(0o600);
    expect(await modeOf(certPath)).toBe(0o644);
    await expect(writeCertificateFiles(dir, 'im-service', pair)).rejects.toMatchObject({ code: 'PKI_FILE_EXISTS' });
  });

  it('takes a plain file name, never a path', async () => {
    const pair = await issueCertificate(ca, { role: 'admin', commonName: 'a' });
    for (const name of ['', '../escape', 'a/b', '.hidden', '..']) {
      await expect(writeCertificateFiles(scratch, name, pair), name).rejects.toMatchObject({ code: 'PKI_INVALID_ARGUMENT' });
    }
  });
});
