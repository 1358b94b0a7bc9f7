// The IM service: installs its handlers on a DomainServiceApi and turns every stanza and session
// event into RFC 6121 behaviour. Stateless across instances: everything it knows lives in the
// ImStore and in the registry's session directory (through the SDK), so any instance can take
// over any user.
import { isImStoreError, type ImStore } from '@ambrosia/im-store';
import { prepDomainpart, type JID } from '@ambrosia/jid';
import type { DomainServiceApi, ReceivedStanza, SessionEvent } from '@ambrosia/service-sdk';
import type { Element } from '@ambrosia/xml';
import { parseAddress } from './addresses.js';
import { ImContext, type AccountDirectory, type ImFeatures, type ResolvedImFeatures, type UserSession } from './context.js';
import { handleClientIq, handleInboundIq } from './iq.js';
import type { AccountRegistrar } from './features/register.js';
import { resolveImServiceLimits, type ImServiceLimits } from './limits.js';
import { handleClientMessage, handleInboundMessage } from './messages.js';
import { runningFlushes } from './offline.js';
import { handleClientPresence, handleInboundPresence, sessionBound, sessionClosed } from './presence.js';

export interface ImServiceOptions {
  service: DomainServiceApi;
  store: ImStore;
  /** The domains this service serves (the users' domains). */
  domains: string | readonly string[];
  features?: ImFeatures;
  limits?: ImServiceLimits;
  /**
   * XEP-0077 for authenticated users (password change, account cancellation) through this
   * registrar. Default false: jabber:iq:register is answered with service-unavailable.
   */
  registration?: false | AccountRegistrar;
  /** XEP-0092 answer and disco identity name. */
  version?: { name: string; version: string };
  /** Which accounts exist. Default: every localpart of a served domain (tests, `ambrosia dev`). */
  accounts?: AccountDirectory;
  /** Problems that answer no one (a store failure in a background flush, a gateway bug). Default: ignored. */
  onError?: (error: Error) => void;
}

export const DEFAULT_VERSION = Object.freeze({ name: 'Ambrosia', version: '0.1.0' });

export class ImService {
  readonly context: ImContext;
  private started = false;

  constructor(options: ImServiceOptions) {
    const registration = options.registration ?? false;
    if (registration !== false && (typeof registration !== 'object' || typeof registration.changePassword !== 'function' || typeof registration.remove !== 'function')) {
      throw new TypeError('registration must be false or an AccountRegistrar');
    }
    const list = typeof options.domains === 'string' ? [options.domains] : options.domains;
    if (list.length === 0) throw new TypeError('at least one domain');
    const domains = new Set(list.map((d) => prepDomainpart(d)));
    const features: ResolvedImFeatures = { offline: true, carbons: true, archive: true, blocking: true, vcard: true, privateXml: true, ...options.features };
    const onError = options.onError ?? (() => {});
    this.context = new ImContext(options.service, options.store, domains, resolveImServiceLimits(options.limits), features, options.version ?? DEFAULT_VERSION, options.accounts, onError, registration === false ? undefined : registration);
    this.context.send = (stanza, from, to) => this.send(stanza, from, to);
  }

  /** Installs the stanza and session event handlers on the service. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.context.service.onStanza((stanza) => this.handleStanza(stanza));
    this.context.service.onSessionEvent((event) => this.handleSessionEvent(event));
  }

  /** Waits (bounded by `stopTimeoutMs`) for the offline deliveries running in the background. */
  async stop(): Promise<void> {
    const flushes = [...runningFlushes(this.context).values()];
    if (flushes.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled(flushes), new Promise((resolve) => (timer = setTimeout(resolve, this.context.limits.stopTimeoutMs)))]);
    clearTimeout(timer);
  }

  /** Resolves when the background offline deliveries running now have ended (tests). */
  async idle(): Promise<void> {
    await Promise.allSettled([...runningFlushes(this.context).values()]);
  }

  async handleStanza(received: ReceivedStanza): Promise<void> {
    const ctx = this.context;
    try {
      if (received.via === 'c2s') return await this.fromClient(received);
      // s2s: origin is the verified remote domain; service: the sending service's domain. The
      // stanza's from must be of that domain (docs/service-protocol.md §4.2).
      const from = parseAddress(received.element.attrs.from);
      const to = parseAddress(received.element.attrs.to);
      if (from === undefined || from === null || from.domain !== received.origin) {
        ctx.report(new Error(`dropped a ${received.via} stanza whose from does not belong to ${received.origin}`));
        return;
      }
      if (to === null) return await ctx.replyError(received, 'jid-malformed');
      if (to === undefined || !ctx.isLocal(to)) {
        ctx.report(new Error(`dropped a ${received.via} stanza for a domain this service does not serve`));
        return;
      }
      await this.inbound(received.element, from, to);
    } catch (e) {
      ctx.report(e);
      // The sender learns that it failed; a store that is down is worth a retry (type wait).
      const retry = isImStoreError(e) && e.retryable;
      await ctx.replyError(received, 'internal-server-error', retry ? { type: 'wait' } : {}).catch((err) => ctx.report(err));
    }
  }

  private async fromClient(received: ReceivedStanza): Promise<void> {
    const ctx = this.context;
    const user = parseAddress(received.origin);
    if (user === undefined || user === null || user.resource === '' || !ctx.isLocal(user)) {
      ctx.report(new Error('dropped a c2s stanza whose origin is not a full JID of a served domain'));
      return;
    }
    // The sender is the origin the gateway guarantees, whatever the client wrote (RFC 6120 §8.1.2.1).
    received.element.attrs.from = user.toString();
    const session: UserSession = { jid: user.toString(), resource: user.resource, gateway: received.gateway, session: received.session, priority: 0, available: true };
    switch (received.element.name) {
      case 'message':
        return handleClientMessage(ctx, received, user, session);
      case 'presence':
        return handleClientPresence(ctx, received, user, session);
      case 'iq':
        return handleClientIq(ctx, received, user, session);
    }
  }

  /** A stanza for a local address. */
  private async inbound(stanza: Element, from: JID, to: JID): Promise<void> {
    switch (stanza.name) {
      case 'message':
        return handleInboundMessage(this.context, stanza, from, to);
      case 'presence':
        return handleInboundPresence(this.context, stanza, from, to);
      case 'iq':
        return handleInboundIq(this.context, stanza, from, to);
    }
  }

  /** Everything the service sends goes through here: a local address is handled at once, anything else goes to the gateways. */
  private async send(stanza: Element, from: JID, to: JID): Promise<void> {
    if (this.context.isLocal(to)) return this.inbound(stanza, from, to);
    await this.context.route(stanza);
  }

  async handleSessionEvent(event: SessionEvent): Promise<void> {
    const ctx = this.context;
    try {
      if (event.event === 'closed') await sessionClosed(ctx, event);
      else if (event.event === 'bound') await sessionBound(ctx, event);
    } catch (e) {
      ctx.report(e);
    }
  }
}
