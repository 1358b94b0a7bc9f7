// `ambrosia sessions list|kick`: the registry's session directory (bare JID → resources, each on
// a gateway) and its kick command. A kick is pub/sub (at most once), so the command checks its
// outcome: it waits until the kicked sessions have left the directory.
import type { Command } from 'commander';
import type { SessionRecord } from '@ambrosia/registry';
import { CliError, EXIT_USAGE, type Output } from '../output.js';
import { withRegistry } from '../registry.js';
import { accountAddress, iso, parseDuration, pollUntil, registryMessage, registryOption, relative, table } from './admin-shared.js';

const DEFAULT_KICK_WAIT = '10s';

function count(n: number): string {
  return n === 1 ? '1 session' : `${n} sessions`;
}

interface SessionOut {
  jid: string;
  resource: string;
  gateway: string;
  session: string;
  priority: number;
  available: boolean;
  boundAt: string;
}

function sessionOut(s: SessionRecord): SessionOut {
  return {
    jid: `${s.bareJid}/${s.resource}`,
    resource: s.resource,
    gateway: s.gatewayId,
    session: s.sessionId,
    priority: s.priority,
    available: s.available,
    boundAt: iso(s.boundAt),
  };
}

function sessionTable(sessions: readonly SessionRecord[]): string {
  return table(
    ['resource', 'gateway', 'session', 'priority', 'available', 'bound'],
    sessions.map((s) => [s.resource, s.gatewayId, s.sessionId, String(s.priority), s.available ? 'yes' : 'no', `${iso(s.boundAt)} (${relative(s.boundAt)})`]),
  );
}

export function registerSessionsCommands(program: Command, getOutput: () => Output): void {
  const sessions = program.command('sessions').description("the cluster's session directory: who is connected, on which gateway; kick");
  const url = registryOption(sessions);

  sessions
    .command('list <jid>')
    .description("a bare JID's sessions (a full JID: that resource's): resource, gateway, session id, priority, availability, bind time")
    .action(async (text: string) => {
      const { bareJid, resource } = accountAddress(text);
      const found = await withRegistry(url(), (registry) => registry.sessions.get(bareJid).catch(registryMessage));
      const shown = found.filter((s) => resource === undefined || s.resource === resource);
      getOutput().result({ jid: bareJid, sessions: shown.map(sessionOut) }, () =>
        shown.length === 0 ? `no session of ${resource === undefined ? bareJid : `${bareJid}/${resource}`}` : sessionTable(shown),
      );
    });

  sessions
    .command('kick <jid>')
    .description('end sessions: a bare JID → all of its sessions, a full JID → that one; the gateway holding each closes its stream')
    .option('--reason <reason>', "logged by the gateway; 'conflict' or 'reset' send that stream error instead of policy-violation")
    .option('--wait <duration>', 'how long to wait for the sessions to leave the directory (0: do not check)', DEFAULT_KICK_WAIT)
    .action(async (text: string, flags: { reason?: string; wait: string }) => {
      const { bareJid, resource } = accountAddress(text);
      const waitMs = parseDuration(flags.wait, '--wait', { allowZero: true });
      if (flags.reason !== undefined && flags.reason.length > 1024) throw new CliError('--reason must be at most 1024 characters', EXIT_USAGE);
      const target = resource === undefined ? bareJid : `${bareJid}/${resource}`;
      const outcome = await withRegistry(url(), async (registry) => {
        const targeted = (await registry.sessions.get(bareJid).catch(registryMessage)).filter((s) => resource === undefined || s.resource === resource);
        if (targeted.length === 0) throw new CliError(`no session of ${target} is bound`);
        await registry.commands
          .kick({ bareJid, ...(resource !== undefined ? { resource } : {}), ...(flags.reason !== undefined ? { reason: flags.reason } : {}) })
          .catch(registryMessage);
        if (waitMs === 0) return { targeted, remaining: undefined };
        // Compared by session id: a client that reconnects at once binds a new session, which was not kicked.
        let remaining = targeted;
        await pollUntil(async () => {
          const live = new Set((await registry.sessions.get(bareJid).catch(registryMessage)).map((s) => s.sessionId));
          remaining = targeted.filter((s) => live.has(s.sessionId));
          return remaining.length === 0;
        }, waitMs);
        return { targeted, remaining };
      });
      const { targeted, remaining } = outcome;
      if (remaining !== undefined && remaining.length > 0) {
        const gateways = [...new Set(remaining.map((s) => s.gatewayId))].join(', ');
        throw new CliError(
          `kick sent, but ${remaining.length} of ${count(targeted.length)} of ${target} still bound after ${flags.wait} (on ${gateways}: is it running and connected to the registry?)`,
        );
      }
      const out = { jid: target, kicked: targeted.map(sessionOut), confirmed: remaining !== undefined };
      getOutput().result(out, () =>
        remaining === undefined
          ? `kick sent for ${count(targeted.length)} of ${target} (not checked: --wait 0)`
          : `kicked ${count(targeted.length)} of ${target}: ${targeted.map((s) => `${s.resource} on ${s.gatewayId}`).join(', ')}`,
      );
    });
}
