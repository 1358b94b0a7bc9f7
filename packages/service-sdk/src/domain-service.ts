// DomainService: what a domain service is written against (api.ts). It finds the gateways
// (registry and/or static list), keeps one channel to each (gateway-connection.ts), hands what
// arrives to inbound.ts (lanes, acks after handlers) and sends stanzas out (outbound.ts).

import { tlsOptionsForChannelClient } from '@ambrosia/pki';
import type { Registry, SessionRecord } from '@ambrosia/registry';
import { isChannelError, type StanzaInput, type StanzaVia } from '@ambrosia/service-protocol';
import { serialize, type Element } from '@ambrosia/xml';
import type {
  DomainServiceApi,
  GatewayAddress,
  RouteVia,
  SeeOtherHostHandler,
  SendOutcome,
  SendToSessionOptions,
  SessionAddress,
  SessionEventHandler,
  StanzaHandler,
} from './api.js';
import { ServiceSdkError, asError, isServiceSdkError } from './errors.js';
import { GatewayConnection, type ConnectionEvents } from './gateway-connection.js';
import { Inbound, bareOf } from './inbound.js';
import { OriginResolver } from './origin.js';
import { resolveSettings, type DomainServiceSettings, type ResolvedSettings, type UserLookupHandler } from './options.js';
import { rendezvousScore, transmit, type SenderGate } from './outbound.js';

export interface DomainServiceStats {
  /** Stanzas and events queued or running. */
  queued: number;
  running: number;
  lanes: number;
  /** Handlers that settled (stanzas and events). */
  handled: number;
  handlerErrors: number;
  /** Redelivered stanzas whose key this instance had handled: acked without running again. */
  duplicatesSkipped: number;
  /** Queued items dropped because their channel ended: the gateway hands them to another instance. */
  abandoned: number;
  /** Gateways whose transport reading is paused by the queue bounds. */
  pausedGateways: number;
  waitingSenders: number;
  gateways: {
    key: string;
    id: string | undefined;
    state: string;
    registered: boolean;
    /** Outbound: queued, sent and not acked, acked and awaiting a delivery report (§9, §11). */
    queuedMessages: number;
    outstandingMessages: number;
    awaitingDelivery: number;
  }[];
}

const ROUTE_ATTEMPTS = 3;

interface DesiredGateway {
  host: string;
  port: number;
  id: string | undefined;
  fromRegistry: boolean;
}

export class DomainService implements DomainServiceApi {
  readonly instance: string;
  private readonly settings: ResolvedSettings;
  private readonly registry: Registry | undefined;
  private readonly staticGateways: readonly GatewayAddress[];
  private readonly reportError: (error: Error) => void;
  private readonly tlsOptions: ReturnType<typeof tlsOptionsForChannelClient>;
  private readonly origins: OriginResolver;
  private readonly inbound: Inbound;
  private readonly connections = new Map<string, { connection: GatewayConnection; fromRegistry: boolean }>();
  private readonly connectionEvents: ConnectionEvents;

  private phase: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private discoveryTimer: NodeJS.Timeout | undefined;
  /** Called whenever a connection opens, goes down or is added/removed. */
  private readonly changeWaiters = new Set<() => void>();
  private startFailure: ((error: ServiceSdkError) => void) | undefined;
  private readonly senders: SenderGate;

  constructor(options: DomainServiceSettings) {
    this.settings = resolveSettings(options);
    this.instance = this.settings.instance;
    this.registry = options.registry;
    this.staticGateways = [...(options.gateways ?? [])];
    const onError = options.onError;
    this.reportError = (error) => {
      if (onError === undefined) return;
      try {
        onError(error);
      } catch {
        // The application's error callback failing must not take the SDK down with it.
      }
    };
    this.tlsOptions = tlsOptionsForChannelClient(
      { caCertPem: String(options.tls.ca), certPem: String(options.tls.cert), keyPem: String(options.tls.key) },
      { verifyHostname: this.settings.verifyHostname },
    );
    this.origins = new OriginResolver(this.settings.registrations.map((registration) => registration.domain));
    this.inbound = new Inbound({
      concurrency: this.settings.concurrency,
      maxQueued: this.settings.maxQueued,
      maxQueuedPerLane: this.settings.maxQueuedPerLane,
      maxRememberedKeys: this.settings.maxRememberedKeys,
      maxConcurrentRequests: this.settings.maxConcurrentRequests,
      maxMessageBytes: this.settings.receiveLimits.maxMessageBytes,
      reportError: this.reportError,
      taking: () => this.phase === 'starting' || this.phase === 'running',
    });
    this.inbound.userLookupHandler = options.userLookup;
    this.senders = { waiting: 0, max: this.settings.maxWaitingSenders };
    this.connectionEvents = {
      inbound: (connection, message) => this.inbound.take(connection, message),
      ready: (connection) => this.onConnectionReady(connection),
      down: () => this.notifyChange(),
      error: (error) => this.reportError(error),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Handlers

  onStanza(handler: StanzaHandler): void {
    this.inbound.stanzaHandler = handler;
  }

  onSessionEvent(handler: SessionEventHandler): void {
    this.inbound.sessionEventHandler = handler;
  }

  onSeeOtherHost(handler: SeeOtherHostHandler): void {
    this.inbound.seeOtherHostHandler = handler;
  }

  /** USER_LOOKUP (§13.5). Without a handler the SDK answers `unknown`. */
  onUserLookup(handler: UserLookupHandler): void {
    this.inbound.userLookupHandler = handler;
  }

  get gateways(): readonly string[] {
    const ids: string[] = [];
    for (const { connection } of this.connections.values()) if (connection.registered && connection.gatewayId !== undefined) ids.push(connection.gatewayId);
    return ids.sort();
  }

  stats(): DomainServiceStats {
    const lanes = this.inbound.dispatcher.stats();
    const gateways = [...this.connections.values()].map(({ connection }) => {
      const channel = connection.endpoint.stats();
      return {
        key: connection.key,
        id: connection.gatewayId,
        state: connection.state,
        registered: connection.registered,
        queuedMessages: channel.queuedMessages,
        outstandingMessages: channel.outstandingMessages,
        awaitingDelivery: channel.awaitingDelivery,
      };
    });
    return {
      queued: lanes.queued,
      running: lanes.running,
      lanes: lanes.lanes,
      handled: this.inbound.handled,
      handlerErrors: this.inbound.handlerErrors,
      duplicatesSkipped: this.inbound.duplicatesSkipped,
      abandoned: lanes.abandoned,
      pausedGateways: [...this.connections.values()].filter(({ connection }) => connection.paused).length,
      waitingSenders: this.senders.waiting,
      gateways,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  start(): Promise<void> {
    if (this.startPromise !== undefined) return this.startPromise;
    if (this.phase !== 'new') return Promise.reject(new ServiceSdkError('stopped', 'this DomainService was stopped; make a new one'));
    this.phase = 'starting';
    this.startPromise = this.run();
    return this.startPromise;
  }

  private async run(): Promise<void> {
    const deadline = Date.now() + this.settings.startTimeoutMs;
    try {
      if (this.registry !== undefined) {
        await this.registry.ready({ timeoutMs: this.settings.startTimeoutMs });
        if (this.phase !== 'starting') throw new ServiceSdkError('stopped', 'stopped while starting');
        this.unsubscribe = this.registry.events.subscribe((event) => {
          if (event.type === 'gateway-joined' || event.type === 'gateway-updated' || event.type === 'gateway-left' || event.type === 'resync') this.reconcile();
        });
        this.discoveryTimer = setInterval(() => this.reconcile(), this.settings.discoveryIntervalMs);
      }
      if (this.phase !== 'starting') throw new ServiceSdkError('stopped', 'stopped while starting');
      this.reconcile();
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (this.phase !== 'starting') return finish(new ServiceSdkError('stopped', 'stopped while starting'));
          if (this.gateways.length > 0) return finish(undefined);
        };
        const timer = setTimeout(() => finish(new ServiceSdkError('start-timeout', `no gateway registered this instance within ${this.settings.startTimeoutMs} ms`)), Math.max(0, deadline - Date.now()));
        const finish = (error: ServiceSdkError | undefined): void => {
          clearTimeout(timer);
          this.changeWaiters.delete(check);
          this.startFailure = undefined;
          if (error === undefined) resolve();
          else reject(error);
        };
        this.startFailure = finish;
        this.changeWaiters.add(check);
        check();
      });
      this.phase = 'running';
    } catch (error) {
      const failure = isServiceSdkError(error) ? error : new ServiceSdkError('discovery', `start failed: ${asError(error).message}`, { cause: error });
      if (this.phase === 'starting') await this.stop({ timeoutMs: 1_000 });
      throw failure;
    }
  }

  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.stopPromise !== undefined) return this.stopPromise;
    this.stopPromise = this.shutdown(options.timeoutMs ?? this.settings.stopTimeoutMs);
    return this.stopPromise;
  }

  private async shutdown(timeoutMs: number): Promise<void> {
    this.phase = 'stopping';
    this.notifyChange();
    const deadline = Date.now() + timeoutMs;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.discoveryTimer !== undefined) clearInterval(this.discoveryTimer);
    this.discoveryTimer = undefined;
    const connections = [...this.connections.values()].map(({ connection }) => connection);
    // 1. Unregister, so the gateways route new stanzas to other instances while this one drains
    //    (at most a third of the time: a gateway that does not answer must not eat the drain).
    await withDeadline(
      Promise.all(
        connections
          .filter((connection) => connection.state === 'open')
          .flatMap((connection) => connection.endpoint.registrations.map((registration) => connection.endpoint.unregister(registration).catch(() => {}))),
      ),
      Math.min(deadline, Date.now() + timeoutMs / 3),
    );
    // 2. Finish what was taken: handlers run, their acks are written. New stanzas are no longer
    //    taken (not acked), so the gateways hand them to another instance when the channel closes.
    await withDeadline(this.inbound.dispatcher.idle(), deadline);
    // 3. Close each channel (§14.1): queued sends go out and are acked, then CLOSE.
    const closed = await withDeadline(Promise.all(connections.map((connection) => connection.shutdown('shutdown', 'instance stopping'))), deadline);
    if (!closed) for (const connection of connections) connection.destroy();
    this.connections.clear();
    this.phase = 'stopped';
    this.notifyChange();
  }

  // -------------------------------------------------------------------------------------------
  // Discovery: the registry's live gateways and the static list (§2.3: one channel per gateway)

  private reconcile(): void {
    if (this.phase !== 'starting' && this.phase !== 'running') return;
    const desired = new Map<string, DesiredGateway>();
    for (const gateway of this.staticGateways) desired.set(gateway.id ?? `${gateway.host}:${gateway.port}`, { host: gateway.host, port: gateway.port, id: gateway.id, fromRegistry: false });
    if (this.registry !== undefined) {
      let live;
      try {
        live = this.registry.routing.gateways();
      } catch (error) {
        // Stale or unreachable registry: keep the gateways we have rather than drop them all.
        this.reportError(new ServiceSdkError('discovery', `cannot read the registry's gateways: ${asError(error).message}`, { cause: error }));
        return;
      }
      for (const gateway of live) {
        const host = gateway.addresses[0];
        const port = gateway.ports['service'];
        if (host === undefined || port === undefined || desired.has(gateway.id)) continue;
        desired.set(gateway.id, { host, port, id: gateway.id, fromRegistry: true });
      }
    }
    for (const [key, entry] of this.connections) {
      const wanted = desired.get(key);
      if (wanted !== undefined && wanted.host === entry.connection.host && wanted.port === entry.connection.port) continue;
      if (wanted === undefined && !entry.fromRegistry) continue;
      // Gone from the registry, or moved (a restarted gateway on a new address): close this one.
      this.connections.delete(key);
      void entry.connection.shutdown('normal', 'gateway left the registry');
    }
    for (const [key, wanted] of desired) {
      if (this.connections.has(key)) continue;
      const connection = new GatewayConnection(
        key,
        {
          host: wanted.host,
          port: wanted.port,
          id: wanted.id,
          instance: this.instance,
          software: this.settings.software,
          registrations: this.settings.registrations,
          tlsOptions: this.tlsOptions,
          receiveLimits: this.settings.receiveLimits,
          channelLimits: this.settings.channelLimits,
          backoff: this.settings.backoff,
          connectTimeoutMs: this.settings.connectTimeoutMs,
          reconnectWaitMs: this.settings.reconnectWaitMs,
        },
        this.connectionEvents,
      );
      this.connections.set(key, { connection, fromRegistry: wanted.fromRegistry });
      connection.start();
    }
    this.notifyChange();
  }

  private onConnectionReady(connection: GatewayConnection): void {
    if (!connection.registered && this.startFailure !== undefined && this.settings.registrations.length > 0) {
      // Every registration refused: the certificate does not cover them; retrying will not help.
      this.startFailure(new ServiceSdkError('registration-refused', `gateway ${connection.gatewayId} refused every registration of this instance (see onError for each)`, connection.gatewayId === undefined ? {} : { gateway: connection.gatewayId }));
      return;
    }
    this.notifyChange();
  }

  private notifyChange(): void {
    for (const waiter of [...this.changeWaiters]) waiter();
  }

  /** Resolves with `find()`'s value once it has one, or undefined after `timeoutMs` or on stop. */
  private waitFor<T>(find: () => T | undefined, timeoutMs: number): Promise<T | undefined> {
    const found = find();
    if (found !== undefined || this.phase === 'stopping' || this.phase === 'stopped') return Promise.resolve(found);
    return new Promise((resolve) => {
      const check = (): void => {
        const value = find();
        if (value !== undefined || this.phase === 'stopping' || this.phase === 'stopped') done(value);
      };
      const done = (value: T | undefined): void => {
        clearTimeout(timer);
        this.changeWaiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => done(undefined), timeoutMs);
      this.changeWaiters.add(check);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Outbound (§4.2 to-gateway, §9, §11.4)

  sessions(bareJid: string): Promise<readonly SessionRecord[]> {
    if (this.registry === undefined) return Promise.resolve([]);
    return this.registry.sessions.get(bareJid);
  }

  async sendToSession(target: SessionAddress, stanza: Element, options: SendToSessionOptions = {}): Promise<SendOutcome> {
    this.assertSending();
    const origin = this.origins.originOf(stanza, true);
    const xml = serialize(stanza);
    const connection = await this.waitFor(() => this.registeredConnection(target.gateway), this.settings.reconnectWaitMs);
    if (connection === undefined) {
      this.assertSending();
      return 'unknown';
    }
    const input: StanzaInput = { kind: 'stanza', context: { via: 'c2s', gateway: target.gateway, session: target.session, origin }, xml };
    try {
      return await transmit(connection, input, target.session, options.deliveryReport === true, this.senders);
    } catch (error) {
      // The channel ended before the gateway acked, or stayed down: its fate is unknown (§9).
      if (isChannelError(error) && (error.code === 'channel-closed' || error.code === 'channel-reset')) return 'unknown';
      if (isServiceSdkError(error) && error.code === 'gateway-unavailable') return 'unknown';
      throw error;
    }
  }

  async route(stanza: Element, via: RouteVia = 'routed'): Promise<void> {
    this.assertSending();
    const origin = this.origins.originOf(stanza);
    const to = stanza.attrs['to'] as unknown;
    if (typeof to !== 'string' || to.length === 0) throw new ServiceSdkError('invalid-stanza', 'route() needs a stanza with a to attribute: the gateway routes by it');
    const target = bareOf(to);
    const xml = serialize(stanza);
    for (let attempt = 1; ; attempt++) {
      const connection = await this.waitFor(() => this.preferredConnection(target), this.settings.reconnectWaitMs);
      this.assertSending();
      if (connection === undefined) throw new ServiceSdkError('no-gateway', `no gateway channel open within ${this.settings.reconnectWaitMs} ms`);
      const input: StanzaInput = { kind: 'stanza', context: { via: via as StanzaVia, gateway: connection.gatewayId!, session: '', origin }, xml };
      try {
        await transmit(connection, input, `\u0000route\u0000${target}`, false, this.senders);
        return;
      } catch (error) {
        // Never acked and no longer queued anywhere: safe to hand to another gateway.
        const retryable = isChannelError(error) && error.code === 'channel-closed';
        if (!retryable || attempt >= ROUTE_ATTEMPTS) {
          if (isChannelError(error)) throw new ServiceSdkError('gateway-unavailable', `gateway ${connection.gatewayId} did not take the stanza: ${error.code}`, { cause: error, gateway: connection.gatewayId! });
          throw error;
        }
      }
    }
  }

  private assertSending(): void {
    if (this.phase === 'new') throw new ServiceSdkError('not-started', 'call start() first');
    if (this.phase === 'stopping' || this.phase === 'stopped') throw new ServiceSdkError('stopped', 'this DomainService is stopping');
  }

  private registeredConnection(gatewayId: string): GatewayConnection | undefined {
    const direct = this.connections.get(gatewayId)?.connection;
    if (direct?.registered && direct.gatewayId === gatewayId) return direct;
    for (const { connection } of this.connections.values()) if (connection.registered && connection.gatewayId === gatewayId) return connection;
    return undefined;
  }

  /** A stable choice per destination (rendezvous hashing), so one destination's stanzas keep one path and their order. */
  private preferredConnection(target: string): GatewayConnection | undefined {
    let best: GatewayConnection | undefined;
    let bestScore = -1;
    for (const { connection } of this.connections.values()) {
      if (!connection.registered || connection.gatewayId === undefined) continue;
      const score = rendezvousScore(connection.gatewayId, target);
      if (score > bestScore) {
        best = connection;
        bestScore = score;
      }
    }
    return best;
  }
}

/** Resolves true if `promise` settled before the deadline (ms since the epoch), false otherwise. */
async function withDeadline(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) return false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), remaining);
  });
  try {
    return await Promise.race([promise.then(() => true, () => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}


