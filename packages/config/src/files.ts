// The files a role needs: present, readable and of the right kind, checked before anything
// starts (and by `ambrosia check config`). Deeper checks — a key matching its certificate, a CA
// that is really a CA — belong to @ambrosia/pki and run where the material is loaded.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, type ConfigProblem } from './problems.js';
import type { AmbrosiaConfig } from './schema.js';

export type Role = 'gateway' | 'im-service';

/** Largest certificate, key or secret file read while checking. */
export const MAX_MATERIAL_BYTES = 1024 * 1024;
/** `ambrosia ca init` writes these (@ambrosia/pki CA_CERT_FILE, CA_KEY_FILE). */
export const CA_FILES = { cert: 'ca.crt', key: 'ca.key' } as const;
/** A decoy secret shorter than this is refused (@ambrosia/auth needs 16 bytes). */
export const MIN_DECOY_SECRET_BYTES = 16;

type Kind = 'certificate' | 'key' | 'secret';

const PEM_LABEL: Record<Exclude<Kind, 'secret'>, RegExp> = {
  certificate: /-----BEGIN CERTIFICATE-----/,
  key: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/,
};

function errnoText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return code ?? 'cannot be read';
}

async function checkFile(path: ReadonlyArray<string | number>, file: string, kind: Kind): Promise<ConfigProblem | undefined> {
  try {
    const info = await stat(file);
    if (!info.isFile()) return { path, message: `${file} is not a file` };
    if (info.size > MAX_MATERIAL_BYTES) return { path, message: `${file} is larger than ${MAX_MATERIAL_BYTES} bytes` };
    const content = await readFile(file, kind === 'secret' ? undefined : 'utf8');
    if (kind === 'secret') {
      if (content.length < MIN_DECOY_SECRET_BYTES) return { path, message: `${file} holds fewer than ${MIN_DECOY_SECRET_BYTES} bytes` };
    } else if (!PEM_LABEL[kind].test(content as string)) {
      return { path, message: `${file} holds no PEM ${kind === 'key' ? 'private key' : 'certificate'}` };
    }
    return undefined;
  } catch (error) {
    return { path, message: `cannot read ${file}: ${errnoText(error)}` };
  }
}

/** Both roles that read a CA directory issue certificates from it, so its key is always needed. */
async function checkCaDir(path: ReadonlyArray<string | number>, dir: string): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const wanted: Array<[string, Kind]> = [
    [CA_FILES.cert, 'certificate'],
    [CA_FILES.key, 'key'],
  ];
  for (const [name, kind] of wanted) {
    const problem = await checkFile(path, join(dir, name), kind);
    if (problem !== undefined) {
      problems.push({ ...problem, message: `${problem.message} (create the CA with \`ambrosia ca init --dir ${dir}\`, or give certificate files)` });
    }
  }
  return problems;
}

async function gatewayProblems(gateway: AmbrosiaConfig['gateway']): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  const at = (...rest: Array<string | number>): Array<string | number> => ['gateway', ...rest];
  const { tls } = gateway;
  if (tls.channelCert !== undefined) {
    for (const [key, kind] of [['channelCert', 'certificate'], ['channelKey', 'key'], ['caCert', 'certificate']] as const) {
      const problem = await checkFile(at('tls', key), tls[key]!, kind);
      if (problem !== undefined) problems.push(problem);
    }
  }
  // The gateway issues its channel certificate and missing domain certificates with the CA key.
  if (tls.caDir !== undefined) problems.push(...(await checkCaDir(at('tls', 'caDir'), tls.caDir)));
  for (const [index, entry] of (gateway.domainCertificates ?? []).entries()) {
    for (const [key, kind] of [['cert', 'certificate'], ['key', 'key']] as const) {
      const problem = await checkFile(at('domainCertificates', index, key), entry[key], kind);
      if (problem !== undefined) problems.push(problem);
    }
  }
  if (gateway.auth?.decoySecretFile !== undefined) {
    const problem = await checkFile(at('auth', 'decoySecretFile'), gateway.auth.decoySecretFile, 'secret');
    if (problem !== undefined) problems.push(problem);
  }
  return problems;
}

async function imServiceProblems(config: AmbrosiaConfig): Promise<ConfigProblem[]> {
  const im = config.imService;
  if (im === undefined) return [{ path: ['imService'], message: 'is missing: the IM service needs at least imService.domains' }];
  const problems: ConfigProblem[] = [];
  if (im.tls.cert !== undefined) {
    for (const [key, kind] of [['cert', 'certificate'], ['key', 'key'], ['caCert', 'certificate']] as const) {
      const problem = await checkFile(['imService', 'tls', key], im.tls[key]!, kind);
      if (problem !== undefined) problems.push(problem);
    }
  } else if (im.tls.caDir !== undefined) {
    // No certificate files: one is issued for the domains at start, with the CA key.
    problems.push(...(await checkCaDir(['imService', 'tls', 'caDir'], im.tls.caDir)));
  }
  return problems;
}

/** The problems of the files the given roles read; none means they can start. */
export async function configFileProblems(config: AmbrosiaConfig, roles: readonly Role[]): Promise<ConfigProblem[]> {
  const problems: ConfigProblem[] = [];
  if (roles.includes('gateway')) problems.push(...(await gatewayProblems(config.gateway)));
  if (roles.includes('im-service')) problems.push(...(await imServiceProblems(config)));
  return problems;
}

/** Rejects with a ConfigError when a file the roles need is missing, unreadable or not PEM. */
export async function checkConfigFiles(config: AmbrosiaConfig, roles: readonly Role[]): Promise<void> {
  const problems = await configFileProblems(config, roles);
  if (problems.length > 0) throw new ConfigError(problems);
}
