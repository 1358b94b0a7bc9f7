// Stanzas a service hands to this gateway (to-gateway STANZA, docs/service-protocol.md §4.2):
// checked against what the channel registered, then delivered to a session held here, handed to
// another service, or answered with an error stanza sent back to the sender.
import { StanzaError, errorReply, isStanzaError } from '@ambrosia/errors';
import { type JID, tryParseJID } from '@ambrosia/jid';
import type { ChannelEndpoint, InboundMessage, ServiceType, StanzaMessage } from '@ambrosia/service-protocol';
import { type Element, parseElement, serialize } from '@ambrosia/xml';
import type { LocalSessions, SessionDeliveryOutcome } from '../contracts.js';
import type { Dispatcher } from './dispatcher.js';
import type { InstanceTable } from './instance-table.js';
import type { HubLogger } from './logger.js';

export interface FromServicesOptions {
  gatewayId: string;
  sessions: () => LocalSessions | undefined;
  dispatcher: Dispatcher;
  table: InstanceTable;
  /** Does the channel hold a registration of this domain (any type) / of this domain and type? */
  registered: (channel: ChannelEndpoint, domain: string, type?: ServiceType) => boolean;
  newKey: () => string;
  /** Is domain/type served somewhere in the cluster (the registry's routing view)? */
  servedInCluster: (domain: string, type: ServiceType) => boolean;
  log: HubLogger;
  maxStanzaBytes: number;
}

export interface FromServicesStats {
  /** to-gateway stanzas received. */
  received: number;
  /** Handed to a session held here (taken by it: sent or queued). */
  toSessions: number;
  /** Handed to another service (via service, or routed to a domain served here). */
  toServices: number;
  /** Not routed: origin not registered on the channel, `from` not of the origin's domain, not XML. */
  refused: number;
  /** For a session that is not here (another gateway's id, unknown or closed session). */
  undeliverable: number;
  /** Error stanzas sent back to the sending service. */
  bounced: number;
}

/** Stanza types a service may route to another one when the domain of `to` has no `client` service. */
const FORWARD_TYPES: readonly ServiceType[] = ['client', 'component'];

export class FromServices {
  private readonly counters: FromServicesStats = { received: 0, toSessions: 0, toServices: 0, refused: 0, undeliverable: 0, bounced: 0 };

  constructor(private readonly options: FromServicesOptions) {}

  stats(): FromServicesStats {
    return { ...this.counters };
  }

  handle(channel: ChannelEndpoint, inbound: InboundMessage<StanzaMessage>): void {
    this.counters.received++;
    const { context, xml } = inbound.message;
    const report = once(context.deliveryReport ? (outcome: SessionDeliveryOutcome) => inbound.reportDelivery(outcome) : undefined);
    // §4.2: a service speaks only for the domains it registered, and only as them.
    if (!this.options.registered(channel, context.origin)) {
      this.refuse(channel, undefined, report, `origin "${context.origin}" is not registered on this channel`);
      return;
    }
    let element: Element;
    try {
      element = parseElement(xml, { limits: { maxStanzaBytes: this.options.maxStanzaBytes, maxTextLength: this.options.maxStanzaBytes }, defaultNamespace: 'jabber:client' });
    } catch (error) {
      this.refuse(channel, undefined, report, `the stanza is not acceptable XML (${(error as Error).message})`);
      return;
    }
    const from = jidAttribute(element, 'from');
    if (from === undefined && element.attrs.from === undefined && this.isAccountPush(element, context)) {
      // RFC 6120 §8.1.2.1 / RFC 6121 §2.1.6: a push on the account's behalf may come without
      // 'from'; the client reads it as from its own account. Allowed only to a session of the
      // origin's domain, addressed to that very session.
    } else if (from === undefined || (asciiDomain(from) !== context.origin && !this.isInboundDelivery(element, context))) {
      this.refuse(channel, element, report, `invalid-from: 'from' must be an address of ${context.origin}`);
      return;
    }
    switch (context.via) {
      case 'c2s':
        this.toSession(context.gateway === this.options.gatewayId ? context.session : undefined, element, report);
        return;
      case 'routed':
        this.routed(channel, inbound.message, element, report);
        return;
      case 'service':
        this.toService(channel, inbound.message, element, report, false);
        return;
      case 's2s':
        // No s2s yet: every remote domain is unreachable from here.
        report('undelivered');
        this.bounce(channel, element, new StanzaError('remote-server-not-found', { text: 'this gateway does not reach remote servers yet' }));
        return;
    }
  }

  /** A stanza without 'from' for a session here whose full JID is the stanza's `to`, in the origin's domain. */
  private isAccountPush(element: Element, context: StanzaMessage['context']): boolean {
    if (context.via !== 'c2s' || context.gateway !== this.options.gatewayId) return false;
    const to = jidAttribute(element, 'to');
    if (to === undefined || to.resource === '' || asciiDomain(to) !== context.origin) return false;
    return this.options.sessions()?.sessionFor(to.toString()) === context.session;
  }

  /**
   * §4.2: a stanza from another domain for a client of the origin's domain. The service is the
   * recipient's home server and delivers what other domains send its users (over s2s, or error
   * replies for remote domains, RFC 6120 §10.4.3); it still cannot send as another domain to
   * anyone else.
   */
  private isInboundDelivery(element: Element, context: StanzaMessage['context']): boolean {
    if (context.via !== 'c2s') return false;
    const to = jidAttribute(element, 'to');
    return to !== undefined && to.local !== '' && asciiDomain(to) === context.origin;
  }

  /** §4.2 via c2s: to the session `sessionId` held here; §9: its fate is reported when asked. */
  private toSession(sessionId: string | undefined, element: Element, report: Report): void {
    const sessions = this.options.sessions();
    if (sessions === undefined || sessionId === undefined || sessionId === '') {
      this.counters.undeliverable++;
      report('undelivered');
      return;
    }
    let result: 'sent' | 'queued' | 'refused';
    try {
      result = sessions.deliver(sessionId, element, report.asked ? report : undefined);
    } catch (error) {
      // A bug in the session table must not take the service channel down with it.
      this.options.log('error', 'session-deliver-failed', { session: sessionId, reason: error instanceof Error ? error.message : String(error) });
      result = 'refused';
    }
    if (result === 'refused') {
      this.counters.undeliverable++;
      report('undelivered');
      return;
    }
    this.counters.toSessions++;
  }

  /** §4.2 via routed: a full JID held here, else the service of the domain of `to`, else (no s2s yet) an error. */
  private routed(channel: ChannelEndpoint, message: StanzaMessage, element: Element, report: Report): void {
    const to = jidAttribute(element, 'to');
    if (to === undefined) {
      report('undelivered');
      this.bounce(channel, element, new StanzaError('jid-malformed', { text: "a routed stanza needs a valid 'to'" }));
      return;
    }
    if (to.resource !== '') {
      const session = this.options.sessions()?.sessionFor(to.toString());
      if (session !== undefined) {
        this.toSession(session, element, report);
        return;
      }
    }
    this.toService(channel, message, element, report, true, to);
  }

  /** To the service registered for the domain of `to` (via service), with the sender's domain as origin. */
  private toService(channel: ChannelEndpoint, message: StanzaMessage, element: Element, report: Report, routed: boolean, parsedTo?: JID): void {
    const to = parsedTo ?? jidAttribute(element, 'to');
    if (to === undefined) {
      report('undelivered');
      this.bounce(channel, element, new StanzaError('jid-malformed', { text: "a stanza for a service needs a valid 'to'" }));
      return;
    }
    const domain = asciiDomain(to);
    // An instance connected here; else one elsewhere in the cluster, which will connect here too
    // (every instance connects to every gateway): the stanza waits for it (bounded), e.g. while
    // this gateway has just started and the services are reconnecting.
    const local = FORWARD_TYPES.find((candidate) => this.options.table.has(domain, candidate));
    const type = local ?? FORWARD_TYPES.find((candidate) => this.options.servedInCluster(domain, candidate));
    if (type === undefined) {
      report('undelivered');
      // Routed to a domain no service here serves: a remote domain, and s2s does not exist yet.
      this.bounce(channel, element, routed ? new StanzaError('remote-server-not-found', { text: `${domain} is not served here` }) : new StanzaError('service-unavailable', { text: `no service of ${domain} is connected` }));
      return;
    }
    if (routed && to.resource !== '' && this.options.registered(channel, domain, type)) {
      // The sender is the domain's own service and the session is not here: handing it back would loop.
      report('undelivered');
      this.bounce(channel, element, new StanzaError('recipient-unavailable', { text: 'no such session on this gateway' }));
      return;
    }
    const routingKey = to.toBareString();
    const wireKey = message.context.key !== '' && !this.options.dispatcher.hasStanzaKey(message.context.key) ? message.context.key : this.options.newKey();
    this.counters.toServices++;
    this.options.dispatcher
      .dispatch(
        { domain, type, routingKey },
        routingKey,
        {
          kind: 'stanza',
          context: { via: 'service', gateway: this.options.gatewayId, session: '', origin: message.context.origin, key: wireKey },
          xml: message.xml,
        },
        { parkIfNone: local === undefined },
      )
      .then(
        () => report('delivered'),
        (error: unknown) => {
          report('undelivered');
          this.bounce(channel, element, isStanzaError(error) ? error : new StanzaError('service-unavailable'));
        },
      );
  }

  private refuse(channel: ChannelEndpoint, element: Element | undefined, report: Report, reason: string): void {
    this.counters.refused++;
    this.options.log('warn', 'service-stanza-refused', { channel: channel.channel, instance: channel.peerInstance, reason });
    report('undelivered');
    if (element !== undefined) this.bounce(channel, element, new StanzaError('forbidden', { text: reason }));
  }

  /** The error reply (RFC 6120 §8.3.1) goes back to the sending channel as a to-service stanza. */
  private bounce(channel: ChannelEndpoint, element: Element, error: StanzaError): void {
    const reply = errorReply(element, error);
    if (reply === undefined) return; // never answer an error with an error
    this.counters.bounced++;
    const replyFrom = jidAttribute(reply, 'from');
    const replyTo = jidAttribute(reply, 'to');
    const origin = replyFrom === undefined ? this.options.gatewayId : asciiDomain(replyFrom);
    channel
      .send(
        { kind: 'stanza', context: { via: 'service', gateway: this.options.gatewayId, session: '', origin, key: this.options.newKey() }, xml: serialize(reply) },
        { lane: replyTo?.toBareString() ?? origin },
      )
      .catch((cause: unknown) => this.options.log('debug', 'service-bounce-lost', { channel: channel.channel, reason: String(cause) }));
  }
}

function jidAttribute(element: Element, name: 'from' | 'to'): JID | undefined {
  const value = element.attrs[name];
  return typeof value === 'string' ? tryParseJID(value) : undefined;
}

/** Registrations are canonical A-label domains (§13.3); JIDs keep U-labels (RFC 7622). */
function asciiDomain(address: JID): string {
  try {
    return address.toASCIIDomain();
  } catch {
    return address.domain;
  }
}

type Report = ((outcome: SessionDeliveryOutcome) => void) & { readonly asked: boolean };

/** Calls `callback` at most once (a §9 report is sent exactly once); a no-op when none was asked. */
function once(callback: ((outcome: SessionDeliveryOutcome) => void) | undefined): Report {
  let done = callback === undefined;
  const report = (outcome: SessionDeliveryOutcome): void => {
    if (done) return;
    done = true;
    callback!(outcome);
  };
  return Object.assign(report, { asked: callback !== undefined });
}
