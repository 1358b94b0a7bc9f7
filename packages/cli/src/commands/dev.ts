import type { Command } from 'commander';
import type { Output } from '../output.js';

// `ambrosia dev` is the README's first command. The gateway's client edge lands with the
// c2s issue; until then this command says plainly what it will start and what is ready.
export function registerDevCommand(program: Command, getOutput: () => Output): void {
  program
    .command('dev')
    .description('run the embedded single-process system: gateway, IM service, in-memory registry, demo user')
    .option('--domain <domain>', 'the XMPP domain to serve', 'localhost')
    .option('--listen <address>', 'the address to listen on', '127.0.0.1')
    .action((options: { domain: string; listen: string }) => {
      const out = getOutput();
      const plan = {
        ready: false,
        domain: options.domain,
        listen: options.listen,
        willStart: [
          `a gateway on ${options.listen}:5222 (STARTTLS) and ${options.listen}:5223 (direct TLS) for ${options.domain}`,
          'the IM service, connected over the service channel',
          'an in-memory registry',
          `certificates for ${options.domain}, made at start`,
          'a demo user, whose credentials are printed',
        ],
        builtSoFar: ['xml parser', 'JIDs', 'errors', 'registry', 'SASL', 'service channel protocol', 'cluster CA'],
      };
      out.result(plan, (p: typeof plan) =>
        [
          'Ambrosia dev: the gateway is not built yet, so nothing listens.',
          'When it is, this command starts:',
          ...p.willStart.map((s) => `  - ${s}`),
          `Built so far: ${p.builtSoFar.join(', ')}.`,
        ].join('\n'),
      );
    });
}
