// A DomainServiceApi for tests: it records what the IM service sends, plays the registry's
// session directory (and the gateway's part in it: available/priority follow the client's
// broadcast presence, as the gateway does before it routes that presence), and lets a test act as
// clients, remote servers and the gateway's session events. Entry: @ambrosia/im-service/testing.
import type { SessionRecord } from '@ambrosia/registry';
import type {
  DomainServiceApi,
  ReceivedStanza,
  RouteVia,
  SendOutcome,
  SendToSessionOptions,
  SessionAddress,
  SessionEvent,
  SessionEventHandler,
  SeeOtherHostHandler,
  StanzaHandler,
} from '@ambrosia/service-sdk';
import { parseElement, serialize, type Element } from '@ambrosia/xml';

export * from './stanzas.js';

export interface SentToSession {
  target: SessionAddress;
  stanza: Element;
  options: SendToSessionOptions | undefined;
}

let keys = 0;

/** One fake client session: what it sends goes to the service as c2s, what the service delivers to it is kept. */
export class FakeSession {
  /** Everything delivered to this session, in order. */
  readonly inbox: Element[] = [];
  private readBefore = 0;

  constructor(
    readonly fake: FakeDomainService,
    readonly jid: string,
    readonly gateway: string,
    readonly session: string,
  ) {}

  get bare(): string {
    return this.jid.slice(0, this.jid.indexOf('/'));
  }

  /** Sends a stanza as this client and waits for the service's handler to settle. */
  async send(stanza: Element): Promise<void> {
    await this.fake.fromClient(this, stanza);
  }

  /** What arrived since the last call. */
  take(): Element[] {
    const out = this.inbox.slice(this.readBefore);
    this.readBefore = this.inbox.length;
    return out;
  }

  /** Sends and returns what arrived meanwhile (after settling background work). */
  async exchange(stanza: Element): Promise<Element[]> {
    this.take();
    await this.send(stanza);
    await this.fake.settle();
    return this.take();
  }
}

export class FakeDomainService implements DomainServiceApi {
  readonly gateways: readonly string[] = ['gw-1'];
  readonly instance = 'test-instance';
  /** Every stanza handed to sendToSession, in order. */
  readonly sent: SentToSession[] = [];
  /** Every stanza handed to route, in order. */
  readonly routed: Array<{ stanza: Element; via: RouteVia | undefined }> = [];
  /** The outcome a delivery report gives (per stanza). Default: delivered. */
  deliveryOutcome: (session: FakeSession, stanza: Element) => SendOutcome | Promise<SendOutcome> = () => 'delivered';
  private stanzaHandler: StanzaHandler | undefined;
  private eventHandler: SessionEventHandler | undefined;
  private readonly directory = new Map<string, Map<string, SessionRecord>>();
  private readonly bySession = new Map<string, FakeSession>();
  private readonly pending = new Set<Promise<unknown>>();
  private nextSession = 0;
  /** Extra work to wait for in settle() (the IM service's background flushes). */
  settleHook: () => Promise<void> = async () => {};

  onStanza(handler: StanzaHandler): void {
    this.stanzaHandler = handler;
  }
  onSessionEvent(handler: SessionEventHandler): void {
    this.eventHandler = handler;
  }
  onSeeOtherHost(_handler: SeeOtherHostHandler): void {}
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async sendToSession(target: SessionAddress, stanza: Element, options?: SendToSessionOptions): Promise<SendOutcome> {
    // A round trip through the serializer: what the service sends must be valid XML, and later
    // mutations of the service's element must not change what the test sees.
    const copy = parseElement(serialize(stanza));
    this.sent.push({ target, stanza: copy, options });
    const session = this.bySession.get(`${target.gateway}\u0000${target.session}`);
    session?.inbox.push(copy);
    if (options?.deliveryReport !== true) return 'accepted';
    if (session === undefined) return 'undelivered'; // the session is gone: a gateway reports so
    return this.deliveryOutcome(session, copy);
  }

  async route(stanza: Element, via?: RouteVia): Promise<void> {
    this.routed.push({ stanza: parseElement(serialize(stanza)), via });
  }

  async sessions(bareJid: string): Promise<readonly SessionRecord[]> {
    return [...(this.directory.get(bareJid)?.values() ?? [])].sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
  }

  // -- driving the service ----------------------------------------------------------------------

  /** Binds a session (as the gateway does) and tells the service (`bound`). */
  async connect(fullJid: string, options: { gateway?: string } = {}): Promise<FakeSession> {
    const slash = fullJid.indexOf('/');
    const bareJid = fullJid.slice(0, slash);
    const resource = fullJid.slice(slash + 1);
    const gateway = options.gateway ?? 'gw-1';
    const sessionId = `s${++this.nextSession}`;
    const record: SessionRecord = { bareJid, resource, gatewayId: gateway, sessionId, priority: 0, available: false, boundAt: Date.now() };
    let resources = this.directory.get(bareJid);
    if (resources === undefined) this.directory.set(bareJid, (resources = new Map()));
    resources.set(resource, record);
    const session = new FakeSession(this, fullJid, gateway, sessionId);
    this.bySession.set(`${gateway}\u0000${sessionId}`, session);
    await this.event({ event: 'bound', gateway, session: sessionId, jid: fullJid });
    return session;
  }

  /** The session ends (the gateway unbinds it, then reports `closed`). */
  async disconnect(session: FakeSession, reason = 'normal'): Promise<void> {
    const slash = session.jid.indexOf('/');
    this.directory.get(session.jid.slice(0, slash))?.delete(session.jid.slice(slash + 1));
    this.bySession.delete(`${session.gateway}\u0000${session.session}`);
    await this.event({ event: 'closed', gateway: session.gateway, session: session.session, jid: session.jid, reason });
  }

  /** A gateway that dies says nothing: the session just disappears from the directory. */
  vanish(session: FakeSession): void {
    const slash = session.jid.indexOf('/');
    this.directory.get(session.jid.slice(0, slash))?.delete(session.jid.slice(slash + 1));
    this.bySession.delete(`${session.gateway}\u0000${session.session}`);
  }

  async event(event: SessionEvent): Promise<void> {
    if (this.eventHandler !== undefined) await this.eventHandler(event);
  }

  async fromClient(session: FakeSession, stanza: Element): Promise<void> {
    const element = parseElement(serialize(stanza));
    element.attrs.from = session.jid; // the gateway stamps from (RFC 6120 §8.1.2.1)
    // The gateway's part: broadcast presence updates the session directory before routing.
    if (element.name === 'presence' && element.attrs.to === undefined) {
      const record = this.directory.get(session.bare)?.get(session.jid.slice(session.bare.length + 1));
      if (record !== undefined && (element.attrs.type === undefined || element.attrs.type === 'unavailable')) {
        const priority = Number(element.getChildText('priority') ?? '0');
        const updated: SessionRecord = { ...record, available: element.attrs.type === undefined, priority: Number.isInteger(priority) ? priority : 0 };
        this.directory.get(session.bare)?.set(record.resource, updated);
      }
    }
    await this.deliverToService({ via: 'c2s', gateway: session.gateway, session: session.session, origin: session.jid, element });
  }

  /** A stanza arriving over s2s from a verified remote domain. */
  async fromServer(originDomain: string, stanza: Element): Promise<void> {
    await this.deliverToService({ via: 's2s', gateway: 'gw-1', session: 's2s-1', origin: originDomain, element: parseElement(serialize(stanza)) });
  }

  private async deliverToService(input: Omit<ReceivedStanza, 'key' | 'redelivered'>): Promise<void> {
    if (this.stanzaHandler === undefined) throw new Error('no stanza handler installed');
    const run = Promise.resolve(this.stanzaHandler({ ...input, key: `k${++keys}`, redelivered: false }));
    this.pending.add(run);
    try {
      await run;
    } finally {
      this.pending.delete(run);
    }
  }

  /** Waits until every handler and the service's background work have settled. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
    await this.settleHook();
  }
}
