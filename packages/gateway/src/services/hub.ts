// The gateway side of the service channel (docs/service-protocol.md): a mutual-TLS listener
// feeding service-protocol's ChannelAcceptor, registrations authorised by the peer's certificate
// and recorded in the registry, stanzas from the client edge routed to service instances, and
// stanzas from services delivered to the sessions held here.
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { type Server, type TLSSocket, createServer } from 'node:tls';
import { domainpartToASCII, tryParseJID } from '@ambrosia/jid';
import { authorisedChannelPeer, tlsOptionsForChannelServer } from '@ambrosia/pki';
import type { Registry } from '@ambrosia/registry';
import {
  ADMIN_COMMANDS,
  ALPN_PROTOCOL,
  ChannelAcceptor,
  type ChannelEndpoint,
  type ChannelPeer,
  type ClosedInfo,
  type EndpointLimits,
  type HeartbeatSettings,
  type InboundMessage,
  type ReceiveLimits,
  type Registration,
  type RegistrationVerdict,
  type ServiceType,
  type SessionEventMessage,
  type StanzaMessage,
  isCanonicalDomain,
  mayRegister,
  readSeeOtherHostResult,
} from '@ambrosia/service-protocol';
import { serialize } from '@ambrosia/xml';
import type { InboundStanza, LocalSessions, ServiceRouter, SessionEventInput } from '../contracts.js';
import { Dispatcher } from './dispatcher.js';
import { FromServices } from './from-services.js';
import { InstanceTable, serviceKey } from './instance-table.js';
import { DEFAULT_SERVICE_PORT, type ServiceHubLimits, resolveHubLimits } from './limits.js';
import { type HubLogger, safeLogger } from './logger.js';

export interface ServiceHubTls {
  /** PEM: this gateway's certificate, issued by the cluster CA with role gateway. */
  cert: string;
  key: string;
  /** PEM: the cluster CA, the only trust anchor of the channel (§2.1). */
  ca: string;
}

/** Below the hub's stanza timeout (30 s), so stanzas of a dead instance move before they time out. */
export const DEFAULT_HUB_RESUME_TIMEOUT_MS = 10_000;

/** Settings of the channels themselves, handed to service-protocol's ChannelAcceptor. */
export interface ServiceHubChannelOptions {
  heartbeat?: Partial<HeartbeatSettings>;
  /**
   * How long a channel whose link was lost waits for RESUME before it ends and its stanzas move
   * to another instance (§10.5). Default 10 s (`DEFAULT_HUB_RESUME_TIMEOUT_MS`): well inside the
   * 30 s a routed stanza may wait (`stanzaTimeoutMs`), so a killed instance's users move to a
   * live one instead of timing out; a service that reconnects within it resumes.
   */
  resumeTimeoutMs?: number;
  /** Channels held at once (§15, default 4 096). */
  maxChannels?: number;
  receiveLimits?: Partial<ReceiveLimits>;
  limits?: Partial<EndpointLimits>;
}

export interface ServiceHubOptions {
  gatewayId: string;
  registry: Registry;
  /** Listening address; default '0.0.0.0'. */
  host?: string;
  /** Default 5347; 0 picks a free port (listen() tells which). */
  port?: number;
  tls: ServiceHubTls;
  /** The client edge's session table; may be given later with attachSessions(). */
  sessions?: LocalSessions;
  limits?: Partial<ServiceHubLimits>;
  channel?: ServiceHubChannelOptions;
  logger?: HubLogger;
}

export interface ServiceHubStats {
  /** Channels held (attached or awaiting resumption). */
  channels: number;
  /** domain/type/instance entries connected here. */
  instances: number;
  /** domain/type pairs with at least one instance here. */
  services: number;
  /** Stanzas received from services (to-gateway). */
  stanzasIn: number;
  /** Stanzas and session events written to service channels (hand-overs included). */
  stanzasOut: number;
  acked: number;
  /** Unacknowledged messages handed to another instance after their channel ended (§10.5). */
  reroutes: number;
  pending: number;
  parked: number;
  failed: number;
  timeouts: number;
  toSessions: number;
  toServices: number;
  refused: number;
  undeliverable: number;
  bounced: number;
  /** TLS handshakes that failed (wrong CA, expired certificate, wrong ALPN…). */
  tlsRefused: number;
  /** Verified connections refused before the channel (no usable role, ALPN not negotiated). */
  peersRefused: number;
}

interface ChannelRecord {
  /** The instance name from HELLO: the identity in the registry and in rendezvous hashing. */
  readonly instanceId: string;
  /** What the table and the registry hold for this channel, by "domain/type". */
  readonly registrations: Map<string, Registration>;
  /** Registered domains (any type) with the number of types: the origins it may speak for (§4.2). */
  readonly domains: Map<string, number>;
}

/** Longer gateway ids are hashed into stanza keys, which are at most 255 bytes (§4.2). */
const MAX_KEY_PREFIX_BYTES = 200;

export class ServiceHub implements ServiceRouter {
  readonly gatewayId: string;
  private readonly options: ServiceHubOptions;
  private readonly limits: ServiceHubLimits;
  private readonly log: HubLogger;
  private readonly tlsOptions: ReturnType<typeof tlsOptionsForChannelServer>;
  private readonly acceptor: ChannelAcceptor;
  private readonly table = new InstanceTable();
  private readonly dispatcher: Dispatcher;
  private readonly fromServices: FromServices;
  private readonly records = new Map<ChannelEndpoint, ChannelRecord>();
  private readonly sockets = new Set<TLSSocket>();
  /** Registry writes per domain/type/instance, chained so an unregister never overtakes a later register. */
  private readonly registryOps = new Map<string, Promise<void>>();
  private sessions: LocalSessions | undefined;
  private server: Server | undefined;
  private closePromise: Promise<void> | undefined;
  private readonly keyPrefix: string;
  private keyCounter = 0;
  private tlsRefused = 0;
  private peersRefused = 0;

  constructor(options: ServiceHubOptions) {
    if (typeof options.gatewayId !== 'string' || options.gatewayId.length === 0) throw new TypeError('gatewayId is required');
    this.options = options;
    this.gatewayId = options.gatewayId;
    this.limits = resolveHubLimits(options.limits);
    this.log = safeLogger(options.logger);
    this.sessions = options.sessions;
    // Fails here, with a PkiError, if the certificate or key is unusable.
    this.tlsOptions = tlsOptionsForChannelServer({ caCertPem: options.tls.ca, certPem: options.tls.cert, keyPem: options.tls.key }, { alpnProtocol: ALPN_PROTOCOL });
    const incarnation = randomBytes(6).toString('base64url');
    const prefix = Buffer.byteLength(options.gatewayId) <= MAX_KEY_PREFIX_BYTES ? options.gatewayId : createHash('sha256').update(options.gatewayId).digest('base64url');
    this.keyPrefix = `${prefix}:${incarnation}:`;
    this.dispatcher = new Dispatcher(this.table, options.registry, this.limits);
    this.fromServices = new FromServices({
      gatewayId: this.gatewayId,
      sessions: () => this.sessions,
      dispatcher: this.dispatcher,
      table: this.table,
      servedInCluster: (domain, type) => this.servedInCluster(domain, type),
      registered: (channel, domain, type) => this.holdsRegistration(channel, domain, type),
      newKey: () => this.newKey(),
      log: this.log,
      maxStanzaBytes: this.limits.maxServiceStanzaBytes,
    });
    const channelOptions = options.channel ?? {};
    this.acceptor = new ChannelAcceptor({
      gateway: this.gatewayId,
      ...(channelOptions.heartbeat === undefined ? {} : { heartbeat: channelOptions.heartbeat }),
      resumeTimeoutMs: channelOptions.resumeTimeoutMs ?? DEFAULT_HUB_RESUME_TIMEOUT_MS,
      ...(channelOptions.maxChannels === undefined ? {} : { maxChannels: channelOptions.maxChannels }),
      ...(channelOptions.receiveLimits === undefined ? {} : { receiveLimits: channelOptions.receiveLimits }),
      ...(channelOptions.limits === undefined ? {} : { limits: channelOptions.limits }),
      // A gateway takes a service's stanza once it has handled it: delivery is synchronous here (§8.1).
      ackMode: 'auto',
      hooks: { authorizeRegistration: (peer, registration, channel) => this.authorizeRegistration(peer, registration, channel) },
      onChannel: (channel) => this.onChannel(channel),
    });
  }

  /** The client edge's session table, when it is made after the hub. */
  attachSessions(sessions: LocalSessions): void {
    this.sessions = sessions;
  }

  /** Starts the TLS listener. */
  listen(): Promise<{ port: number }> {
    if (this.server !== undefined) return Promise.reject(new Error('the service hub is already listening'));
    if (this.closePromise !== undefined) return Promise.reject(new Error('the service hub is closed'));
    const server = createServer(this.tlsOptions, (socket) => this.onSocket(socket));
    server.maxConnections = this.limits.maxConnections;
    server.on('tlsClientError', (error: Error & { code?: string }, socket: TLSSocket) => {
      this.tlsRefused++;
      // Node drops a client whose certificate fails verification; the reason is on the socket.
      this.log('info', 'service-tls-refused', { reason: String(socket?.authorizationError ?? error.code ?? error.message) });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      const onError = (error: Error): void => {
        this.server = undefined;
        reject(error);
      };
      server.once('error', onError);
      server.listen(this.options.port ?? DEFAULT_SERVICE_PORT, this.options.host ?? '0.0.0.0', () => {
        server.off('error', onError);
        server.on('error', (error) => this.log('error', 'service-listener-error', { reason: error.message }));
        const port = (server.address() as AddressInfo).port;
        this.log('info', 'service-listening', { port });
        resolve({ port });
      });
    });
  }

  /**
   * Stops listening, closes every channel with CLOSE `shutdown` (each waits at most the
   * channel's close timeout for its acks, §14.1), removes this gateway's registrations from the
   * registry (bounded) and fails what still waits for an instance.
   */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  // -------------------------------------------------------------------------------------------
  // ServiceRouter: what the client edge calls

  route(stanza: InboundStanza): Promise<void> {
    // Encoded once: a stanza handed to another instance is not converted again.
    const xml = stanza.xml === undefined ? Buffer.from(serialize(stanza.element), 'utf8') : typeof stanza.xml === 'string' ? Buffer.from(stanza.xml, 'utf8') : stanza.xml;
    const domain = canonicalDomain(stanza.domain);
    return this.dispatcher.dispatch(
      { domain, type: stanza.type, routingKey: stanza.routingKey },
      stanza.session,
      {
        kind: 'stanza',
        context: { via: stanza.via, gateway: this.gatewayId, session: stanza.session, origin: stanza.origin, key: this.newKey() },
        xml,
      },
      { parkIfNone: this.servedInCluster(domain, stanza.type) },
    );
  }

  sessionEvent(domain: string, routingKey: string, event: SessionEventInput): Promise<void> {
    const message: SessionEventMessage = { ...event, kind: 'session-event', gateway: this.gatewayId };
    const canonical = canonicalDomain(domain);
    return this.dispatcher.dispatch({ domain: canonical, type: 'client', routingKey }, event.session, message, { parkIfNone: this.servedInCluster(canonical, 'client') }).catch((error: unknown) => {
      this.log('debug', 'session-event-lost', { sessionEvent: event.event, session: event.session, reason: error instanceof Error ? error.message : String(error) });
    });
  }

  /** An instance of domain/type is live somewhere in the cluster (registry cache; false when stale). */
  private servedInCluster(canonical: string, type: ServiceType): boolean {
    try {
      return this.options.registry.routing.instances(canonical, type).length > 0;
    } catch {
      return false;
    }
  }

  serves(domain: string, type: ServiceType): boolean {
    const canonical = canonicalDomain(domain);
    if (this.table.has(canonical, type)) return true;
    try {
      return this.options.registry.routing.instances(canonical, type).length > 0;
    } catch {
      return false;
    }
  }

  async seeOtherHost(domain: string, jid?: string): Promise<string | undefined> {
    const canonical = canonicalDomain(domain);
    const user = jid === undefined ? undefined : jid.includes('@') ? tryParseJID(jid)?.local : jid;
    const routingKey = user === undefined || user === '' ? canonical : `${user}@${canonical}`;
    const instance = this.dispatcher.pick({ domain: canonical, type: 'client', routingKey });
    if (instance === undefined) return undefined;
    try {
      const result = await instance.channel.request(
        { kind: 'see-other-host-query', domain: canonical, ...(user === undefined || user === '' ? {} : { user }) },
        { timeoutMs: this.limits.seeOtherHostTimeoutMs },
      );
      return readSeeOtherHostResult(result).host ?? undefined;
    } catch (error) {
      this.log('debug', 'see-other-host-unanswered', { domain: canonical, reason: error instanceof Error ? error.message : String(error) });
      return undefined;
    }
  }

  stats(): ServiceHubStats {
    const dispatched = this.dispatcher.stats();
    const received = this.fromServices.stats();
    return {
      channels: this.acceptor.channels.size,
      instances: this.table.size,
      services: this.table.services,
      stanzasIn: received.received,
      stanzasOut: dispatched.sent,
      acked: dispatched.acked,
      reroutes: dispatched.reroutes,
      pending: dispatched.pending,
      parked: dispatched.parked,
      failed: dispatched.failed,
      timeouts: dispatched.timeouts,
      toSessions: received.toSessions,
      toServices: received.toServices,
      refused: received.refused,
      undeliverable: received.undeliverable,
      bounced: received.bounced,
      tlsRefused: this.tlsRefused,
      peersRefused: this.peersRefused,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Connections and channels

  private onSocket(socket: TLSSocket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {}); // the channel's link reports transport errors
    socket.setNoDelay(true);
    // TLS verified the chain to the cluster CA; the role and permissions come from the SAN URIs (§2.2).
    const peer = authorisedChannelPeer(socket, { alpnProtocol: ALPN_PROTOCOL });
    if (peer === undefined || this.closePromise !== undefined) {
      this.peersRefused++;
      this.log('info', 'service-peer-refused', { reason: peer === undefined ? 'no usable role, or ALPN not negotiated' : 'shutting down' });
      socket.destroy();
      return;
    }
    this.acceptor.handle(socket, peer);
  }

  private onChannel(channel: ChannelEndpoint): void {
    const record: ChannelRecord = { instanceId: channel.peerInstance ?? channel.channel ?? 'unknown', registrations: new Map(), domains: new Map() };
    this.records.set(channel, record);
    channel.on('registered', (registration) => this.onRegistered(channel, record, registration));
    channel.on('unregistered', (registration) => this.onUnregistered(channel, record, registration));
    channel.on('message', (inbound) => this.onMessage(channel, inbound));
    channel.on('closed', (info) => this.onClosed(channel, record, info));
    channel.on('ready', (info) => {
      this.log('info', 'service-channel-ready', { channel: info.channel, instance: record.instanceId, resumed: info.resumed, peer: channel.peer?.commonName });
      if (channel.peer?.role === 'gateway') {
        // §2.2: a gateway certificate accepts channels; it never opens one as a service.
        void channel.close('forbidden', 'a gateway certificate cannot open a service channel');
      }
    });
    channel.on('detached', (info) => this.log('info', 'service-channel-detached', { channel: channel.channel, instance: record.instanceId, code: info.code }));
  }

  private async authorizeRegistration(peer: ChannelPeer, registration: Registration, channel: ChannelEndpoint): Promise<RegistrationVerdict> {
    if (peer.role !== 'service') return { code: 'forbidden', text: `a certificate with role ${peer.role} registers nothing` };
    if (!mayRegister(peer, registration)) return { code: 'forbidden', text: `the certificate does not cover ${registration.domain}/${registration.type}` };
    if (this.closePromise !== undefined) return { code: 'unavailable', text: 'the gateway is shutting down' };
    const instanceId = channel.peerInstance ?? channel.channel ?? 'unknown';
    // A reconnecting instance keeps the weight and draining flag the cluster already knows.
    const { weight, draining } = this.dispatcher.attributes(registration.domain, registration.type, instanceId);
    try {
      await this.registryWrite(registration, instanceId, async () => {
        await this.options.registry.services.register({ domain: registration.domain, type: registration.type, instanceId, gatewayId: this.gatewayId, weight, draining });
      });
    } catch (error) {
      this.log('warn', 'service-registry-write-failed', { domain: registration.domain, type: registration.type, instance: instanceId, reason: error instanceof Error ? error.message : String(error) });
      return { code: 'unavailable', text: 'the registry cannot record the registration now; try again' };
    }
    return true;
  }

  private onRegistered(channel: ChannelEndpoint, record: ChannelRecord, registration: Registration): void {
    if (channel.state === 'closed') {
      // The channel ended while the registry was written: take the record back.
      this.unregisterFromRegistry(registration, record.instanceId);
      return;
    }
    const key = serviceKey(registration.domain, registration.type);
    if (!record.registrations.has(key)) {
      record.registrations.set(key, registration);
      record.domains.set(registration.domain, (record.domains.get(registration.domain) ?? 0) + 1);
    }
    const { replaced } = this.table.add(registration, record.instanceId, channel);
    this.log('info', 'service-registered', { domain: registration.domain, type: registration.type, instance: record.instanceId, channel: channel.channel });
    if (replaced !== undefined) {
      this.log('info', 'service-channel-replaced', { instance: record.instanceId, channel: replaced.channel.channel });
      void replaced.channel.close('replaced', 'a newer channel of this instance took over');
    }
    this.dispatcher.instanceAdded(registration.domain, registration.type);
  }

  private onUnregistered(channel: ChannelEndpoint, record: ChannelRecord, registration: Registration): void {
    this.forgetRegistration(channel, record, registration);
    this.log('info', 'service-unregistered', { domain: registration.domain, type: registration.type, instance: record.instanceId });
  }

  private onClosed(channel: ChannelEndpoint, record: ChannelRecord, info: ClosedInfo): void {
    this.records.delete(channel);
    for (const registration of [...record.registrations.values()]) this.forgetRegistration(channel, record, registration);
    this.log('info', 'service-channel-closed', { channel: channel.channel, instance: record.instanceId, code: info.code, byPeer: info.byPeer, unacked: info.unacked.length });
    // The table no longer offers this channel: what it never acknowledged goes elsewhere (§10.5).
    this.dispatcher.channelClosed(channel, info.unacked);
  }

  private forgetRegistration(channel: ChannelEndpoint, record: ChannelRecord, registration: Registration): void {
    const key = serviceKey(registration.domain, registration.type);
    if (record.registrations.delete(key)) {
      const left = (record.domains.get(registration.domain) ?? 1) - 1;
      if (left <= 0) record.domains.delete(registration.domain);
      else record.domains.set(registration.domain, left);
    }
    // A channel replaced by a newer one of the same instance leaves the registry entry to it.
    if (this.table.remove(registration, record.instanceId, channel) !== undefined && this.table.get(registration.domain, registration.type, record.instanceId) === undefined) {
      this.unregisterFromRegistry(registration, record.instanceId);
    }
  }

  private holdsRegistration(channel: ChannelEndpoint, domain: string, type?: ServiceType): boolean {
    const record = this.records.get(channel);
    if (record === undefined) return false;
    return type === undefined ? record.domains.has(domain) : record.registrations.has(serviceKey(domain, type));
  }

  private unregisterFromRegistry(registration: Registration, instanceId: string): void {
    this.registryWrite(registration, instanceId, async () => {
      await this.options.registry.services.unregister(registration.domain, registration.type, instanceId, this.gatewayId);
    }).catch((error: unknown) => {
      // The membership lease ends by itself when this gateway stops renewing it.
      this.log('warn', 'service-registry-write-failed', { domain: registration.domain, type: registration.type, instance: instanceId, reason: error instanceof Error ? error.message : String(error) });
    });
  }

  private registryWrite(registration: Registration, instanceId: string, write: () => Promise<void>): Promise<void> {
    const key = `${serviceKey(registration.domain, registration.type)}\n${instanceId}`;
    const previous = this.registryOps.get(key) ?? Promise.resolve();
    const next = previous.catch(() => {}).then(write);
    const tail = next.catch(() => {});
    this.registryOps.set(key, tail);
    void tail.then(() => {
      if (this.registryOps.get(key) === tail) this.registryOps.delete(key);
    });
    return next;
  }

  // -------------------------------------------------------------------------------------------
  // Messages from services

  private onMessage(channel: ChannelEndpoint, inbound: InboundMessage): void {
    try {
      this.handleMessage(channel, inbound);
    } catch (error) {
      // The endpoint would rethrow a listener's exception asynchronously, ending the process.
      this.log('error', 'service-message-failed', { channel: channel.channel, kind: inbound.message.kind, reason: error instanceof Error ? error.message : String(error) });
    }
  }

  private handleMessage(channel: ChannelEndpoint, inbound: InboundMessage): void {
    const message = inbound.message;
    if (message.kind === 'stanza') {
      this.fromServices.handle(channel, inbound as InboundMessage<StanzaMessage>);
      return;
    }
    if (message.kind === 'admin') {
      // The endpoint already refused peers without the admin role (§13.6).
      if (message.command === 'stats') {
        inbound.reply({ ...this.stats(), gateway: this.gatewayId });
      } else if ((ADMIN_COMMANDS as readonly string[]).includes(message.command)) {
        inbound.fail('unavailable', `${message.command} is not implemented by this gateway yet`);
      } else {
        inbound.fail('unknown-command', 'unknown admin command');
      }
      return;
    }
    this.log('debug', 'service-message-ignored', { kind: message.kind, channel: channel.channel });
  }

  // -------------------------------------------------------------------------------------------

  private newKey(): string {
    return this.keyPrefix + (++this.keyCounter).toString(36);
  }

  private async shutdown(): Promise<void> {
    const server = this.server;
    const serverClosed = new Promise<void>((resolve) => {
      if (server === undefined || !server.listening) resolve();
      else server.close(() => resolve());
    });
    this.dispatcher.close();
    await this.acceptor.close('shutdown');
    this.dispatcher.abandon();
    for (const socket of this.sockets) socket.destroy();
    await withTimeout(Promise.allSettled([...this.registryOps.values()]), this.limits.closeRegistryTimeoutMs);
    await withTimeout(serverClosed, this.limits.closeRegistryTimeoutMs);
    this.log('info', 'service-hub-closed', {});
  }
}

/** Registrations are canonical A-label domains (§13.3); the edge may hand a U-label domain. */
function canonicalDomain(domain: string): string {
  if (isCanonicalDomain(domain)) return domain;
  try {
    return domainpartToASCII(domain);
  } catch {
    return domain.toLowerCase();
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
    void promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

