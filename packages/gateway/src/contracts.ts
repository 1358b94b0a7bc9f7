// The two halves of the gateway meet here: the client edge (src/c2s, later BOSH, WebSocket and
// s2s) hands stanzas to the service hub (src/services), and the hub hands stanzas from services
// back to the sessions this gateway holds. Each side depends on these interfaces only.
import type { Element } from '@ambrosia/xml';
import type { ServiceType, SessionEventMessage } from '@ambrosia/service-protocol';

/** A stanza entering the cluster at this gateway, for a domain service. */
export interface InboundStanza {
  /** The stanza, `from` already stamped (RFC 6120 §8.1.2.1). */
  element: Element;
  /** Its serialised form when the edge already has it (saves a serialise); must equal `element`. */
  xml?: Buffer | string;
  /** The domain whose service gets it: the sender's domain for c2s (RFC 6120 §10.1). */
  domain: string;
  type: ServiceType;
  via: 'c2s' | 's2s';
  /** c2s session id, or s2s stream id. */
  session: string;
  /** Authenticated origin: the bound full JID (c2s) or the verified remote domain (s2s). */
  origin: string;
  /** Rendezvous-hashing key: the sender's bare JID (c2s). Keeps one user's stanzas on one instance, in order. */
  routingKey: string;
}

export type SessionEventInput = Omit<SessionEventMessage, 'kind' | 'gateway'>;

/** Implemented by the service hub; used by every edge. */
export interface ServiceRouter {
  /**
   * Resolves once a service instance acked the stanza (it is safe: XEP-0198 may count it).
   * Rejects with a StanzaError `service-unavailable` when no live instance serves domain/type,
   * or when none acked within the hub's bounded wait.
   */
  route(stanza: InboundStanza): Promise<void>;
  /** To the `client` service of `domain`, in the session's lane. Resolves when acked; never rejects (it logs). */
  sessionEvent(domain: string, routingKey: string, event: SessionEventInput): Promise<void>;
  /** Synchronous, from the registry's routing cache: does a live instance serve domain/type? */
  serves(domain: string, type: ServiceType): boolean;
  /** Asks the domain's `client` service (docs/service-protocol.md §13.4); undefined when none redirects. Bounded wait. */
  seeOtherHost(domain: string, jid?: string): Promise<string | undefined>;
}

/** What the hub reports about a stanza it handed to a session (input of §9 delivery reports). */
export type SessionDeliveryOutcome = 'delivered' | 'undelivered';

/** Implemented by the session table of the client edge; used by the hub. */
export interface LocalSessions {
  /**
   * Deliver to the session `sessionId` held by this gateway. `refused` when it is unknown,
   * closed, or its queue is full; `onOutcome` fires exactly once for a stanza that was not refused.
   */
  deliver(sessionId: string, stanza: Element, onOutcome?: (outcome: SessionDeliveryOutcome) => void): 'sent' | 'queued' | 'refused';
  /** Route by `to` among the sessions held here (full JID: that session; bare JID: none, the service decides). */
  sessionFor(fullJid: string): string | undefined;
}
