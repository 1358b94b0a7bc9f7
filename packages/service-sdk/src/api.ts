// The public surface of the service SDK, agreed before it was built: the IM service (and any
// outside service) is written against exactly these types. Change them only together with
// every user (packages/im-service).
import type { Element } from '@ambrosia/xml';
import type { Registry, SessionRecord } from '@ambrosia/registry';
import type { ServiceType, SessionEventMessage } from '@ambrosia/service-protocol';

export interface ServiceRegistrationSpec {
  domain: string;
  type: ServiceType;
  /** Relative share of the domain's users (weighted rendezvous hashing at the gateways); default 1. */
  weight?: number;
}

export interface GatewayAddress {
  /** The gateway id, when known (it is checked against the gateway's WELCOME). */
  id?: string;
  host: string;
  port: number;
}

export interface ServiceTls {
  /** PEM: this instance's certificate (issued by the cluster CA with role service and its registrations). */
  cert: string | Buffer;
  key: string | Buffer;
  /** PEM: the cluster CA that gateway certificates chain to. */
  ca: string | Buffer;
}

export interface DomainServiceOptions {
  /** Unique name of this instance (HELLO `instance`); default `<hostname>-<pid>-<random>`. */
  instance?: string;
  registrations: readonly ServiceRegistrationSpec[];
  tls: ServiceTls;
  /**
   * Where gateways are found: the registry (connect to every live gateway, follow joins and
   * leaves) and/or a static list. At least one of the two.
   */
  registry?: Registry;
  gateways?: readonly GatewayAddress[];
  /** Lanes (sessions / users) processed concurrently; stanzas of one lane are always serial. Default 256. */
  concurrency?: number;
  /** Called with internal problems that are not an answer to any call (a gateway link failing, a handler throwing). */
  onError?: (error: Error) => void;
}

/** Where a stanza came from, as the gateway guarantees it (docs/service-protocol.md §4.2). */
export interface StanzaOrigin {
  via: 'c2s' | 's2s' | 'service';
  /** The gateway that received it. */
  gateway: string;
  /** c2s: the client session id; s2s: the stream id; service: empty. */
  session: string;
  /** c2s: the full JID bound to the session; s2s: the verified remote domain; service: that service's domain. */
  origin: string;
  /** Unique in the cluster for this stanza; unchanged when it is handed to another instance. */
  key: string;
  /** The stanza may have been handed to another instance before. */
  redelivered: boolean;
}

export interface ReceivedStanza extends StanzaOrigin {
  /** The stanza; `from` is already stamped by the gateway. */
  element: Element;
}

/** A session event as the gateway sent it (docs/service-protocol.md), without the wire `kind`. */
export type SessionEvent = Omit<SessionEventMessage, 'kind'>;

/** A client session somewhere in the cluster. */
export interface SessionAddress {
  gateway: string;
  session: string;
}

export interface SendToSessionOptions {
  /**
   * Ask the gateway to report whether the client acknowledged the stanza (XEP-0198) and resolve
   * with that outcome instead of on the gateway's ack (docs/service-protocol.md §9).
   */
  deliveryReport?: boolean;
}

/** `accepted`: the gateway has it (no report asked). `delivered`/`undelivered`/`unknown`: §9 outcomes. */
export type SendOutcome = 'accepted' | 'delivered' | 'undelivered' | 'unknown';

export type RouteVia = 'routed' | 's2s' | 'service';

export interface SeeOtherHostQuery {
  domain: string;
  /** Present when asked after authentication, for one user. */
  jid?: string;
}

export type StanzaHandler = (stanza: ReceivedStanza) => void | Promise<void>;
export type SessionEventHandler = (event: SessionEvent) => void | Promise<void>;
export type SeeOtherHostHandler = (query: SeeOtherHostQuery) => string | undefined | Promise<string | undefined>;

/**
 * What DomainService provides. Handler semantics: a stanza or session event is acknowledged to
 * the gateway only after its handler settled, so a crash mid-handler means redelivery (to this
 * or another instance, flagged `redelivered`); items of one lane (one client session, or one
 * bare JID for stanzas without a session) are handed over one at a time, in order.
 */
export interface DomainServiceApi {
  onStanza(handler: StanzaHandler): void;
  onSessionEvent(handler: SessionEventHandler): void;
  onSeeOtherHost(handler: SeeOtherHostHandler): void;
  /** Connects to the gateways and registers; resolves once registered on at least one gateway. */
  start(): Promise<void>;
  /** Stops taking new stanzas, finishes the handlers running, waits for outstanding acks (bounded), unregisters, closes. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Deliver to one client session (via c2s). Resolves per SendOutcome; rejects only on a local error (stopped, too large). */
  sendToSession(target: SessionAddress, stanza: Element, options?: SendToSessionOptions): Promise<SendOutcome>;
  /** Hand a stanza to any gateway to route by its `to` (local session, another service, s2s). Resolves on the gateway's ack. */
  route(stanza: Element, via?: RouteVia): Promise<void>;
  /** The live sessions of a bare JID, from the registry's session directory ([] without a registry). */
  sessions(bareJid: string): Promise<readonly SessionRecord[]>;
  /** Ids of the gateways this instance is registered with right now. */
  readonly gateways: readonly string[];
  readonly instance: string;
}
