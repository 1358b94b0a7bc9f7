// The Gateway: the client edge (c2s) and the service hub composed over one registry. It issues
// its own TLS material from the cluster CA (or takes it from files), announces itself to the
// registry, obeys the cluster's kick and drain commands, and shuts down by sending its clients
// to a live peer gateway (RFC 6120 §4.9.3.19) or with `system-shutdown`.

import { createHmac, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { issueCertificate, type CertificateAuthority } from '@ambrosia/pki';
import type { GatewayInfo, GatewayState, Registry, RegistryEvent } from '@ambrosia/registry';
import type { ClientStreamOptions } from '@ambrosia/stream';
import { DomainCertificates, type DomainCertificate } from './c2s/certificates.js';
import { ClientEdge, type AuthSettings } from './c2s/edge.js';
import { errorName, safeLogger, type GatewayLogger } from './c2s/log.js';
import type { SessionEntry } from './c2s/session-table.js';
import { resolveGatewayLimits, type GatewayLimitsOptions } from './protection/limits.js';
import { emptyProtectionStats, type ProtectionStats } from './protection/protection.js';
import type { ProxyProtocolConfig } from './protection/proxy.js';
import { ServiceHub, type ServiceHubChannelOptions, type ServiceHubLimits, type ServiceHubStats } from './services/index.js';

export interface GatewayPorts {
  /** Plain TCP with STARTTLS (RFC 6120); default 5222, 0 = ephemeral, null = off. */
  c2s?: number | null;
  /** Direct TLS (XEP-0368); default 5223, 0 = ephemeral, null = off. */
  c2sTls?: number | null;
  /** Service channel; default 5347, 0 = ephemeral. */
  service?: number;
}

export interface GatewayOptions {
  /** Unique in the cluster; default `gw-<hostname>-<random>`. */
  id?: string;
  registry: Registry;
  /** Listen address of every listener; default '127.0.0.1'. */
  host?: string;
  /** Addresses other nodes (services, redirected clients) use to reach this gateway; default [host]. */
  addresses?: string[];
  ports?: GatewayPorts;
  /**
   * The cluster CA (PEM): the gateway issues its own channel certificate (role gateway) and the
   * certificate of any served domain that has none configured.
   */
  ca?: { cert: string; key: string };
  /** Channel TLS from files, when the CA key is not on this host (then domain certificates come from files too). */
  tls?: { channelCert: string; channelKey: string; caCert: string };
  domainCertificates?: DomainCertificate[];
  /** ClientStream options (@ambrosia/stream): timeouts, limits, requireTls, XEP-0198 settings. */
  stream?: ClientStreamOptions;
  /**
   * Authentication. `decoySecret` must be the same on every gateway; by default it is derived
   * from the CA key (the same on every gateway of the cluster by construction).
   */
  auth?: Partial<AuthSettings>;
  /** Connections held at once; beyond it `resource-constraint` (default 100 000). */
  maxSessions?: number;
  /** TLS handshake deadline (ms, default 10 000). */
  handshakeTimeoutMs?: number;
  /** Graceful close linger (ms, default 5 000). */
  lingerMs?: number;
  /** How often the load figure is re-announced when it changed (ms, default 30 000). */
  loadReportIntervalMs?: number;
  hub?: { limits?: Partial<ServiceHubLimits>; channel?: ServiceHubChannelOptions };
  /**
   * Edge protection (issue #8): stanza sizes, the pre-authentication deadline, per-IP caps and
   * rates, byte and stanza rates. Every key is optional; defaults `DEFAULT_GATEWAY_LIMITS`.
   */
  limits?: GatewayLimitsOptions;
  /** PROXY protocol v1/v2 on both client listeners, or per listener (`{ c2s, c2sTls }`); absent: off. */
  proxyProtocol?: ProxyProtocolConfig;
  logger?: GatewayLogger;
}

export interface GatewayStartResult {
  id: string;
  ports: { c2s: number; c2sTls: number; service: number };
}

export type GatewayLifecycle = 'new' | 'starting' | 'active' | 'draining' | 'stopped';

export interface GatewayStats {
  id: string;
  state: GatewayLifecycle;
  ports: GatewayStartResult['ports'];
  uptimeMs: number;
  c2s: ReturnType<ClientEdge['stats']> | undefined;
  hub: ServiceHubStats | undefined;
  /** Edge protection: `limits.tripped[name]` counts each limit reached (all zero before start). */
  limits: ProtectionStats;
}

/** Service-channel messages carry a stanza plus routing fields (origin, keys, ids ≤ ~4 KiB, §4.2): headroom over the stanza limit. */
const SERVICE_MESSAGE_HEADROOM_BYTES = 16 * 1024;

const DEFAULT_LOAD_REPORT_INTERVAL_MS = 30_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const DECOY_LABEL = 'ambrosia auth decoy secret v1';

export class Gateway {
  readonly id: string;
  private readonly registry: Registry;
  private readonly host: string;
  private readonly log: GatewayLogger;
  private lifecycle: GatewayLifecycle = 'new';
  private edge: ClientEdge | undefined;
  private hub: ServiceHub | undefined;
  private ports: GatewayStartResult['ports'] = { c2s: 0, c2sTls: 0, service: 0 };
  private unsubscribe: (() => void) | undefined;
  private loadTimer: NodeJS.Timeout | undefined;
  private lastLoad = -1;
  private startedAt = 0;
  private redirectTurn = 0;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: GatewayOptions) {
    if (options.ca === undefined && options.tls === undefined) throw new TypeError('Gateway needs either ca (cluster CA) or tls (channel certificate files)');
    this.registry = options.registry;
    this.host = options.host ?? '127.0.0.1';
    this.id = options.id ?? `gw-${hostname().slice(0, 40)}-${randomBytes(4).toString('hex')}`;
    this.log = safeLogger(options.logger);
  }

  get state(): GatewayLifecycle {
    return this.lifecycle;
  }

  /** The client edge's sessions (for the CLI and tests). */
  get sessions(): ClientEdge['table'] | undefined {
    return this.edge?.table;
  }

  async start(): Promise<GatewayStartResult> {
    if (this.lifecycle !== 'new') throw new Error(`the gateway cannot start from state ${this.lifecycle}`);
    this.lifecycle = 'starting';
    const { options } = this;
    const ca: CertificateAuthority | undefined = options.ca === undefined ? undefined : { certPem: options.ca.cert, keyPem: options.ca.key };
    try {
      const limits = resolveGatewayLimits(options.limits);
      const channel = await this.channelCredentials(ca);
      // The service channel's receive limit is limits.serviceStanzaBytes unless hub settings say otherwise.
      const hubChannel = options.hub?.channel ?? {};
      const hub = new ServiceHub({
        gatewayId: this.id,
        registry: this.registry,
        host: this.host,
        port: options.ports?.service ?? 5347,
        tls: channel,
        limits: { maxServiceStanzaBytes: limits.serviceStanzaBytes, ...options.hub?.limits },
        channel: {
          ...hubChannel,
          receiveLimits: { maxMessageBytes: Math.max(64 * 1024, limits.serviceStanzaBytes + SERVICE_MESSAGE_HEADROOM_BYTES), ...hubChannel.receiveLimits },
        },
        logger: this.log,
      });
      this.hub = hub;
      const configured = new Set((options.domainCertificates ?? []).map((c) => c.domain));
      const certificates = new DomainCertificates({
        configured: options.domainCertificates,
        ca,
        // Only domains a service serves here: a client's SNI must not make us sign any name.
        mayIssue: (domain) => configured.has(domain) || hub.serves(domain, 'client'),
        fallbackDomain: isIP(this.host) === 0 && this.host !== '' ? this.host : 'localhost',
      });
      await certificates.init();
      const edge = new ClientEdge({
        gatewayId: this.id,
        registry: this.registry,
        router: hub,
        certificates,
        host: this.host,
        ports: { c2s: options.ports?.c2s === undefined ? 5222 : options.ports.c2s, c2sTls: options.ports?.c2sTls === undefined ? 5223 : options.ports.c2sTls },
        auth: this.authSettings(),
        stream: options.stream,
        maxSessions: options.maxSessions,
        handshakeTimeoutMs: options.handshakeTimeoutMs,
        lingerMs: options.lingerMs,
        limits,
        proxyProtocol: options.proxyProtocol,
        log: this.log,
      });
      this.edge = edge;
      hub.attachSessions(edge.table);
      const service = (await hub.listen()).port;
      const c2s = await edge.start();
      this.ports = { c2s: c2s.c2s, c2sTls: c2s.c2sTls, service };
      this.unsubscribe = this.registry.events.subscribe((event) => this.onRegistryEvent(event));
      await this.announce('active');
      this.startedAt = Date.now();
      this.lifecycle = 'active';
      this.startLoadReports();
      this.log('info', 'gateway-started', { gateway: this.id, c2s: this.ports.c2s, c2sTls: this.ports.c2sTls, service });
      return { id: this.id, ports: { ...this.ports } };
    } catch (error) {
      this.log('error', 'gateway-start-failed', { gateway: this.id, error: errorName(error) });
      await this.teardown();
      this.lifecycle = 'stopped';
      throw error;
    }
  }

  /**
   * Drain (a registry `drain` command, or the CLI): stop accepting, announce `draining`, and send
   * every client to a live peer gateway (see-other-host) or end it with `system-shutdown`.
   * The service hub stays up so services can finish; `stop()` completes the exit.
   */
  async drain(): Promise<number> {
    if (this.lifecycle !== 'active' && this.lifecycle !== 'draining') return 0;
    this.lifecycle = 'draining';
    await this.edge?.stopAccepting();
    await this.announce('draining').catch((error: unknown) => this.log('warn', 'gateway-announce-failed', { error: errorName(error) }));
    const count = this.edge?.shutdownAll(this.redirectTargets()) ?? 0;
    this.log('info', 'gateway-draining', { gateway: this.id, sessions: count });
    return count;
  }

  /**
   * Graceful stop: drain, wait (at most `timeoutMs`) for the sessions to end, close the service
   * hub (services get their acks and CLOSE), withdraw from the registry.
   */
  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopping ??= this.stopNow(options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
    return this.stopping;
  }

  stats(): GatewayStats {
    return {
      id: this.id,
      state: this.lifecycle,
      ports: { ...this.ports },
      uptimeMs: this.startedAt === 0 ? 0 : Date.now() - this.startedAt,
      c2s: this.edge?.stats(),
      hub: this.hub?.stats(),
      limits: this.edge?.protection.stats() ?? emptyProtectionStats(),
    };
  }

  // -------------------------------------------------------------------------------------------

  private async stopNow(timeoutMs: number): Promise<void> {
    if (this.lifecycle === 'new' || this.lifecycle === 'stopped') {
      this.lifecycle = 'stopped';
      return;
    }
    await this.drain();
    const emptied = (await this.edge?.waitForEmpty(timeoutMs)) ?? true;
    if (!emptied) this.log('warn', 'gateway-stop-timeout', { gateway: this.id, sessions: this.edge?.table.size });
    await this.teardown();
    this.lifecycle = 'stopped';
    this.log('info', 'gateway-stopped', { gateway: this.id });
  }

  private async teardown(): Promise<void> {
    if (this.loadTimer !== undefined) clearInterval(this.loadTimer);
    this.loadTimer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    await this.edge?.stopAccepting();
    await this.hub?.close().catch((error: unknown) => this.log('warn', 'service-hub-close-failed', { error: errorName(error) }));
    // Ends the lease and unbinds the sessions this registry bound for the gateway.
    await this.registry.gateways.withdraw(this.id).catch((error: unknown) => this.log('warn', 'gateway-withdraw-failed', { error: errorName(error) }));
  }

  private async channelCredentials(ca: CertificateAuthority | undefined): Promise<{ cert: string; key: string; ca: string }> {
    const files = this.options.tls;
    if (files !== undefined) return { cert: files.channelCert, key: files.channelKey, ca: files.caCert };
    const addresses = this.addresses();
    const pair = await issueCertificate(ca!, {
      role: 'gateway',
      commonName: this.id.slice(0, 64),
      dnsNames: addresses.filter((a) => isIP(a) === 0),
      ipAddresses: addresses.filter((a) => isIP(a) !== 0),
    });
    return { cert: pair.certPem, key: pair.keyPem, ca: ca!.certPem };
  }

  private authSettings(): AuthSettings {
    const auth = this.options.auth ?? {};
    let decoySecret = auth.decoySecret;
    if (decoySecret === undefined && this.options.ca !== undefined) {
      // Every gateway of a cluster holds the same CA key, so they derive the same secret.
      decoySecret = createHmac('sha256', this.options.ca.key).update(DECOY_LABEL).digest();
    }
    if (decoySecret === undefined) {
      this.log('warn', 'auth-decoy-secret-random', { gateway: this.id });
      decoySecret = randomBytes(32);
    }
    return { ...auth, decoySecret };
  }

  private addresses(): string[] {
    return this.options.addresses ?? [this.host];
  }

  private announce(state: GatewayState): Promise<GatewayInfo> {
    const load = this.edge?.table.size ?? 0;
    this.lastLoad = load;
    return this.registry.gateways.announce({
      id: this.id,
      addresses: this.addresses(),
      ports: { c2s: this.ports.c2s, 'c2s-tls': this.ports.c2sTls, service: this.ports.service },
      load,
      state,
    });
  }

  /** Re-announces the load at most once per interval, and only when it changed. */
  private startLoadReports(): void {
    const interval = this.options.loadReportIntervalMs ?? DEFAULT_LOAD_REPORT_INTERVAL_MS;
    this.loadTimer = setInterval(() => {
      if (this.lifecycle !== 'active') return;
      const load = this.edge?.table.size ?? 0;
      if (load === this.lastLoad) return;
      this.announce('active').catch((error: unknown) => this.log('warn', 'gateway-announce-failed', { error: errorName(error) }));
    }, interval);
    this.loadTimer.unref();
  }

  private onRegistryEvent(event: RegistryEvent): void {
    if (event.type === 'kick') {
      this.edge?.kick(event.command);
    } else if (event.type === 'drain' && event.gatewayId === this.id) {
      void this.drain();
    }
  }

  /**
   * Where a client goes when this gateway drains: a live, active peer, taken in turn among the
   * least loaded half, on the port of the listener the client used. Undefined: none. The peers
   * are read and sorted once per drain (per listener kind), not once per session.
   */
  private redirectTargets(): (entry: SessionEntry) => string | undefined {
    let peers: readonly GatewayInfo[];
    try {
      peers = this.registry.routing.gateways();
    } catch {
      return () => undefined;
    }
    const pools = new Map<'c2s' | 'c2s-tls', GatewayInfo[]>();
    const poolFor = (portName: 'c2s' | 'c2s-tls'): GatewayInfo[] => {
      let pool = pools.get(portName);
      if (pool === undefined) {
        const candidates = peers
          .filter((g) => g.id !== this.id && g.state === 'active' && (g.ports[portName] ?? 0) > 0 && g.addresses.length > 0)
          .sort((a, b) => a.load - b.load);
        pool = candidates.slice(0, Math.ceil(candidates.length / 2));
        pools.set(portName, pool);
      }
      return pool;
    };
    return (entry) => {
      const portName = entry.transport === 'tls' ? 'c2s-tls' : 'c2s';
      const pool = poolFor(portName);
      if (pool.length === 0) return undefined;
      const peer = pool[this.redirectTurn++ % pool.length]!;
      const address = peer.addresses[0]!;
      return `${isIP(address) === 6 ? `[${address}]` : address}:${peer.ports[portName]}`;
    };
  }
}
