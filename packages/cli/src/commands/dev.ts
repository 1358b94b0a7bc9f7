import type { Command } from 'commander';
import { startDev, type DevAccount, type DevInfo } from '../dev.js';
import { CliError, EXIT_USAGE, type Output } from '../output.js';

function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new CliError(`${flag} must be a port number from 0 to 65535 (got "${value}")`, EXIT_USAGE);
  return n;
}

function account(value: string, previous: DevAccount[]): DevAccount[] {
  const colon = value.indexOf(':');
  if (colon <= 0 || colon === value.length - 1) throw new CliError(`--user takes name:password (got "${value}")`, EXIT_USAGE);
  return [...previous, { user: value.slice(0, colon), password: value.slice(colon + 1) }];
}

function describe(info: DevInfo): string {
  const width = Math.max(...info.accounts.map((a) => a.jid.length));
  return [
    `Ambrosia dev is running for ${info.domain}.`,
    `  clients      ${info.host}:${info.ports.c2s} (STARTTLS)   ${info.host}:${info.ports.c2sTls} (direct TLS)`,
    `  services     ${info.host}:${info.ports.service} (service channel, mutual TLS)`,
    `  trust        ${info.caCertPath}   (the CA of every certificate this system made)`,
    ...info.accounts.map((a, i) => `  ${i === 0 ? 'accounts' : '        '}     ${a.jid.padEnd(width)}  password ${a.password}`),
    'Stop with Ctrl-C.',
  ].join('\n');
}

// `ambrosia dev` is the README's first command: the whole system in one process, on defaults.
export function registerDevCommand(program: Command, getOutput: () => Output): void {
  program
    .command('dev')
    .description('run the embedded single-process system: gateway, IM service, in-memory registry, certificates, a demo user')
    .option('--domain <domain>', 'the XMPP domain to serve', 'localhost')
    .option('--listen <address>', 'the address every listener binds', '127.0.0.1')
    .option('--user <name:password>', 'an extra account (repeatable)', account, [])
    .option('--c2s-port <port>', 'client port with STARTTLS (0: any free port)', '5222')
    .option('--tls-port <port>', 'client port with direct TLS, XEP-0368 (0: any free port)', '5223')
    .option('--service-port <port>', 'service-channel port (0: any free port)', '5347')
    .option('--data-dir <dir>', 'where the CA certificate clients must trust is written', '.ambrosia-dev')
    .option('--verbose', 'log every connection and service event to standard error (JSON lines)')
    .action(async (flags: { domain: string; listen: string; user: DevAccount[]; c2sPort: string; tlsPort: string; servicePort: string; dataDir: string; verbose?: boolean }) => {
      const out = getOutput();
      const system = await startDev({
        domain: flags.domain,
        host: flags.listen,
        ports: { c2s: port(flags.c2sPort, '--c2s-port'), c2sTls: port(flags.tlsPort, '--tls-port'), service: port(flags.servicePort, '--service-port') },
        dataDir: flags.dataDir,
        accounts: flags.user,
        ...(flags.verbose ? { log: (line: string) => process.stderr.write(`${line}\n`) } : {}),
      }).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EADDRINUSE') throw new CliError(`a port is already in use (${e.message}); choose others with --c2s-port, --tls-port, --service-port`);
        if (e.code === 'EADDRNOTAVAIL') throw new CliError(`cannot listen on ${flags.listen}: ${e.message}`, EXIT_USAGE);
        throw e;
      });
      out.result(system.info, describe);
      await new Promise<void>((done) => {
        const onSignal = (): void => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
          out.info('stopping...');
          void system.stop().then(done, done);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
      });
    });
}
