// One gateway: the TLS link(s) and the ChannelEndpoint (role service) that survives them
// (docs/service-protocol.md §2, §5, §10). Dials, attaches (HELLO the first time, RESUME after a
// link loss), redials with capped exponential backoff and jitter, and starts a new channel when
// the old one ended. Everything above the transport (acks, retransmission, duplicates by id,
// reset) is the endpoint's work; this class only keeps a transport under it.
import * as tls from 'node:tls';
import { isIP } from 'node:net';
import {
  ALPN_PROTOCOL,
  ChannelEndpoint,
  type ClosedInfo,
  type DetachedInfo,
  type EndpointLimits,
  type InboundMessage,
  type ReadyInfo,
  type ReceiveLimits,
  type Registration,
} from '@ambrosia/service-protocol';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { ServiceSdkError } from './errors.js';
import type { Source } from './lanes.js';

export interface ConnectionConfig {
  host: string;
  port: number;
  /** Known gateway id: WELCOME must name it (§2.2). */
  id: string | undefined;
  instance: string;
  software: string;
  registrations: readonly Registration[];
  tlsOptions: tls.ConnectionOptions;
  receiveLimits: Partial<ReceiveLimits>;
  channelLimits: Partial<EndpointLimits>;
  backoff: BackoffOptions;
  /** TLS handshake deadline (the channel handshake has the endpoint's own). */
  connectTimeoutMs: number;
  /** How long senders wait for a link that is down before they give up. */
  reconnectWaitMs: number;
}

export interface ConnectionEvents {
  inbound(connection: GatewayConnection, message: InboundMessage): void;
  /** WELCOME: registered (at least one registration accepted) or not. */
  ready(connection: GatewayConnection, info: ReadyInfo): void;
  /** The channel went down (link lost or channel ended). */
  down(connection: GatewayConnection): void;
  error(error: Error): void;
}

export type ConnectionState = 'connecting' | 'open' | 'down' | 'stopped';

/** A send waiting on this connection: given up when the connection stays down too long. */
export interface PendingSend {
  giveUp(error: ServiceSdkError): void;
}

export class GatewayConnection implements Source {
  private endpointValue: ChannelEndpoint;
  private stateValue: ConnectionState = 'down';
  private socket: tls.TLSSocket | undefined;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private giveUpTimer: NodeJS.Timeout | undefined;
  private pauseCount = 0;
  /** The TLS socket being dialled, until the channel takes it. */
  private dialing: tls.TLSSocket | undefined;
  private readonly pendingSends = new Set<PendingSend>();
  /** Senders waiting for the send queue to fall below its low-water mark (§11.4), first come first served. */
  private capacityWaiters: (() => void)[] = [];
  private capacityWaiterHead = 0;
  private waitingForCapacity = false;
  private gatewayIdValue: string | undefined;
  private registeredValue = false;
  /**
   * Incremented whenever acknowledgements for messages received so far can no longer reach the
   * gateway (the channel ended or was reset, §10.4/§10.5): items queued under an older
   * generation are redelivered by the gateway elsewhere, so they are not run here.
   */
  generation = 0;

  constructor(
    readonly key: string,
    private readonly config: ConnectionConfig,
    private readonly events: ConnectionEvents,
  ) {
    this.gatewayIdValue = config.id;
    this.endpointValue = this.newEndpoint();
  }

  get endpoint(): ChannelEndpoint {
    return this.endpointValue;
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The gateway id: configured, or learnt from WELCOME. */
  get gatewayId(): string | undefined {
    return this.gatewayIdValue;
  }

  get host(): string {
    return this.config.host;
  }

  get port(): number {
    return this.config.port;
  }

  /** Open, with at least one registration accepted by the gateway. */
  get registered(): boolean {
    return this.stateValue === 'open' && this.registeredValue;
  }

  get paused(): boolean {
    return this.pauseCount > 0;
  }

  start(): void {
    if (this.stateValue !== 'down' || this.retryTimer !== undefined) return;
    this.connect();
  }

  get hasCapacityWaiters(): boolean {
    return this.capacityWaiterHead < this.capacityWaiters.length;
  }

  /**
   * Runs `proceed` once the channel takes messages again. One listener on the endpoint for all
   * waiters; they are released in order, each only while the queue is below its high-water mark,
   * so a crowd released at once cannot overrun the hard limit (§11.4).
   */
  waitForCapacity(proceed: () => void): void {
    this.capacityWaiters.push(proceed);
    this.watchCapacity();
  }

  private watchCapacity(): void {
    if (this.waitingForCapacity) return;
    this.waitingForCapacity = true;
    void this.endpointValue.waitForCapacity().then(() => {
      this.waitingForCapacity = false;
      // A channel that ended refuses at once (channel-closed): its waiters go and find out.
      while (this.hasCapacityWaiters && (this.endpointValue.writable || this.endpointValue.state === 'closed' || this.stateValue === 'stopped')) {
        const proceed = this.capacityWaiters[this.capacityWaiterHead]!;
        this.capacityWaiters[this.capacityWaiterHead++] = noop;
        proceed();
      }
      if (this.hasCapacityWaiters) this.watchCapacity();
      else {
        this.capacityWaiters = [];
        this.capacityWaiterHead = 0;
      }
    });
  }

  track(send: PendingSend): void {
    this.pendingSends.add(send);
  }

  untrack(send: PendingSend): void {
    this.pendingSends.delete(send);
  }

  // Source: backpressure from the lane dispatcher. Reading stops only while the channel is open,
  // so a handshake (WELCOME) is always read.
  pause(): void {
    if (++this.pauseCount === 1 && this.stateValue === 'open') this.socket?.pause();
  }

  resume(): void {
    if (this.pauseCount === 0) return;
    if (--this.pauseCount === 0) this.socket?.resume();
  }

  /**
   * Graceful end (§14.1): no redial; the endpoint sends what is queued, waits for its acks
   * (bounded by the endpoint's closeTimeoutMs) and sends CLOSE.
   */
  async shutdown(reason: string, text?: string): Promise<void> {
    if (this.stateValue === 'stopped') return;
    this.stopTimers();
    this.stateValue = 'stopped';
    this.dialing?.destroy();
    await this.endpointValue.close(reason, text);
    this.giveUpAll(new ServiceSdkError('gateway-unavailable', `the channel to gateway ${this.describe()} was closed (${reason})`, this.errorOptions()));
  }

  /** Ends at once, nothing sent (the gateway is gone, or a graceful close ran out of time). */
  destroy(): void {
    this.stopTimers();
    this.stateValue = 'stopped';
    this.dialing?.destroy();
    this.endpointValue.destroy();
    this.socket?.destroy();
    this.giveUpAll(new ServiceSdkError('gateway-unavailable', `the channel to gateway ${this.describe()} was destroyed`, this.errorOptions()));
  }

  private newEndpoint(): ChannelEndpoint {
    const endpoint = new ChannelEndpoint({
      role: 'service',
      instance: this.config.instance,
      software: this.config.software,
      registrations: this.config.registrations,
      ...(this.gatewayIdValue === undefined ? {} : { expectedGateway: this.gatewayIdValue }),
      receiveLimits: this.config.receiveLimits,
      limits: this.config.channelLimits,
      ackMode: 'manual',
    });
    endpoint.on('message', (message) => this.events.inbound(this, message));
    endpoint.on('ready', (info) => this.onReady(endpoint, info));
    endpoint.on('detached', (info) => this.onDetached(endpoint, info));
    endpoint.on('reset', () => {
      if (endpoint === this.endpointValue) this.generation++;
    });
    endpoint.on('closed', (info) => this.onClosed(endpoint, info));
    return endpoint;
  }

  private connect(): void {
    this.retryTimer = undefined;
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'connecting';
    if (this.endpointValue.state === 'closed') this.endpointValue = this.newEndpoint();
    const endpoint = this.endpointValue;
    const socket = tls.connect({
      ...this.config.tlsOptions,
      host: this.config.host,
      port: this.config.port,
      // SNI carries host names only (RFC 6066 §3); the certificate check still sees the IP.
      ...(isIP(this.config.host) === 0 ? { servername: this.config.host } : {}),
    });
    socket.setNoDelay(true);
    this.dialing = socket;
    const timer = setTimeout(() => socket.destroy(new Error(`TLS handshake with ${this.config.host}:${this.config.port} not done within ${this.config.connectTimeoutMs} ms`)), this.config.connectTimeoutMs);
    timer.unref();
    const onEarlyError = (error: Error): void => {
      clearTimeout(timer);
      if (this.dialing === socket) this.dialing = undefined;
      this.linkFailed(error);
    };
    socket.once('error', onEarlyError);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', onEarlyError);
      if (this.dialing === socket) this.dialing = undefined;
      if (this.stateValue === 'stopped') {
        socket.destroy();
        return;
      }
      if (socket.alpnProtocol !== ALPN_PROTOCOL) {
        socket.destroy();
        this.linkFailed(new Error(`the gateway at ${this.config.host}:${this.config.port} did not select ALPN ${ALPN_PROTOCOL} (§2.1)`));
        return;
      }
      this.socket = socket;
      // The endpoint reports every later failure through 'detached' or 'closed'.
      endpoint.attach(socket).catch(() => {});
    });
  }

  /** The TLS connection failed before the channel had it. */
  private linkFailed(error: Error): void {
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'down';
    this.events.error(new ServiceSdkError('gateway-link', `cannot reach gateway ${this.describe()}: ${error.message}`, { cause: error, ...this.errorOptions() }));
    this.wentDown();
  }

  private onReady(endpoint: ChannelEndpoint, info: ReadyInfo): void {
    if (endpoint !== this.endpointValue || this.stateValue === 'stopped') return;
    this.attempt = 0;
    this.stateValue = 'open';
    this.gatewayIdValue = info.gateway;
    this.registeredValue = info.registrations.some((result) => result.ok);
    for (const result of info.registrations) {
      if (!result.ok) {
        this.events.error(new ServiceSdkError('registration-refused', `gateway ${info.gateway} refused ${result.domain}/${result.type}: ${result.error.code}${result.error.text === undefined ? '' : ` (${result.error.text})`}`, this.errorOptions()));
      }
    }
    if (this.giveUpTimer !== undefined) clearTimeout(this.giveUpTimer);
    this.giveUpTimer = undefined;
    if (this.pauseCount > 0) this.socket?.pause();
    this.events.ready(this, info);
  }

  private onDetached(endpoint: ChannelEndpoint, info: DetachedInfo): void {
    if (endpoint !== this.endpointValue) return;
    this.socket = undefined;
    if (this.stateValue === 'stopped') return;
    const wasOpen = this.stateValue === 'open';
    this.stateValue = 'down';
    if (wasOpen) this.events.error(new ServiceSdkError('gateway-link', `link to gateway ${this.describe()} lost (${info.code}); resuming`, { cause: info.error, ...this.errorOptions() }));
    this.wentDown();
  }

  private onClosed(endpoint: ChannelEndpoint, info: ClosedInfo): void {
    if (endpoint !== this.endpointValue) return;
    this.socket = undefined;
    this.generation++;
    if (this.stateValue === 'stopped') return;
    this.stateValue = 'down';
    // A CLOSE from the gateway (drain, shutdown) is not a fault; anything else is reported.
    if (!(info.byPeer && info.error === undefined)) {
      const cause = info.error;
      this.events.error(new ServiceSdkError('gateway-link', `channel to gateway ${this.describe()} ended (${info.code}); starting a new one`, { ...(cause === undefined ? {} : { cause }), ...this.errorOptions() }));
    }
    this.wentDown();
  }

  private wentDown(): void {
    this.events.down(this);
    if (this.giveUpTimer === undefined && this.pendingSends.size > 0) this.armGiveUp();
    this.scheduleRetry();
  }

  private armGiveUp(): void {
    this.giveUpTimer = setTimeout(() => {
      this.giveUpTimer = undefined;
      if (this.stateValue === 'open') return;
      this.giveUpAll(new ServiceSdkError('gateway-unavailable', `gateway ${this.describe()} unreachable for ${this.config.reconnectWaitMs} ms`, this.errorOptions()));
    }, this.config.reconnectWaitMs);
  }

  /** Called by senders that start waiting while the connection is down. */
  ensureGiveUpArmed(): void {
    if (this.stateValue !== 'open' && this.stateValue !== 'stopped' && this.giveUpTimer === undefined) this.armGiveUp();
  }

  private giveUpAll(error: ServiceSdkError): void {
    const sends = [...this.pendingSends];
    this.pendingSends.clear();
    for (const send of sends) send.giveUp(error);
  }

  private scheduleRetry(): void {
    if (this.stateValue === 'stopped' || this.retryTimer !== undefined) return;
    const delay = backoffDelay(this.attempt++, this.config.backoff);
    // Not unref'd: a service waiting for its gateways must keep the process alive.
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private stopTimers(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    if (this.giveUpTimer !== undefined) clearTimeout(this.giveUpTimer);
    this.retryTimer = this.giveUpTimer = undefined;
  }

  private describe(): string {
    return this.gatewayIdValue === undefined ? `${this.config.host}:${this.config.port}` : `${this.gatewayIdValue} (${this.config.host}:${this.config.port})`;
  }

  private errorOptions(): { gateway?: string } {
    return this.gatewayIdValue === undefined ? {} : { gateway: this.gatewayIdValue };
  }
}

function noop(): void {}
