// `ambrosia gateways list|drain`: the live gateways (their registry leases) and the drain command.
// Draining is pub/sub (at most once), so the command checks its outcome: it waits until the
// gateway announces `draining` (or has left). A drained gateway stays drained: there is no undrain
// in the registry or the gateway (stop and restart its process to bring it back).
import type { Command } from 'commander';
import type { GatewayInfo } from '@ambrosia/registry';
import { CliError, type Output } from '../output.js';
import { withRegistry } from '../registry.js';
import { iso, parseDuration, pollUntil, registryMessage, registryOption, relative, table } from './admin-shared.js';

const DEFAULT_DRAIN_WAIT = '10s';

interface GatewayOut {
  id: string;
  state: string;
  addresses: string[];
  ports: Record<string, number>;
  load: number;
  incarnation: string;
  startedAt: string;
  leaseExpiresAt: string;
}

function gatewayOut(g: GatewayInfo): GatewayOut {
  return {
    id: g.id,
    state: g.state,
    addresses: [...g.addresses],
    ports: { ...g.ports },
    load: g.load,
    incarnation: g.incarnation,
    startedAt: iso(g.startedAt),
    leaseExpiresAt: iso(g.expiresAt),
  };
}

function gatewayTable(gateways: readonly GatewayInfo[]): string {
  return table(
    ['id', 'state', 'load', 'addresses', 'ports', 'started', 'lease'],
    gateways.map((g) => [
      g.id,
      g.state,
      String(g.load),
      g.addresses.join(','),
      Object.entries(g.ports)
        .map(([name, port]) => `${name}=${port}`)
        .join(' '),
      `${iso(g.startedAt)} (${relative(g.startedAt)})`,
      `expires ${relative(g.expiresAt)}`,
    ]),
  );
}

export function registerGatewaysCommands(program: Command, getOutput: () => Output): void {
  const gateways = program.command('gateways').description('the live gateways of the cluster; drain one before maintenance');
  const url = registryOption(gateways);

  gateways
    .command('list')
    .description('live gateways: id, state, load, addresses, ports, start time, lease expiry')
    .action(async () => {
      const live = await withRegistry(url(), (registry) => registry.gateways.list().catch(registryMessage));
      getOutput().result({ gateways: live.map(gatewayOut) }, () => (live.length === 0 ? 'no live gateway' : gatewayTable(live)));
    });

  gateways
    .command('drain <id>')
    .description('the gateway stops accepting and sends its clients to a live active peer (see-other-host), else system-shutdown')
    .option('--wait <duration>', 'how long to wait for the gateway to announce draining (0: do not check)', DEFAULT_DRAIN_WAIT)
    .action(async (id: string, flags: { wait: string }) => {
      const waitMs = parseDuration(flags.wait, '--wait', { allowZero: true });
      const result = await withRegistry(url(), async (registry) => {
        const live = await registry.gateways.list().catch(registryMessage);
        const gateway = live.find((g) => g.id === id);
        if (gateway === undefined) {
          throw new CliError(`no live gateway "${id}"${live.length > 0 ? ` (live: ${live.map((g) => g.id).join(', ')})` : ''}`);
        }
        // The drained gateway's clients go to these; with none they get system-shutdown (RFC 6120 §4.9.3.20).
        const peers = live.filter((g) => g.id !== id && g.state === 'active').map((g) => g.id);
        await registry.commands.drain(id).catch(registryMessage);
        if (waitMs === 0) return { peers, state: undefined };
        let state: string | undefined;
        await pollUntil(async () => {
          const now = (await registry.gateways.list().catch(registryMessage)).find((g) => g.id === id);
          state = now === undefined ? 'gone' : now.state;
          return state !== 'active';
        }, waitMs);
        return { peers, state };
      });
      if (result.state === 'active') {
        throw new CliError(`drain sent, but gateway "${id}" still announces active after ${flags.wait} (is it connected to the registry?)`);
      }
      const out = { id, state: result.state ?? 'drain sent', confirmed: result.state !== undefined, peers: result.peers };
      getOutput().result(out, () => {
        const where = result.peers.length > 0 ? `its clients are sent to ${result.peers.join(', ')}` : 'no active peer: its clients get system-shutdown';
        if (result.state === undefined) return `drain sent to ${id} (not checked: --wait 0); ${where}`;
        return `${id} is ${result.state === 'gone' ? 'gone from the registry' : 'draining'}; ${where}`;
      });
    });

  // Asked for, but neither the registry (no command) nor the gateway (drain is one-way) has it.
  gateways
    .command('undrain <id>', { hidden: true })
    .description('not available: a drained gateway stays drained')
    .action(async (id: string) => {
      throw new CliError(`undrain is not available: gateway "${id}" stays drained until its process is restarted (the registry has no undrain command)`);
    });
}
