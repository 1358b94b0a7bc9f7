// Inbound: stanzas and session events through the lanes, acknowledged once their handler settled
// (docs/service-protocol.md §8.1), duplicates by key (§4.2, §10.5); gateway requests (§13.4, §13.5).
import type { InboundMessage, SeeOtherHostQueryMessage, SessionEventMessage, StanzaMessage, UserLookupMessage } from '@ambrosia/service-protocol';
import { tryParseJID } from '@ambrosia/jid';
import { isXmlStreamError, parseElement, type Element, type ParseElementOptions } from '@ambrosia/xml';
import type { SeeOtherHostHandler, SessionEventHandler, StanzaHandler } from './api.js';
import { ServiceSdkError, asError } from './errors.js';
import type { GatewayConnection } from './gateway-connection.js';
import { KeyMemory } from './key-memory.js';
import { LaneDispatcher, type LaneItem } from './lanes.js';
import { userLookupReply, type UserLookupHandler } from './options.js';

export interface InboundConfig {
  concurrency: number;
  maxQueued: number;
  maxQueuedPerLane: number;
  maxRememberedKeys: number;
  maxConcurrentRequests: number;
  /** The largest message the channels accept: bounds what the XML parser may be asked to hold. */
  maxMessageBytes: number;
  reportError: (error: Error) => void;
  /** False once stopping: new stanzas and events are left unacked for the gateway to hand elsewhere. */
  taking: () => boolean;
}

export class Inbound {
  stanzaHandler: StanzaHandler | undefined;
  sessionEventHandler: SessionEventHandler | undefined;
  seeOtherHostHandler: SeeOtherHostHandler | undefined;
  userLookupHandler: UserLookupHandler | undefined;
  handled = 0;
  handlerErrors = 0;
  duplicatesSkipped = 0;
  readonly dispatcher: LaneDispatcher;
  private readonly keys: KeyMemory;
  private readonly parseOptions: ParseElementOptions;
  private requestsRunning = 0;

  constructor(private readonly config: InboundConfig) {
    this.dispatcher = new LaneDispatcher({ concurrency: config.concurrency, maxTotal: config.maxQueued, maxPerLane: config.maxQueuedPerLane });
    this.keys = new KeyMemory(config.maxRememberedKeys);
    // The gateway parsed the stanza under its own limits; here only the channel's message size bounds it.
    const maxBytes = Math.min(config.maxMessageBytes, 256 * 1024 * 1024);
    this.parseOptions = { limits: { maxStanzaBytes: maxBytes, maxTextLength: maxBytes } };
  }

  /** A sequenced message from a gateway's channel. */
  take(connection: GatewayConnection, inbound: InboundMessage): void {
    const message = inbound.message;
    switch (message.kind) {
      case 'stanza':
        // Once stopping, nothing new is taken: unacked, it is handed to another instance (§10.5).
        if (!this.config.taking()) return;
        this.takeStanza(connection, inbound as InboundMessage<StanzaMessage>);
        return;
      case 'session-event':
        if (!this.config.taking()) return;
        this.takeSessionEvent(connection, inbound as InboundMessage<SessionEventMessage>);
        return;
      case 'see-other-host-query':
        void this.answer(inbound, () => this.answerSeeOtherHost(message));
        return;
      case 'user-lookup':
        void this.answer(inbound, () => this.answerUserLookup(message));
        return;
      default:
        return;
    }
  }

  private takeStanza(connection: GatewayConnection, inbound: InboundMessage<StanzaMessage>): void {
    const context = inbound.message.context;
    const key = context.key;
    if (key !== '') {
      const state = this.keys.begin(key);
      if (state === 'done') {
        this.duplicatesSkipped++;
        inbound.ack();
        return;
      }
      if (state === 'pending') {
        // The same stanza is queued or running here already (handed over from another channel):
        // ack this copy once that one settled, or handle it if that one was abandoned.
        this.keys.afterSettled(key, (handled) => {
          if (handled) {
            this.duplicatesSkipped++;
            inbound.ack();
          } else if (this.config.taking()) {
            this.takeStanza(connection, inbound);
          }
        });
        return;
      }
    }
    const lane = context.session !== '' ? `${context.gateway}\u0000${context.session}` : bareOf(context.origin);
    const generation = connection.generation;
    this.dispatcher.push({
      lane,
      source: connection,
      stale: () => connection.generation !== generation,
      abandon: () => {
        if (key !== '') this.keys.forget(key);
      },
      run: () => this.runStanza(inbound, key),
    });
  }

  private async runStanza(inbound: InboundMessage<StanzaMessage>, key: string): Promise<void> {
    const { context, xml } = inbound.message;
    try {
      let element: Element;
      try {
        element = parseElement(xml, this.parseOptions);
      } catch (error) {
        this.handlerErrors++;
        const detail = isXmlStreamError(error) ? error.condition : asError(error).message;
        this.config.reportError(new ServiceSdkError('bad-inbound-stanza', `gateway ${context.gateway} sent a stanza that is not well-formed (${detail}); acknowledged and skipped`, { cause: error, gateway: context.gateway }));
        return;
      }
      const handler = this.stanzaHandler;
      if (handler === undefined) return;
      await handler({
        element,
        via: context.via as 'c2s' | 's2s' | 'service',
        gateway: context.gateway,
        session: context.session,
        origin: context.origin,
        key: context.key,
        redelivered: context.redelivered,
      });
    } catch (error) {
      // A poison stanza must not loop: it is acknowledged like any other (§8.1), and reported.
      this.handlerErrors++;
      this.config.reportError(new ServiceSdkError('handler-failed', `stanza handler failed: ${asError(error).message}`, { cause: error, gateway: context.gateway }));
    } finally {
      this.handled++;
      if (key !== '') this.keys.settle(key);
      inbound.ack();
    }
  }

  private takeSessionEvent(connection: GatewayConnection, inbound: InboundMessage<SessionEventMessage>): void {
    const event = inbound.message;
    const generation = connection.generation;
    const item: LaneItem = {
      lane: `${event.gateway}\u0000${event.session}`,
      source: connection,
      stale: () => connection.generation !== generation,
      abandon: () => {},
      run: async () => {
        try {
          const handler = this.sessionEventHandler;
          if (handler === undefined) return;
          // The decoder sets only the fields present on the wire: the event is the message less its kind.
          const { kind: _kind, ...sessionEvent } = event;
          await handler(sessionEvent);
        } catch (error) {
          this.handlerErrors++;
          this.config.reportError(new ServiceSdkError('handler-failed', `session event handler failed: ${asError(error).message}`, { cause: error, gateway: event.gateway }));
        } finally {
          this.handled++;
          inbound.ack();
        }
      },
    };
    this.dispatcher.push(item);
  }

  /** Requests are answered outside the lanes, a bounded number at once (§13.1). */
  private async answer(inbound: InboundMessage, produce: () => Promise<Parameters<InboundMessage['reply']>[0]>): Promise<void> {
    if (this.requestsRunning >= this.config.maxConcurrentRequests) {
      inbound.fail('unavailable', `${this.requestsRunning} requests in progress`);
      return;
    }
    this.requestsRunning++;
    try {
      inbound.reply(await produce());
    } catch (error) {
      this.config.reportError(new ServiceSdkError('handler-failed', `request handler failed: ${asError(error).message}`, { cause: error }));
      inbound.fail('internal-error');
    } finally {
      this.requestsRunning--;
    }
  }

  private async answerSeeOtherHost(query: SeeOtherHostQueryMessage): Promise<{ host: string | null }> {
    const handler = this.seeOtherHostHandler;
    if (handler === undefined) return { host: null };
    const host = await handler({ domain: query.domain, ...(query.user === undefined ? {} : { jid: `${query.user}@${query.domain}` }) });
    return { host: typeof host === 'string' && host.length > 0 ? host : null };
  }

  private async answerUserLookup(query: UserLookupMessage): Promise<ReturnType<typeof userLookupReply>> {
    const handler = this.userLookupHandler;
    if (handler === undefined) return userLookupReply(undefined);
    return userLookupReply(await handler({ domain: query.domain, user: query.user, mechanisms: query.mechanisms }));
  }
}

/** The bare form of a JID string (lane key); the string itself when it does not parse. */
export function bareOf(jid: string): string {
  return tryParseJID(jid)?.toBareString() ?? jid;
}
