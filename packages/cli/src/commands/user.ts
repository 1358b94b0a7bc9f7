import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { addUser, deleteUser, isAuthError, listUsers, setPassword, setUserDisabled } from '@ambrosia/auth';
import { CliError, EXIT_USAGE, type Output } from '../output.js';
import { registryUrl, withRegistry } from '../registry.js';

interface PasswordFlags {
  password?: string;
  passwordStdin?: boolean;
}

/** `user@domain` → parts; the auth package normalises them (PRECIS, IDNA). */
function splitAccount(account: string): { user: string; domain: string } {
  const at = account.indexOf('@');
  if (at <= 0 || at === account.length - 1 || account.includes('/')) {
    throw new CliError(`"${account}" is not an account address: write it as user@domain`, EXIT_USAGE);
  }
  return { user: account.slice(0, at), domain: account.slice(at + 1) };
}

async function readStdinLine(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
    if (size > 4096) break; // a password is one line; never buffer an unbounded stdin
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/, 1)[0] ?? '';
}

/** The password from a flag, from stdin, or a generated one that is printed once. */
async function choosePassword(flags: PasswordFlags): Promise<{ password: string; generated: boolean }> {
  if (flags.password !== undefined && flags.passwordStdin) {
    throw new CliError('give either --password or --password-stdin, not both', EXIT_USAGE);
  }
  if (flags.password !== undefined) return { password: flags.password, generated: false };
  if (flags.passwordStdin) return { password: await readStdinLine(), generated: false };
  return { password: randomBytes(12).toString('base64url'), generated: true };
}

function authMessage(e: unknown, account: string): never {
  if (isAuthError(e)) {
    const exitCode = e.code === 'ERR_AUTH_USER_EXISTS' || e.code === 'ERR_AUTH_USER_NOT_FOUND' ? 1 : EXIT_USAGE;
    const text: Record<string, string> = {
      ERR_AUTH_USER_EXISTS: `${account} already exists`,
      ERR_AUTH_USER_NOT_FOUND: `${account} does not exist`,
    };
    throw new CliError(text[e.code] ?? `${account}: ${e.message}`, exitCode, e.code);
  }
  throw e;
}

export function registerUserCommands(program: Command, getOutput: () => Output): void {
  const user = program
    .command('user')
    .description('manage accounts in the cluster registry (SCRAM records; passwords are never stored)')
    .option('--registry <url>', 'registry URL (default $AMBROSIA_REGISTRY_URL or redis://127.0.0.1:6379)');
  const url = (): string => registryUrl(user.opts<{ registry?: string }>().registry);

  user
    .command('add <account>')
    .description('create user@domain; prints a generated password unless one is given')
    .option('--password <password>', 'the password (visible to other local users in the process list)')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .action(async (account: string, flags: PasswordFlags) => {
      const { user: name, domain } = splitAccount(account);
      const { password, generated } = await choosePassword(flags);
      const created = await withRegistry(url(), (registry) =>
        addUser(registry.credentials, domain, name, password).catch((e) => authMessage(e, account)),
      );
      const jid = `${created.user}@${created.domain}`;
      getOutput().result({ jid, ...(generated ? { password } : {}) }, () =>
        generated ? `created ${jid} with password ${password}` : `created ${jid}`,
      );
    });

  user
    .command('passwd <account>')
    .description("set user@domain's password (new salts for every hash)")
    .option('--password <password>', 'the new password')
    .option('--password-stdin', 'read the new password from the first line of standard input')
    .action(async (account: string, flags: PasswordFlags) => {
      const { user: name, domain } = splitAccount(account);
      const { password, generated } = await choosePassword(flags);
      await withRegistry(url(), (registry) =>
        setPassword(registry.credentials, domain, name, password).catch((e) => authMessage(e, account)),
      );
      getOutput().result({ jid: account, ...(generated ? { password } : {}) }, () =>
        generated ? `new password for ${account}: ${password}` : `password of ${account} changed`,
      );
    });

  for (const [verb, disabled] of [['disable', true], ['enable', false]] as const) {
    user
      .command(`${verb} <account>`)
      .description(disabled ? 'refuse logins (SASL account-disabled) without deleting' : 'allow logins again')
      .action(async (account: string) => {
        const { user: name, domain } = splitAccount(account);
        await withRegistry(url(), (registry) =>
          setUserDisabled(registry.credentials, domain, name, disabled).catch((e) => authMessage(e, account)),
        );
        getOutput().result({ jid: account, disabled }, () => `${account} ${disabled ? 'disabled' : 'enabled'}`);
      });
  }

  user
    .command('del <account>')
    .description('delete user@domain')
    .action(async (account: string) => {
      const { user: name, domain } = splitAccount(account);
      await withRegistry(url(), (registry) => deleteUser(registry.credentials, domain, name).catch((e) => authMessage(e, account)));
      getOutput().result({ jid: account, deleted: true }, () => `deleted ${account}`);
    });

  user
    .command('list <domain>')
    .description("list a domain's users, a page at a time")
    .option('--limit <n>', 'users per page (1-1000)', '100')
    .option('--cursor <cursor>', 'the cursor printed with the previous page')
    .action(async (domain: string, flags: { limit: string; cursor?: string }) => {
      const limit = Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit must be an integer from 1 to 1000', EXIT_USAGE);
      const page = await withRegistry(url(), (registry) =>
        listUsers(registry.credentials, domain, { limit, ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}) }).catch((e) =>
          authMessage(e, domain),
        ),
      );
      getOutput().result(page, (p: typeof page) =>
        [...p.users.map((u) => `${u}@${domain}`), ...(p.cursor !== undefined ? [`(more: --cursor ${p.cursor})`] : [])].join('\n') ||
        `no users in ${domain}`,
      );
    });
}
