// The wiring between one client stream (@ambrosia/stream) and the cluster: authentication over
// the registry's credentials, domains and redirects from the registry and the services, the
// session directory, the conflict policy, routing to services, session events, resumption.

import { StanzaError, StreamError } from '@ambrosia/errors';
import { domainpartToASCII, type JID } from '@ambrosia/jid';
import type { Registry, SessionRecord } from '@ambrosia/registry';
import type { ClientStream, ClientStreamHooks, DomainResolution, ResumeLookup, StreamAuthenticator, StreamClosedInfo } from '@ambrosia/stream';
import type { Element } from '@ambrosia/xml';
import type { ServiceRouter } from '../contracts.js';
import type { DomainCertificates } from './certificates.js';
import { errorName, type GatewayLogger } from './log.js';
import { broadcastPresence } from './presence.js';
import type { SessionEntry, SessionTable } from './session-table.js';

/** Resumed-session hand-overs waiting for the new stream's onResumed (consumed in the same tick). */
const MAX_PENDING_HANDOVERS = 1024;

export interface EdgeContext {
  gatewayId: string;
  registry: Registry;
  router: ServiceRouter;
  table: SessionTable;
  authenticator: StreamAuthenticator;
  /** Prepares a served domain's certificate before `<proceed/>`, so STARTTLS finds it at once. */
  certificates?: DomainCertificates;
  log: GatewayLogger;
}

/** Why a session ended, as SESSION_EVENT `closed` names it (docs/service-protocol.md). */
export type ClosedReason = 'normal' | 'timeout' | 'conflict' | 'kicked' | 'shutdown' | 'error' | 'resume-timeout';

/** Memo of U-label → A-label domains: services register A-labels (docs/service-protocol.md §13.3). */
const routingDomains = new Map<string, string>();
const MAX_ROUTING_DOMAINS = 10_000;

/** The domain as the registry's service keys spell it (lower-case A-labels). */
export function routingDomain(domain: string): string {
  let ascii = routingDomains.get(domain);
  if (ascii === undefined) {
    try {
      ascii = domainpartToASCII(domain);
    } catch {
      ascii = domain;
    }
    if (routingDomains.size >= MAX_ROUTING_DOMAINS) routingDomains.clear();
    routingDomains.set(domain, ascii);
  }
  return ascii;
}

export function closedReason(entry: SessionEntry | undefined, info: StreamClosedInfo): ClosedReason {
  const decided = entry?.endReason;
  if (decided === 'conflict' || decided === 'kicked' || decided === 'shutdown') return decided;
  switch (info.reason) {
    case 'normal':
    case 'closed':
      return 'normal';
    case 'resume-timeout':
      return 'resume-timeout';
    case 'stream-error':
      if (info.condition === 'conflict') return 'conflict';
      if (info.condition === 'connection-timeout') return 'timeout';
      if (info.condition === 'system-shutdown' || info.condition === 'see-other-host') return 'shutdown';
      return 'error';
    default:
      return 'error';
  }
}

/**
 * Ends the local sessions a kick names (a registry `kick` command, or our own conflict policy).
 * `conflict` → RFC 6120 §7.7.2.2 `conflict`; `reset` → §4.9.3.16 `reset`; anything else is an
 * administrative kick, `policy-violation`. Returns how many sessions were ended.
 */
export function kickLocal(table: SessionTable, target: { bareJid: string; resource?: string; sessionId?: string; reason?: string }): number {
  let kicked = 0;
  for (const entry of table.forBareJid(target.bareJid)) {
    if (target.sessionId !== undefined && entry.stream.sessionId !== target.sessionId) continue;
    if (target.resource !== undefined && entry.jid?.resource !== target.resource) continue;
    endSession(entry, target.reason);
    kicked++;
  }
  return kicked;
}

function endSession(entry: SessionEntry, reason: string | undefined): void {
  const stream = entry.stream;
  if (reason === 'conflict') {
    entry.endReason = 'conflict';
    stream.replaced();
  } else if (reason === 'reset') {
    entry.endReason = 'kicked';
    stream.reset();
  } else {
    entry.endReason = 'kicked';
    stream.close(new StreamError('policy-violation', { text: 'the session was ended by the administrator' }));
  }
}

export function createClientHooks(edge: EdgeContext): ClientStreamHooks {
  const { gatewayId, registry, router, table, log } = edge;
  /** Entries of streams that were resumed by another stream, until its onResumed takes them. */
  const handovers = new Map<string, SessionEntry>();

  function event(stream: ClientStream, jid: JID, input: Parameters<ServiceRouter['sessionEvent']>[2]): void {
    // sessionEvent never rejects (contract); the catch is for a router that breaks it.
    router.sessionEvent(routingDomain(jid.domain), jid.bare.toString(), input).catch((error: unknown) => {
      log('warn', 'session-event-failed', { session: stream.sessionId, event: input.event, error: errorName(error) });
    });
  }

  /** The conflict policy: the new session wins; the old one is kicked where it lives. */
  function kickPrevious(previous: SessionRecord, current: ClientStream): void {
    if (previous.sessionId === current.sessionId) return;
    if (previous.gatewayId === gatewayId) {
      const entry = table.get(previous.sessionId);
      if (entry !== undefined) endSession(entry, 'conflict');
      return;
    }
    registry.commands
      .kick({ bareJid: previous.bareJid, resource: previous.resource, sessionId: previous.sessionId, gatewayId: previous.gatewayId, reason: 'conflict' })
      .catch((error: unknown) => log('warn', 'kick-command-failed', { session: current.sessionId, error: errorName(error) }));
  }

  async function forgetResumption(entry: SessionEntry, stream: ClientStream): Promise<void> {
    const id = entry.resumptionId;
    if (id === undefined) return;
    entry.resumptionId = undefined;
    await registry.resumptions.delete(id).catch((error: unknown) => log('warn', 'resumption-delete-failed', { session: stream.sessionId, error: errorName(error) }));
  }

  const hooks: ClientStreamHooks = {
    authenticator: edge.authenticator,

    async resolveDomain(domain: string): Promise<DomainResolution> {
      // RFC 6120 §4.9.3.19: the see-other-host map answers first.
      try {
        const entry = await registry.seeOtherHost.get(domain);
        if (entry !== undefined) return { kind: 'see-other-host', host: entry.target };
      } catch (error) {
        log('warn', 'see-other-host-lookup-failed', { error: errorName(error) });
      }
      const ascii = routingDomain(domain);
      if (!router.serves(ascii, 'client')) return { kind: 'unknown' };
      await edge.certificates?.contextFor(ascii);
      return { kind: 'served' };
    },

    async userRedirect(bareJid: JID): Promise<string | undefined> {
      const entry = await registry.seeOtherHost.get(bareJid.toString()).catch((error: unknown) => {
        log('warn', 'see-other-host-lookup-failed', { error: errorName(error) });
        return undefined;
      });
      if (entry !== undefined) return entry.target;
      return router.seeOtherHost(routingDomain(bareJid.domain), bareJid.toString());
    },

    async bind({ jid, stream }) {
      const bareJid = jid.bare.toString();
      // The local holder first: no registry round trip needed to find it.
      const localHolder = table.sessionFor(jid.toString());
      if (localHolder !== undefined && localHolder !== stream.sessionId) {
        const entry = table.get(localHolder);
        if (entry !== undefined) endSession(entry, 'conflict');
      }
      const result = await registry.sessions.bind({ bareJid, resource: jid.resource, gatewayId, sessionId: stream.sessionId, priority: 0, available: false });
      if (stream.state === 'closed') {
        // The client left while the registry answered: take the binding back.
        await registry.sessions.unbind(bareJid, jid.resource, stream.sessionId).catch(() => false);
        return { kind: 'error', error: new StanzaError('internal-server-error') };
      }
      if (result.previous !== undefined) kickPrevious(result.previous, stream);
      table.bind(stream, jid);
      return { kind: 'bound' };
    },

    async onStanza(stanza: Element, context) {
      const from = context.from;
      if (context.to === undefined) {
        const presence = broadcastPresence(stanza);
        const entry = presence === undefined ? undefined : table.get(context.sessionId);
        if (presence !== undefined && entry !== undefined) {
          const last = entry.presence;
          if (last.available !== presence.available || last.priority !== presence.priority) {
            entry.presence = presence;
            // RFC 6121 §4.7.2.3: services route by priority; written before the presence is routed.
            await registry.sessions.update(from.bare.toString(), from.resource, context.sessionId, presence).catch((error: unknown) => {
              log('warn', 'session-update-failed', { session: context.sessionId, error: errorName(error) });
              return false;
            });
          }
        }
      }
      await router.route({
        element: stanza,
        domain: routingDomain(from.domain),
        type: 'client',
        via: 'c2s',
        session: context.sessionId,
        origin: from.toString(),
        routingKey: from.bare.toString(),
      });
    },

    async resume(previd: string, bareJid: JID): Promise<ResumeLookup> {
      const bare = bareJid.toString();
      for (const entry of table.forBareJid(bare)) {
        if (entry.stream.resumptionRecord?.id === previd) return { kind: 'found', stream: entry.stream };
      }
      // Held by another (or a dead) gateway: XEP-0198 §5 lets us tell the client its 'h'.
      try {
        const record = await registry.resumptions.get(previd);
        if (record !== undefined && record.fullJid.split('/')[0] === bare) return { kind: 'expired', handled: record.inbound };
      } catch (error) {
        log('warn', 'resumption-lookup-failed', { error: errorName(error) });
      }
      return { kind: 'unknown' };
    },

    onBound(stream) {
      const jid = stream.jid!;
      log('info', 'session-bound', { session: stream.sessionId });
      event(stream, jid, { event: 'bound', session: stream.sessionId, jid: jid.toString() });
    },

    onResumed(stream, previous) {
      const jid = stream.jid!;
      table.bind(stream, jid);
      const entry = table.get(stream.sessionId);
      const before = handovers.get(previous.sessionId);
      handovers.delete(previous.sessionId);
      if (entry !== undefined && before !== undefined) {
        entry.presence = before.presence;
        entry.resumptionId = before.resumptionId;
      }
      const presence = entry?.presence ?? { available: false, priority: 0 };
      // The directory now names the new stream; the record written at detach is no longer needed.
      registry.sessions
        .bind({ bareJid: jid.bare.toString(), resource: jid.resource, gatewayId, sessionId: stream.sessionId, ...presence })
        .then((result) => {
          if (result.previous !== undefined && result.previous.sessionId !== previous.sessionId) kickPrevious(result.previous, stream);
        })
        .catch((error: unknown) => log('warn', 'session-rebind-failed', { session: stream.sessionId, error: errorName(error) }));
      if (entry !== undefined) void forgetResumption(entry, stream);
      log('info', 'session-resumed', { session: stream.sessionId, previous: previous.sessionId });
      event(stream, jid, { event: 'resumed', session: stream.sessionId, jid: jid.toString(), previous: previous.sessionId });
    },

    onDetached(stream) {
      const jid = stream.jid!;
      const record = stream.resumptionRecord;
      const entry = table.get(stream.sessionId);
      if (record !== undefined && entry !== undefined) {
        entry.resumptionId = record.id;
        // So that a gateway the client reaches instead can answer with the 'h' (XEP-0198 §5).
        registry.resumptions
          .put({ id: record.id, fullJid: record.jid, gatewayId, sessionId: stream.sessionId, inbound: record.handled, outbound: record.acked }, record.resumeTimeoutMs)
          .catch((error: unknown) => log('warn', 'resumption-put-failed', { session: stream.sessionId, error: errorName(error) }));
      }
      event(stream, jid, { event: 'detached', session: stream.sessionId, jid: jid.toString() });
    },

    onClientState(stream, state) {
      const jid = stream.jid;
      if (jid !== undefined) event(stream, jid, { event: 'client-state', session: stream.sessionId, jid: jid.toString(), state });
    },

    onClosed(stream, info) {
      const entry = table.remove(stream);
      const jid = entry?.jid;
      if (entry === undefined || jid === undefined) return;
      if (info.reason === 'resumed') {
        // Resumed here: the new stream's onResumed runs next (same tick) and takes over.
        // Bounded: entries are consumed in the same tick; should any be left behind, the oldest
        // go first (a Map iterates in insertion order), never one still being handed over.
        while (handovers.size >= MAX_PENDING_HANDOVERS) handovers.delete(handovers.keys().next().value!);
        handovers.set(stream.sessionId, entry);
        return;
      }
      const reason = closedReason(entry, info);
      log('info', 'session-closed', { session: stream.sessionId, reason, condition: info.condition });
      registry.sessions
        .unbind(jid.bare.toString(), jid.resource, stream.sessionId)
        .catch((error: unknown) => log('warn', 'session-unbind-failed', { session: stream.sessionId, error: errorName(error) }));
      void forgetResumption(entry, stream);
      event(stream, jid, { event: 'closed', session: stream.sessionId, jid: jid.toString(), reason });
    },

    log: (level, name, fields) => log(level, `stream-${name}`, fields),
  };
  return hooks;
}
