// What every handler shares: the SDK, the store, the served domains, the limits, and the small
// helpers that send stanzas. No state about users lives here (the service is stateless across
// instances; everything is in the ImStore and the registry's session directory).
import { randomUUID } from 'node:crypto';
import { errorReply, StanzaError, type StanzaErrorCondition, type StanzaErrorOptions } from '@ambrosia/errors';
import type { ImStore } from '@ambrosia/im-store';
import type { JID } from '@ambrosia/jid';
import type { DomainServiceApi, ReceivedStanza, SendOutcome, SendToSessionOptions } from '@ambrosia/service-sdk';
import type { Element } from '@ambrosia/xml';
import type { AccountRegistrar } from './features/register.js';
import type { ResolvedImServiceLimits } from './limits.js';

/** Which accounts exist (the store must only be written for accounts that exist). */
export interface AccountDirectory {
  exists(bareJid: string): Promise<boolean>;
}

/** Features that can be switched off (all on by default). */
export interface ImFeatures {
  /** XEP-0160 offline storage; off: messages to an offline user are answered with service-unavailable. */
  offline?: boolean;
  /** XEP-0280 message carbons. */
  carbons?: boolean;
  /** XEP-0313 archive of one-to-one messages. */
  archive?: boolean;
  /** XEP-0191 blocking command. */
  blocking?: boolean;
  /** XEP-0054 vCard-temp. */
  vcard?: boolean;
  /** XEP-0049 private XML storage. */
  privateXml?: boolean;
}

export type ResolvedImFeatures = Required<ImFeatures>;

/** A live client session of a user, as the session directory knows it. */
export interface UserSession {
  /** Full JID. */
  jid: string;
  resource: string;
  gateway: string;
  session: string;
  priority: number;
  available: boolean;
}

/** Per-session flags kept in the store (private XML under a reserved namespace, see flags). */
export type SessionFlag = 'carbons' | 'roster';

/** Private XML namespace holding per-session flags: element name = resource, XML = the flags. */
export const SESSION_FLAGS_NAMESPACE = 'urn:ambrosia:im:session';

export class ImContext {
  /** Sends a stanza the service produced (from/to set) to its destination: local handling or the gateway. */
  send: (stanza: Element, from: JID, to: JID) => Promise<void> = async () => {
    throw new Error('router not installed');
  };

  constructor(
    readonly service: DomainServiceApi,
    readonly store: ImStore,
    readonly domains: ReadonlySet<string>,
    readonly limits: ResolvedImServiceLimits,
    readonly features: ResolvedImFeatures,
    readonly software: { name: string; version: string },
    private readonly accounts: AccountDirectory | undefined,
    private readonly onError: (error: Error) => void,
    /** XEP-0077 password change and cancellation; undefined: registration is off. */
    readonly registrar: AccountRegistrar | undefined = undefined,
  ) {}

  report(error: unknown): void {
    try {
      this.onError(error instanceof Error ? error : new Error(String(error)));
    } catch {
      // a failing error handler must not break stanza handling
    }
  }

  newId(): string {
    return randomUUID();
  }

  isLocal(address: JID): boolean {
    return this.domains.has(address.domain);
  }

  /** A local account: a served domain, a localpart, and known to the account directory. */
  async exists(address: JID): Promise<boolean> {
    if (!this.isLocal(address) || address.local === '') return false;
    if (this.accounts === undefined) return true;
    return this.accounts.exists(address.toBareString());
  }

  /** The user's live sessions (registry session directory). */
  async sessions(bare: JID): Promise<UserSession[]> {
    const records = await this.service.sessions(bare.toBareString());
    return records.map((r) => ({
      jid: `${r.bareJid}/${r.resource}`,
      resource: r.resource,
      gateway: r.gatewayId,
      session: r.sessionId,
      priority: r.priority,
      available: r.available,
    }));
  }

  /** Delivers to one session; a local failure (stopped SDK, stanza too large) is reported, not thrown. */
  async deliver(target: Pick<UserSession, 'gateway' | 'session'>, stanza: Element, options?: SendToSessionOptions): Promise<SendOutcome> {
    // Pushes the server makes on the account's behalf (roster §2.1.6, blocking) come from the
    // account's bare JID; the gateway routes only service stanzas with a 'from' in our domains.
    if (stanza.attrs.from === undefined && typeof stanza.attrs.to === 'string') stanza.attrs.from = stanza.attrs.to.split('/')[0];
    try {
      return await this.service.sendToSession({ gateway: target.gateway, session: target.session }, stanza, options);
    } catch (e) {
      this.report(e);
      return 'unknown';
    }
  }

  /** Hands a stanza to the gateways to route by its `to` (other domains: services or s2s). */
  async route(stanza: Element): Promise<void> {
    try {
      await this.service.route(stanza, 'routed');
    } catch (e) {
      this.report(e);
    }
  }

  /** Sends an answer back to where `received` came from (its session, or its domain). */
  async reply(received: ReceivedStanza, stanza: Element): Promise<void> {
    // A reply on the account's behalf to a stanza without 'to' (RFC 6120 §10.3.3) comes from the
    // account's bare JID: the gateway only routes service stanzas whose 'from' is in the
    // service's domains (docs/service-protocol.md §4.2).
    if (stanza.attrs.from === undefined && received.via === 'c2s') stanza.attrs.from = received.origin.split('/')[0];
    if (received.via === 'c2s') await this.deliver(received, stanza);
    else await this.route(stanza);
  }

  /** RFC 6120 §8.3: the error reply to `stanza` (never to an error). */
  async replyError(received: ReceivedStanza, condition: StanzaErrorCondition, options: StanzaErrorOptions = {}): Promise<void> {
    const reply = errorReply(received.element, new StanzaError(condition, options));
    if (reply !== undefined) await this.reply(received, reply);
  }

  /** An error bounced to `from` for a stanza we were routing (not necessarily from the origin session). */
  async bounce(stanza: Element, from: JID, to: JID, condition: StanzaErrorCondition, options: StanzaErrorOptions = {}): Promise<void> {
    const reply = errorReply(stanza, new StanzaError(condition, options));
    if (reply === undefined) return;
    reply.attrs.from = to.toString();
    reply.attrs.to = from.toString();
    await this.send(reply, to, from);
  }

  // -- per-session flags ------------------------------------------------------------------------
  // Carbons (XEP-0280) and "has asked for the roster" (RFC 6121 §2.1.6, interested resources)
  // belong to one session but must be known to every instance: they live in the account's private
  // XML storage under a namespace clients cannot reach, cleared when a session binds or closes.

  async flags(bare: JID, resource: string): Promise<Set<string>> {
    const raw = await this.store.privateXml.get(bare.toBareString(), resource, SESSION_FLAGS_NAMESPACE);
    return new Set(raw === null ? [] : raw.split(' ').filter((f) => f !== ''));
  }

  /** Returns false when the store refused (private storage quota). */
  async setFlag(bare: JID, resource: string, flag: SessionFlag, on: boolean): Promise<boolean> {
    const account = bare.toBareString();
    const current = await this.flags(bare, resource);
    if (current.has(flag) === on) return true;
    if (on) current.add(flag);
    else current.delete(flag);
    if (current.size === 0) {
      await this.store.privateXml.remove(account, resource, SESSION_FLAGS_NAMESPACE);
      return true;
    }
    const result = await this.store.privateXml.set(account, resource, SESSION_FLAGS_NAMESPACE, [...current].sort().join(' '));
    return result.ok;
  }

  async clearFlags(bare: JID, resource: string): Promise<void> {
    await this.store.privateXml.remove(bare.toBareString(), resource, SESSION_FLAGS_NAMESPACE);
  }
}
