import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CA_DIR_ENV, DEFAULT_CA_DIR } from '@ambrosia/config';
import {
  DEFAULT_CA_VALIDITY_DAYS,
  DEFAULT_CERTIFICATE_VALIDITY_DAYS,
  createCA,
  isPkiError,
  issueCertificate,
  loadCA,
  writeCAFiles,
  writeCertificateFiles,
  type KeyType,
  type RegistrationType,
  type Role,
  type ServicePermission,
} from '@ambrosia/pki';
import { CliError, EXIT_USAGE, type Output } from '../output.js';


function caDir(option: string | undefined): string {
  return resolve(option ?? process.env[CA_DIR_ENV] ?? DEFAULT_CA_DIR);
}

function positiveInt(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`${flag} must be a positive whole number of days (got "${value}")`, EXIT_USAGE);
  return n;
}

function keyType(value: string): KeyType {
  if (value !== 'ec' && value !== 'rsa') throw new CliError(`--key-type must be ec or rsa (got "${value}")`, EXIT_USAGE);
  return value;
}

/** `example.org/client` → a permission; the pki package canonicalises and checks the domain. */
function parsePermission(text: string): ServicePermission {
  const slash = text.lastIndexOf('/');
  const type = text.slice(slash + 1);
  if (slash <= 0 || !['client', 'server', 'component'].includes(type)) {
    throw new CliError(`--register takes domain/type with type client, server or component (got "${text}")`, EXIT_USAGE);
  }
  return { domain: text.slice(0, slash), type: type as RegistrationType };
}

function pkiMessage(e: unknown): never {
  if (isPkiError(e)) {
    if (e.code === 'PKI_FILE_EXISTS') throw new CliError(`${e.message} (pass --force to replace it)`, 1, e.code);
    throw new CliError(e.message, e.code === 'PKI_INVALID_ARGUMENT' ? EXIT_USAGE : 1, e.code);
  }
  if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new CliError(`${(e as Error).message}: run \`ambrosia ca init\` first`, 1);
  throw e;
}

export function registerCaCommands(program: Command, getOutput: () => Output): void {
  const ca = program
    .command('ca')
    .description('the cluster certificate authority: gateways, services and admins authenticate each other with its certificates')
    .option('--dir <dir>', `where ca.crt and ca.key live (default $${CA_DIR_ENV} or ${DEFAULT_CA_DIR})`);
  const dir = (): string => caDir(ca.opts<{ dir?: string }>().dir);

  ca.command('init')
    .description('create a new cluster CA (ca.crt, and ca.key readable by its owner only)')
    .option('--name <commonName>', 'the CA certificate common name')
    .option('--days <days>', 'validity in days', String(DEFAULT_CA_VALIDITY_DAYS))
    .option('--key-type <type>', 'ec (P-256, default: cheaper handshakes) or rsa', 'ec')
    .option('--force', 'replace an existing CA (every certificate it issued stops working)')
    .action(async (flags: { name?: string; days: string; keyType: string; force?: boolean }) => {
      const created = await createCA({
        validityDays: positiveInt(flags.days, '--days'),
        keyType: keyType(flags.keyType),
        ...(flags.name !== undefined ? { commonName: flags.name } : {}),
      }).catch(pkiMessage);
      const paths = await writeCAFiles(dir(), created, { overwrite: Boolean(flags.force) }).catch(pkiMessage);
      getOutput().result(paths, (p: typeof paths) => `CA certificate: ${p.certPath}\nCA private key: ${p.keyPath} (keep it offline in production)`);
    });

  ca.command('issue <role> <name>')
    .description('issue a gateway, service or admin certificate signed by the CA')
    .option('--out <dir>', 'where to write <name>.crt and <name>.key (default: the CA directory)')
    .option('--register <domain/type...>', 'service: what it may register, e.g. example.org/client (repeatable; * for every domain)')
    .option('--host <name...>', 'gateway: host names or IP addresses it is reached at (repeatable)')
    .option('--days <days>', 'validity in days', String(DEFAULT_CERTIFICATE_VALIDITY_DAYS))
    .option('--key-type <type>', 'ec or rsa', 'ec')
    .option('--force', 'replace existing files')
    .action(
      async (
        role: string,
        name: string,
        flags: { out?: string; register?: string[]; host?: string[]; days: string; keyType: string; force?: boolean },
      ) => {
        if (role !== 'gateway' && role !== 'service' && role !== 'admin') {
          throw new CliError(`role must be gateway, service or admin (got "${role}")`, EXIT_USAGE);
        }
        const permissions = (flags.register ?? []).map(parsePermission);
        if (role === 'service' && permissions.length === 0) {
          throw new CliError('a service certificate needs at least one --register domain/type', EXIT_USAGE);
        }
        if (role !== 'service' && permissions.length > 0) throw new CliError('--register is only for service certificates', EXIT_USAGE);
        if (role !== 'gateway' && flags.host !== undefined) throw new CliError('--host is only for gateway certificates', EXIT_USAGE);
        const hosts = flags.host ?? [];
        const authority = await loadCA(dir()).catch(pkiMessage);
        const pair = await issueCertificate(authority, {
          role: role as Role,
          commonName: name,
          dnsNames: hosts.filter((h) => isIP(h) === 0),
          ipAddresses: hosts.filter((h) => isIP(h) !== 0),
          ...(permissions.length > 0 ? { permissions } : {}),
          validityDays: positiveInt(flags.days, '--days'),
          keyType: keyType(flags.keyType),
        }).catch(pkiMessage);
        const paths = await writeCertificateFiles(resolve(flags.out ?? dir()), name, pair, { overwrite: Boolean(flags.force) }).catch(pkiMessage);
        getOutput().result({ role, name, ...paths, permissions }, () => `${role} certificate: ${paths.certPath}\nprivate key: ${paths.keyPath}`);
      },
    );
}
