// The registry over any backend: what this process owns and re-asserts, heartbeats, the local
// routing cache and the on-demand caches, health, and events. docs/registry.md explains the
// model; this file is its single implementation, shared by the memory and Redis registries.

import { randomUUID } from 'node:crypto';
import type { RegistryBackend, StoredGateway, StoredInstance, StoredResumption, StoredSeeOtherHost, StoredSession } from './backend.js';
import { systemClock, type Clock } from './clock.js';
import { RegistryError, isRegistryError } from './errors.js';
import { LruCache } from './lru.js';
import { RoutingCache, serviceKey, type CachedInstance } from './routing-cache.js';
import type {
  BindResult,
  CredentialRecord,
  GatewayAnnouncement,
  GatewayInfo,
  KickCommand,
  LeaseOptions,
  Registry,
  RegistryEvent,
  RegistryEventListener,
  RegistryHealth,
  RegistryHealthStatus,
  ResumptionRecord,
  ResumptionState,
  SeeOtherHostEntry,
  ServiceAttributes,
  ServiceInstance,
  ServiceRegistration,
  ServiceRegistrationResult,
  ServiceType,
  SessionBinding,
  SessionRecord,
} from './types.js';
import * as v from './validate.js';
import { decodeWireEvent, encodeWireEvent, type WireEvent } from './wire-events.js';

export interface RegistryOptions {
  /** Injectable time (ms since the epoch) for lease and cache expiry; default Date.now. */
  clock?: Clock;
  /** How often owned leases are renewed and the snapshot reloaded; 0 disables the timer. Default 5000. */
  heartbeatIntervalMs?: number;
  /** Default lease of gateways and service memberships; default 3 heartbeats (15000). */
  leaseTtlMs?: number;
  /** How long reads are served from the last good snapshot while the store is unreachable. Default 30000. */
  stalenessLimitMs?: number;
  /** Full reload of the services cache (events keep it current in between). Default 30000. */
  serviceReloadIntervalMs?: number;
  /** Garbage-collection lease of a session entry, renewed by its owner at half-life. Default 30 min. */
  sessionLeaseMs?: number;
  /** Freshness of a cached session lookup (events invalidate it sooner). Default 2000. */
  sessionCacheTtlMs?: number;
  /** Bare JIDs kept in the session cache; least recently used evicted. Default 10000. */
  sessionCacheSize?: number;
  seeOtherHostCacheTtlMs?: number;
  seeOtherHostCacheSize?: number;
  /** Sessions this registry may own; bind beyond it fails with REGISTRY_OVERLOADED. Default 1e6. */
  maxOwnedSessions?: number;
  maxOwnedResumptions?: number;
  /** Store operations in flight; beyond it calls fail with REGISTRY_OVERLOADED (nothing queues). Default 10000. */
  maxInFlight?: number;
  /** Parallel writes while re-asserting. Default 128. */
  reassertConcurrency?: number;
  /** Default for ready(). Default 10000. */
  readyTimeoutMs?: number;
  /** Background failures (heartbeat, reloads, listeners): for logs. Health reflects them too. */
  onError?: (error: unknown, context: string) => void;
}

const DEFAULTS = {
  heartbeatIntervalMs: 5000,
  stalenessLimitMs: 30_000,
  serviceReloadIntervalMs: 30_000,
  sessionLeaseMs: 30 * 60_000,
  sessionCacheTtlMs: 2000,
  sessionCacheSize: 10_000,
  seeOtherHostCacheTtlMs: 5000,
  seeOtherHostCacheSize: 10_000,
  maxOwnedSessions: 1_000_000,
  maxOwnedResumptions: 1_000_000,
  maxInFlight: 10_000,
  reassertConcurrency: 128,
  readyTimeoutMs: 10_000,
};
/** Refresh requests coalesce per key; beyond this many distinct keys they collapse into one full reload. */
const MAX_PENDING_REFRESHES = 1024;
/** Invalidations remembered to keep a fetch that raced an invalidation out of a cache. */
const RECENT_INVALIDATIONS = 4096;
/** A session naming an unknown gateway reloads the gateways at most this often. */
const GATEWAY_RELOAD_MIN_INTERVAL_MS = 1000;
const MAX_BIND_ATTEMPTS = 4;
/** Heartbeats triggered by reconnections are at least this far apart (a flapping link must not loop). */
const RECONNECT_HEARTBEAT_SPACING_MS = 1000;

type Resolved = Required<Omit<RegistryOptions, 'clock' | 'onError' | 'leaseTtlMs'>> & { leaseTtlMs: number };

interface OwnedService {
  domain: string;
  type: ServiceType;
  instanceId: string;
  gatewayId: string;
  weight: number;
  draining: boolean;
  epoch: number;
  ttlMs: number;
}

interface OwnedSession {
  bareJid: string;
  entry: Omit<StoredSession, 'leaseUntil'>;
  renewedAt: number;
}

interface OwnedResumption {
  state: ResumptionState;
  epoch: number;
  /** local clock */
  expiresAt: number;
  /**
   * Claimed by another registry: kept (until expiry) only so that this registry's late writes
   * stay conditional on the old epoch and can never touch the new owner's record.
   */
  lost?: boolean;
}

interface Waiter {
  resolve(): void;
  reject(e: unknown): void;
}

const GATEWAYS_KEY = 'gateways';
const FULL_KEY = 'full';

function sessionKeyOf(bareJid: string, resource: string): string {
  return `${bareJid}\u0000${resource}`;
}
function ownedServiceKey(domain: string, type: ServiceType, instanceId: string, gatewayId: string): string {
  return `${type}\u0000${domain}\u0000${instanceId}\u0000${gatewayId}`;
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Tracks invalidations so a fetch that started before one is not cached after it. */
class InvalidationLog {
  private seq = 0;
  private readonly recent = new LruCache<number>(RECENT_INVALIDATIONS);
  mark(key: string): void {
    this.seq += 1;
    this.recent.set(key, this.seq, 0);
  }
  markAll(): void {
    this.seq += RECENT_INVALIDATIONS + 1;
    this.recent.clear();
  }
  get current(): number {
    return this.seq;
  }
  /** True if `key` may have been invalidated since `since`. */
  changedSince(key: string, since: number): boolean {
    if (this.seq - since > RECENT_INVALIDATIONS) return true;
    const last = this.recent.get(key);
    return last !== undefined && last.value > since;
  }
}

export class RegistryClient implements Registry {
  readonly incarnation = randomUUID();
  private readonly clock: Clock;
  private readonly opts: Resolved;
  private readonly onError: (error: unknown, context: string) => void;
  private readonly cache: RoutingCache;
  private readonly listeners = new Set<RegistryEventListener>();

  private closed = false;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;

  // Health inputs
  private connected = false;
  private subscribed = false;
  private subscribedBefore = false;
  private readonlySince: number | undefined;
  private reloadFailure: string | undefined;
  private disconnectReason: string | undefined;
  private unsubscribedReason: string | undefined;
  /** When the current trouble began: the snapshot's "last good" moment; undefined when healthy. */
  private frozenAt: number | undefined;
  private lastHealth: RegistryHealth;

  // Loading
  private loaded = false;
  private initializing: Promise<void> | undefined;
  private subscribeDone = false;
  private readonly loadedWaiters = new Set<Waiter>();
  private lastGeneration: string | undefined;
  private lastServiceReloadAt = -Infinity;
  private lastGatewayReloadAt = -Infinity;
  /** The store's clock at the last gateway reload: a session bound later may be on a gateway we have not seen. */
  private lastGatewayReloadStoreAt = -Infinity;
  private heartbeatRunning: Promise<void> | undefined;
  private reconnectHeartbeat: NodeJS.Timeout | undefined;
  private lastReconnectHeartbeatAt = -Infinity;

  // Refresh queue: one fetch at a time, so an older snapshot never lands after a newer one. A
  // service key carries the (domain, type) it reloads.
  private readonly pendingRefreshes = new Map<string, { target?: { domain: string; type: ServiceType }; waiters: Waiter[] }>();
  private pumping = false;

  // What this registry owns and re-asserts.
  private readonly ownedGateways = new Map<string, { announcement: GatewayAnnouncement; ttlMs: number }>();
  private readonly ownedServices = new Map<string, OwnedService>();
  private readonly ownedSessions = new Map<string, OwnedSession>();
  private readonly ownedResumptions = new Map<string, OwnedResumption>();

  // On-demand caches
  private readonly sessionCache: LruCache<StoredSession[]>;
  private readonly sessionInvalidations = new InvalidationLog();
  private readonly sessionFetches = new Map<string, Promise<StoredSession[]>>();
  private readonly sohCache: LruCache<SeeOtherHostEntry | null>;
  private readonly sohInvalidations = new InvalidationLog();

  constructor(
    private readonly backend: RegistryBackend,
    options: RegistryOptions = {},
  ) {
    this.clock = options.clock ?? systemClock;
    this.onError = options.onError ?? (() => {});
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs;
    this.opts = {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
      heartbeatIntervalMs,
      leaseTtlMs: options.leaseTtlMs ?? Math.max(3 * (heartbeatIntervalMs || DEFAULTS.heartbeatIntervalMs), 1000),
    } as Resolved;
    v.integer('heartbeatIntervalMs', this.opts.heartbeatIntervalMs, 0, v.MAX_TTL_MS);
    v.ttl('leaseTtlMs', this.opts.leaseTtlMs);
    if (this.opts.heartbeatIntervalMs > 0 && this.opts.leaseTtlMs < 2 * this.opts.heartbeatIntervalMs) {
      // Every node reloads remote leases once per heartbeat: a shorter lease would flap.
      throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'leaseTtlMs must be at least twice heartbeatIntervalMs');
    }
    v.ttl('stalenessLimitMs', this.opts.stalenessLimitMs);
    v.ttl('serviceReloadIntervalMs', this.opts.serviceReloadIntervalMs);
    v.ttl('sessionLeaseMs', this.opts.sessionLeaseMs);
    v.integer('sessionCacheTtlMs', this.opts.sessionCacheTtlMs, 0, v.MAX_TTL_MS);
    v.integer('seeOtherHostCacheTtlMs', this.opts.seeOtherHostCacheTtlMs, 0, v.MAX_TTL_MS);
    v.integer('maxOwnedSessions', this.opts.maxOwnedSessions, 0, Number.MAX_SAFE_INTEGER);
    v.integer('maxOwnedResumptions', this.opts.maxOwnedResumptions, 0, Number.MAX_SAFE_INTEGER);
    v.integer('maxInFlight', this.opts.maxInFlight, 1, Number.MAX_SAFE_INTEGER);
    v.integer('reassertConcurrency', this.opts.reassertConcurrency, 1, 10_000);
    this.sessionCache = new LruCache(v.integer('sessionCacheSize', this.opts.sessionCacheSize, 0, 10_000_000));
    this.sohCache = new LruCache(v.integer('seeOtherHostCacheSize', this.opts.seeOtherHostCacheSize, 0, 10_000_000));
    this.cache = new RoutingCache((event) => this.emit(event));
    this.lastHealth = { status: 'unavailable', since: this.clock.now(), snapshotAgeMs: 0, reason: 'not loaded yet' };

    backend.onSignal((signal) => this.onSignal(signal));
    if (this.opts.heartbeatIntervalMs > 0) {
      this.timer = setInterval(() => this.tick(), this.opts.heartbeatIntervalMs);
      this.timer.unref();
    }
    void this.initialize();
  }

  // ===========================================================================================
  // Lifecycle

  async ready(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.assertOpen();
    if (this.loaded) return;
    const timeoutMs = v.integer('timeoutMs', opts.timeoutMs ?? this.opts.readyTimeoutMs, 1, v.MAX_TTL_MS);
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timeout);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timeout);
          reject(e);
        },
      };
      const timeout = setTimeout(() => {
        this.loadedWaiters.delete(waiter);
        reject(new RegistryError('REGISTRY_UNAVAILABLE', `not ready within ${timeoutMs} ms (${this.health().reason ?? 'loading'})`));
      }, timeoutMs);
      this.loadedWaiters.add(waiter);
      void this.initialize();
    });
  }

  health(): RegistryHealth {
    this.updateHealth();
    return { ...this.lastHealth, snapshotAgeMs: this.snapshotAge() };
  }

  async heartbeat(): Promise<void> {
    this.assertOpen();
    if (!this.loaded) {
      await this.initialize();
      if (!this.loaded) throw new RegistryError('REGISTRY_UNAVAILABLE', this.health().reason ?? 'not loaded');
      return;
    }
    if (this.heartbeatRunning === undefined) {
      this.heartbeatRunning = this.runHeartbeat().finally(() => {
        this.heartbeatRunning = undefined;
      });
    }
    return this.heartbeatRunning;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    if (this.reconnectHeartbeat !== undefined) clearTimeout(this.reconnectHeartbeat);
    const error = new RegistryError('REGISTRY_CLOSED');
    for (const waiter of this.loadedWaiters) waiter.reject(error);
    this.loadedWaiters.clear();
    for (const { waiters } of this.pendingRefreshes.values()) for (const w of waiters) w.reject(error);
    this.pendingRefreshes.clear();
    this.listeners.clear();
    await this.backend.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new RegistryError('REGISTRY_CLOSED');
  }

  private tick(): void {
    if (this.closed) return;
    this.heartbeat().catch((e) => this.onError(e, 'heartbeat'));
    this.updateHealth();
  }

  private initialize(): Promise<void> {
    if (this.loaded || this.closed) return Promise.resolve();
    // Assigned before any work starts: a signal raised while connecting must find it running.
    this.initializing ??= Promise.resolve()
      .then(() => this.load())
      .finally(() => {
        this.initializing = undefined;
      });
    return this.initializing;
  }

  private async load(): Promise<void> {
    try {
      await this.backend.connect();
      if (!this.subscribeDone) {
        await this.backend.subscribe((message) => this.onWireMessage(message));
        this.subscribeDone = true;
      }
      this.lastGeneration = await this.backend.generation();
      await this.requestRefresh(FULL_KEY); // through the queue, like every reload: never out of order
      if (this.closed) return;
      this.loaded = true;
      this.updateHealth();
      for (const waiter of this.loadedWaiters) waiter.resolve();
      this.loadedWaiters.clear();
    } catch (e) {
      this.reloadFailure = errorText(e);
      this.updateHealth();
      this.onError(e, 'initial load');
    }
  }

  // ===========================================================================================
  // Backend signals, health

  private onSignal(signal: Parameters<Parameters<RegistryBackend['onSignal']>[0]>[0]): void {
    if (this.closed) return;
    switch (signal.kind) {
      case 'connected':
        this.connected = true;
        this.disconnectReason = undefined;
        this.updateHealth();
        // Back after an outage: the store may have restarted or failed over; renew and re-assert now.
        if (this.loaded) this.heartbeatSoon();
        else void this.initialize();
        break;
      case 'disconnected':
        this.connected = false;
        this.disconnectReason = signal.reason;
        this.updateHealth();
        break;
      case 'subscribed':
        this.subscribed = true;
        this.unsubscribedReason = undefined;
        if (this.subscribedBefore && this.loaded) this.resync();
        this.subscribedBefore = true;
        this.updateHealth();
        break;
      case 'unsubscribed':
        this.subscribed = false;
        this.unsubscribedReason = signal.reason;
        this.updateHealth();
        break;
    }
  }

  private heartbeatSoon(): void {
    if (this.reconnectHeartbeat !== undefined) return;
    const wait = Math.max(0, RECONNECT_HEARTBEAT_SPACING_MS - (performance.now() - this.lastReconnectHeartbeatAt));
    this.reconnectHeartbeat = setTimeout(() => {
      this.reconnectHeartbeat = undefined;
      this.lastReconnectHeartbeatAt = performance.now();
      if (!this.closed) this.heartbeat().catch((e) => this.onError(e, 'heartbeat after reconnect'));
    }, wait);
    this.reconnectHeartbeat.unref();
  }

  /** Events may have been lost while unsubscribed: drop on-demand caches and reload the picture. */
  private resync(): void {
    this.sessionCache.clear();
    this.sessionInvalidations.markAll();
    this.sohCache.clear();
    this.sohInvalidations.markAll();
    this.requestRefresh(FULL_KEY)
      .then(() => this.emit({ type: 'resync' }))
      .catch((e) => this.onError(e, 'resync'));
  }

  private problems(): string[] {
    const problems: string[] = [];
    if (!this.connected) problems.push(`store unreachable${this.disconnectReason ? `: ${this.disconnectReason}` : ''}`);
    if (!this.subscribed && this.subscribeDone) problems.push(`event subscription down${this.unsubscribedReason ? `: ${this.unsubscribedReason}` : ''}`);
    if (this.readonlySince !== undefined) problems.push('store is read-only (demoted primary)');
    if (this.reloadFailure !== undefined) problems.push(`reload failing: ${this.reloadFailure}`);
    return problems;
  }

  private snapshotAge(): number {
    return this.frozenAt === undefined ? 0 : Math.max(0, this.clock.now() - this.frozenAt);
  }

  private updateHealth(): void {
    const now = this.clock.now();
    const problems = this.problems();
    if (problems.length > 0 && this.frozenAt === undefined && this.loaded) {
      this.frozenAt = now;
      this.cache.clearMemos();
    } else if (problems.length === 0 && this.frozenAt !== undefined) {
      this.cache.shift(now - this.frozenAt);
      this.frozenAt = undefined;
    }
    let status: RegistryHealthStatus;
    let reason: string | undefined;
    if (!this.loaded) {
      status = 'unavailable';
      reason = problems.length > 0 ? `not loaded: ${problems.join('; ')}` : 'not loaded yet';
    } else if (problems.length === 0) {
      status = 'ok';
    } else if (this.snapshotAge() > this.opts.stalenessLimitMs) {
      status = 'unavailable';
      reason = `snapshot older than ${this.opts.stalenessLimitMs} ms: ${problems.join('; ')}`;
    } else {
      status = 'degraded';
      reason = problems.join('; ');
    }
    if (status !== this.lastHealth.status || reason !== this.lastHealth.reason) {
      const changed = status !== this.lastHealth.status;
      this.lastHealth = { status, since: changed ? now : this.lastHealth.since, snapshotAgeMs: this.snapshotAge(), ...(reason ? { reason } : {}) };
      if (changed) this.emit({ type: 'health-changed', health: { ...this.lastHealth } });
    }
  }

  /** Lease judgement stops while the snapshot is not current: nobody can renew then. */
  private effectiveNow(): number {
    return this.frozenAt ?? this.clock.now();
  }

  private assertFresh(): void {
    if (this.closed) throw new RegistryError('REGISTRY_CLOSED');
    if (!this.loaded) throw new RegistryError('REGISTRY_STALE', 'the routing snapshot is not loaded yet: await ready()');
    if (this.frozenAt !== undefined && this.clock.now() - this.frozenAt > this.opts.stalenessLimitMs) {
      this.updateHealth();
      throw new RegistryError('REGISTRY_STALE', `no current snapshot for ${this.clock.now() - this.frozenAt} ms (${this.problems().join('; ')})`);
    }
  }

  // ===========================================================================================
  // Store calls: bounded in flight, errors mapped, read-only noticed.

  private async call<T>(fn: () => Promise<T>, kind: 'read' | 'write'): Promise<T> {
    this.assertOpen();
    if (this.inFlight >= this.opts.maxInFlight) {
      throw new RegistryError('REGISTRY_OVERLOADED', `${this.inFlight} store operations in flight (maxInFlight)`);
    }
    this.inFlight += 1;
    try {
      const result = await fn();
      if (kind === 'write' && this.readonlySince !== undefined) {
        this.readonlySince = undefined;
        this.updateHealth();
      }
      return result;
    } catch (e) {
      const error = isRegistryError(e) ? e : new RegistryError('REGISTRY_BACKEND_ERROR', errorText(e), { cause: e });
      if (error.code === 'REGISTRY_READONLY' && this.readonlySince === undefined) {
        this.readonlySince = this.clock.now();
        this.updateHealth();
      }
      throw error;
    } finally {
      this.inFlight -= 1;
    }
  }

  private async publish(event: WireEvent): Promise<void> {
    await this.call(() => this.backend.publish(encodeWireEvent(event, this.incarnation)), 'write');
  }

  /** For change notifications after a successful write: the periodic reload covers a lost one. */
  private notify(event: WireEvent): void {
    this.publish(event).catch((e) => this.onError(e, `publish ${event.t}`));
  }

  private emit(event: RegistryEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (e) {
        this.onError(e, `event listener (${event.type})`);
      }
    }
  }

  private onWireMessage(message: string): void {
    if (this.closed) return;
    const decoded = decodeWireEvent(message);
    if (decoded === undefined) {
      this.onError(new RegistryError('REGISTRY_CORRUPT', 'ignored a malformed registry event'), 'events');
      return;
    }
    const { event } = decoded;
    switch (event.t) {
      case 'services':
        if (event.removed !== undefined) this.cache.removeInstance(event.domain, event.type, event.removed, this.effectiveNow());
        this.requestRefresh(serviceKey(event.domain, event.type), { domain: event.domain, type: event.type }).catch((e) =>
          this.onError(e, 'services refresh'),
        );
        break;
      case 'gateways':
        if (event.removed !== undefined) this.cache.removeGateway(event.removed, this.effectiveNow());
        this.requestRefresh(GATEWAYS_KEY).catch((e) => this.onError(e, 'gateways refresh'));
        break;
      case 'session':
        this.sessionCache.delete(event.bareJid);
        this.sessionInvalidations.mark(event.bareJid);
        break;
      case 'soh':
        this.sohCache.delete(event.key);
        this.sohInvalidations.mark(event.key);
        this.emit({ type: 'see-other-host-changed', key: event.key });
        break;
      case 'kick':
        this.emit({ type: 'kick', command: event.command });
        break;
      case 'drain':
        this.emit({ type: 'drain', gatewayId: event.gatewayId });
        break;
    }
  }

  // ===========================================================================================
  // Reloading the routing cache

  private requestRefresh(key: string, target?: { domain: string; type: ServiceType }): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      let effectiveKey = key;
      if (!this.pendingRefreshes.has(key) && this.pendingRefreshes.size >= MAX_PENDING_REFRESHES) {
        // Too many distinct keys waiting: one full reload answers all of them.
        const merged: Waiter[] = [];
        for (const { waiters } of this.pendingRefreshes.values()) merged.push(...waiters);
        this.pendingRefreshes.clear();
        this.pendingRefreshes.set(FULL_KEY, { waiters: merged });
        effectiveKey = FULL_KEY;
      }
      let pending = this.pendingRefreshes.get(effectiveKey);
      if (pending === undefined) {
        pending = target !== undefined && effectiveKey === key ? { target, waiters: [] } : { waiters: [] };
        this.pendingRefreshes.set(effectiveKey, pending);
      }
      pending.waiters.push({ resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pendingRefreshes.size > 0 && !this.closed) {
        const [key, { target, waiters }] = this.pendingRefreshes.entries().next().value!;
        this.pendingRefreshes.delete(key);
        try {
          if (key === FULL_KEY) await this.reloadAll();
          else if (key === GATEWAYS_KEY) await this.reloadGateways();
          else if (target !== undefined) await this.reloadService(target.domain, target.type);
          for (const w of waiters) w.resolve();
        } catch (e) {
          for (const w of waiters) w.reject(e);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async reloadAll(): Promise<void> {
    await this.reloadGateways();
    await this.reloadServices();
  }

  private async reloadGateways(): Promise<void> {
    try {
      const { now, gateways } = await this.call(() => this.backend.gatewayList(), 'read');
      const localNow = this.clock.now();
      this.lastGatewayReloadAt = localNow;
      this.lastGatewayReloadStoreAt = now;
      this.cache.applyGateways(
        gateways.map((g) => this.toGatewayInfo(g, now, localNow)),
        this.effectiveNow(),
      );
      this.reloadSucceeded();
    } catch (e) {
      this.reloadFailed(e);
      throw e;
    }
  }

  private async reloadServices(): Promise<void> {
    try {
      const keys = await this.call(() => this.backend.serviceKeys(), 'read');
      const all = new Map<string, { domain: string; type: ServiceType }>();
      for (const k of [...keys, ...this.cache.serviceKeys()]) all.set(serviceKey(k.domain, k.type), k);
      await forEachLimited([...all.values()], 16, (k) => this.reloadService(k.domain, k.type));
      this.lastServiceReloadAt = this.clock.now();
      this.reloadSucceeded();
    } catch (e) {
      this.reloadFailed(e);
      throw e;
    }
  }

  private async reloadService(domain: string, type: ServiceType): Promise<void> {
    const { now, instances } = await this.call(() => this.backend.serviceList(domain, type), 'read');
    const localNow = this.clock.now();
    this.cache.applyServices(
      domain,
      type,
      instances.map((s) => this.toCachedInstance(s, now, localNow)),
      this.effectiveNow(),
    );
    // An administrator's newer attributes (setAttributes) become ours at once, not only at the next
    // renewal: a store that loses data before then gets them back from our re-assertion.
    if (this.ownedServices.size > 0 && instances.length > 0) {
      const fetched = new Map(instances.map((s) => [s.instanceId, s]));
      for (const owned of this.ownedServices.values()) {
        const stored = owned.domain === domain && owned.type === type ? fetched.get(owned.instanceId) : undefined;
        if (stored !== undefined && stored.epoch > owned.epoch) Object.assign(owned, { epoch: stored.epoch, weight: stored.weight, draining: stored.draining });
      }
    }
    // A membership is live while its gateway is: look up a gateway this cache has not seen yet.
    if (this.cache.unknownGateways(domain, type).length > 0 && localNow - this.lastGatewayReloadAt >= GATEWAY_RELOAD_MIN_INTERVAL_MS) {
      this.requestRefresh(GATEWAYS_KEY).catch((e) => this.onError(e, 'gateways refresh'));
    }
  }

  private reloadSucceeded(): void {
    if (this.reloadFailure !== undefined) {
      this.reloadFailure = undefined;
      this.updateHealth();
    }
  }

  private reloadFailed(e: unknown): void {
    this.reloadFailure = errorText(e);
    this.updateHealth();
  }

  // ===========================================================================================
  // Heartbeat: renew what we own, re-assert it all if the store lost it, reload the picture.

  private async runHeartbeat(): Promise<void> {
    const generation = await this.call(() => this.backend.generation(), 'read');
    let lost = this.lastGeneration !== undefined && generation !== this.lastGeneration;
    if (!lost) {
      for (const [id, { ttlMs }] of this.ownedGateways) {
        const renewed = await this.call(() => this.backend.gatewayRenew(id, this.incarnation, ttlMs), 'write');
        if (!renewed) lost = true;
      }
    }
    if (lost) {
      await this.reassertAll();
    } else {
      await this.renewServices();
      await this.renewDueSessions();
    }
    this.pruneResumptions();
    this.lastGeneration = generation;

    await this.requestRefresh(GATEWAYS_KEY);
    const eventsDown = !this.subscribed;
    if (eventsDown || this.clock.now() - this.lastServiceReloadAt >= this.opts.serviceReloadIntervalMs) {
      await this.requestRefresh(FULL_KEY);
    }
    this.cache.sweep(this.effectiveNow());
  }

  /**
   * The store lost data (restart, failover, flush, or our lease lapsed): write everything we own
   * again. Fencing (epochs, session seqs) keeps a newer record from being overwritten.
   */
  private async reassertAll(): Promise<void> {
    for (const { announcement, ttlMs } of this.ownedGateways.values()) {
      await this.call(() => this.backend.gatewayPut({ ...announcement, incarnation: this.incarnation }, ttlMs), 'write');
      this.notify({ t: 'gateways' });
    }
    await this.renewServices();
    const sessions = [...this.ownedSessions.values()];
    await forEachLimited(sessions, this.opts.reassertConcurrency, (s) => this.reassertSession(s));
    const resumptions = [...this.ownedResumptions.entries()];
    await forEachLimited(resumptions, this.opts.reassertConcurrency, async ([id, owned]) => {
      const remaining = owned.expiresAt - this.clock.now();
      if (remaining <= 0) {
        this.ownedResumptions.delete(id);
        return;
      }
      if (owned.lost) return;
      const result = await this.call(() => this.backend.resumptionPut(owned.state, remaining, owned.epoch), 'write');
      if (!result.ok) owned.lost = true;
    });
  }

  private async renewServices(): Promise<void> {
    const notified = new Set<string>();
    for (const [key, owned] of [...this.ownedServices]) {
      const result = await this.call(
        () =>
          this.backend.serviceRegister({
            domain: owned.domain,
            type: owned.type,
            instanceId: owned.instanceId,
            gatewayId: owned.gatewayId,
            weight: owned.weight,
            draining: owned.draining,
            epoch: owned.epoch,
            epochFloor: owned.epoch,
            ttlMs: owned.ttlMs,
          }),
        'write',
      );
      // Someone relayed a newer registration of this instance: adopt it, never push ours over it.
      if (this.ownedServices.get(key) === owned && result.instance.epoch > owned.epoch) {
        owned.epoch = result.instance.epoch;
        owned.weight = result.instance.weight;
        owned.draining = result.instance.draining;
      }
      const skey = serviceKey(owned.domain, owned.type);
      if (result.joined && !notified.has(skey)) {
        notified.add(skey);
        this.notify({ t: 'services', domain: owned.domain, type: owned.type });
      }
    }
  }

  private async renewDueSessions(): Promise<void> {
    const now = this.clock.now();
    const due: OwnedSession[] = [];
    // Renewal re-inserts, so the map is ordered by last renewal: the due ones come first.
    for (const owned of this.ownedSessions.values()) {
      if (now - owned.renewedAt < this.opts.sessionLeaseMs / 2) break;
      due.push(owned);
    }
    await forEachLimited(due, this.opts.reassertConcurrency, (s) => this.reassertSession(s));
  }

  private async reassertSession(owned: OwnedSession): Promise<void> {
    const key = sessionKeyOf(owned.bareJid, owned.entry.resource);
    const outcome = await this.call(() => this.backend.sessionReassert(owned.bareJid, owned.entry, this.opts.sessionLeaseMs), 'write');
    if (this.ownedSessions.get(key) !== owned) return;
    this.ownedSessions.delete(key);
    if (outcome === 'written') {
      owned.renewedAt = this.clock.now();
      this.ownedSessions.set(key, owned);
    }
  }

  private pruneResumptions(): void {
    const now = this.clock.now();
    for (const [id, owned] of this.ownedResumptions) if (owned.expiresAt <= now) this.ownedResumptions.delete(id);
  }

  // ===========================================================================================
  // Conversions (store clock → local clock)

  private toLocal(storeTime: number, storeNow: number, localNow: number): number {
    return localNow + (storeTime - storeNow);
  }

  private toGatewayInfo(g: StoredGateway, storeNow: number, localNow: number): GatewayInfo {
    return Object.freeze({
      id: g.id,
      addresses: Object.freeze([...g.addresses]) as string[],
      ports: Object.freeze({ ...g.ports }),
      load: g.load,
      state: g.state,
      incarnation: g.incarnation,
      startedAt: g.startedAt,
      expiresAt: this.toLocal(g.expiresAt, storeNow, localNow),
    });
  }

  private toCachedInstance(s: StoredInstance, storeNow: number, localNow: number): CachedInstance {
    const memberships = new Map<string, number>();
    for (const [gatewayId, end] of Object.entries(s.gateways)) {
      if (end > storeNow) memberships.set(gatewayId, this.toLocal(end, storeNow, localNow));
    }
    return { instanceId: s.instanceId, weight: s.weight, draining: s.draining, epoch: s.epoch, memberships };
  }

  private toServiceInstance(domain: string, type: ServiceType, s: StoredInstance, storeNow: number): ServiceInstance | undefined {
    const localNow = this.clock.now();
    const gateways = Object.entries(s.gateways)
      .filter(([, end]) => end > storeNow)
      .map(([g]) => g)
      .sort();
    if (gateways.length === 0) return undefined;
    const expiresAt = Math.max(...Object.values(s.gateways));
    return Object.freeze({
      domain,
      type,
      instanceId: s.instanceId,
      weight: s.weight,
      draining: s.draining,
      epoch: s.epoch,
      gateways: Object.freeze(gateways),
      expiresAt: this.toLocal(expiresAt, storeNow, localNow),
    });
  }

  private toSessionRecord(bareJid: string, s: StoredSession): SessionRecord {
    return Object.freeze({
      bareJid,
      resource: s.resource,
      gatewayId: s.gatewayId,
      sessionId: s.sessionId,
      priority: s.priority,
      available: s.available,
      boundAt: s.boundAt,
    });
  }

  private toResumptionRecord(r: StoredResumption, storeExpiresAt: number, storeNow: number): ResumptionRecord {
    return Object.freeze({
      id: r.id,
      fullJid: r.fullJid,
      gatewayId: r.gatewayId,
      sessionId: r.sessionId,
      inbound: r.inbound,
      outbound: r.outbound,
      epoch: r.epoch,
      expiresAt: this.toLocal(storeExpiresAt, storeNow, this.clock.now()),
    });
  }

  private toSohEntry(e: StoredSeeOtherHost, storeNow: number): SeeOtherHostEntry {
    const out: { key: string; target: string; expiresAt?: number } = { key: e.key, target: e.target };
    if (e.expiresAt !== undefined) out.expiresAt = this.toLocal(e.expiresAt, storeNow, this.clock.now());
    return Object.freeze(out);
  }

  /** A lease shorter than two heartbeats would lapse between renewals and flap. */
  private leaseTtl(ttlMs: number | undefined): number {
    const ttl = v.ttl('ttlMs', ttlMs ?? this.opts.leaseTtlMs);
    if (this.opts.heartbeatIntervalMs > 0 && ttl < 2 * this.opts.heartbeatIntervalMs) {
      throw new RegistryError('REGISTRY_INVALID_ARGUMENT', `a lease of ${ttl} ms would lapse between heartbeats (${this.opts.heartbeatIntervalMs} ms): at least twice the interval`);
    }
    return ttl;
  }

  private assertOwnedGateway(gatewayId: string): void {
    if (!this.ownedGateways.has(gatewayId)) {
      throw new RegistryError('REGISTRY_NOT_OWNER', `gateway "${gatewayId}" was not announced through this registry`);
    }
  }

  // ===========================================================================================
  // Gateways

  readonly gateways: Registry['gateways'] = {
    announce: async (gateway: GatewayAnnouncement, opts: LeaseOptions = {}): Promise<GatewayInfo> => {
      const announcement = validateAnnouncement(gateway);
      const ttlMs = this.leaseTtl(opts.ttlMs);
      const { now, record } = await this.call(() => this.backend.gatewayPut({ ...announcement, incarnation: this.incarnation }, ttlMs), 'write');
      this.ownedGateways.set(announcement.id, { announcement, ttlMs });
      this.notify({ t: 'gateways' });
      await this.requestRefresh(GATEWAYS_KEY).catch((e) => this.onError(e, 'gateways refresh'));
      return this.toGatewayInfo(record, now, this.clock.now());
    },

    withdraw: async (id: string): Promise<boolean> => {
      v.identifier('gateway id', id);
      const owned = this.ownedGateways.get(id);
      const removed = await this.call(() => this.backend.gatewayRemove(id, owned === undefined ? undefined : this.incarnation), 'write');
      this.ownedGateways.delete(id);
      // Its service memberships and sessions go with it; resumption records stay for other gateways.
      const services = [...this.ownedServices.entries()].filter(([, s]) => s.gatewayId === id);
      for (const [key, s] of services) {
        this.ownedServices.delete(key);
        const { instanceRemoved } = await this.call(() => this.backend.serviceUnregister(s.domain, s.type, s.instanceId, id), 'write');
        this.notify({ t: 'services', domain: s.domain, type: s.type, ...(instanceRemoved ? { removed: s.instanceId } : {}) });
      }
      const sessions = [...this.ownedSessions.entries()].filter(([, s]) => s.entry.gatewayId === id);
      for (const [key] of sessions) this.ownedSessions.delete(key);
      await forEachLimited(sessions, this.opts.reassertConcurrency, async ([, s]) => {
        await this.call(() => this.backend.sessionUnbind(s.bareJid, s.entry.resource, s.entry.sessionId, s.entry.seq), 'write');
        this.sessionCache.delete(s.bareJid);
        this.notify({ t: 'session', bareJid: s.bareJid });
      });
      this.cache.removeGateway(id, this.effectiveNow());
      this.notify({ t: 'gateways', removed: id });
      return removed;
    },

    list: async (): Promise<GatewayInfo[]> => {
      const { now, gateways } = await this.call(() => this.backend.gatewayList(), 'read');
      const localNow = this.clock.now();
      return gateways
        .filter((g) => g.expiresAt > now)
        .map((g) => this.toGatewayInfo(g, now, localNow))
        .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    },
  };

  // ===========================================================================================
  // Services

  /** The highest epoch of an instance in this registry's cache or among its own memberships. */
  private highestEpochSeen(domain: string, type: ServiceType, instanceId: string): number {
    let epoch = this.cache.cachedEpoch(domain, type, instanceId);
    for (const s of this.ownedServices.values()) {
      if (s.domain === domain && s.type === type && s.instanceId === instanceId && s.epoch > epoch) epoch = s.epoch;
    }
    return epoch;
  }

  /** Our memberships of an instance take a newer stored epoch's attributes (never an older one's). */
  private adoptAttributes(domain: string, type: ServiceType, instanceId: string, stored: StoredInstance): void {
    for (const s of this.ownedServices.values()) {
      if (s.domain === domain && s.type === type && s.instanceId === instanceId && s.epoch < stored.epoch) {
        s.epoch = stored.epoch;
        s.weight = stored.weight;
        s.draining = stored.draining;
      }
    }
  }

  readonly services: Registry['services'] = {
    register: async (registration: ServiceRegistration, opts: LeaseOptions = {}): Promise<ServiceRegistrationResult> => {
      const domain = v.identifier('domain', registration.domain);
      const type = v.serviceType(registration.type);
      const instanceId = v.identifier('instance id', registration.instanceId);
      const gatewayId = v.identifier('gateway id', registration.gatewayId);
      const weight = validWeight(registration.weight ?? 1);
      const draining = registration.draining ?? false;
      if (typeof draining !== 'boolean') throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'draining must be a boolean');
      const epoch = registration.epoch === undefined ? undefined : v.integer('epoch', registration.epoch, 1, Number.MAX_SAFE_INTEGER);
      const ttlMs = this.leaseTtl(opts.ttlMs);
      this.assertOwnedGateway(gatewayId);

      // Never hand out an epoch at or below one this registry has seen, even if the store lost it.
      const epochFloor = this.highestEpochSeen(domain, type, instanceId);
      const result = await this.call(
        () => this.backend.serviceRegister({ domain, type, instanceId, gatewayId, weight, draining, epochFloor, ttlMs, ...(epoch !== undefined ? { epoch } : {}) }),
        'write',
      );
      const stored = result.instance;
      this.ownedServices.set(ownedServiceKey(domain, type, instanceId, gatewayId), {
        domain,
        type,
        instanceId,
        gatewayId,
        weight: stored.weight,
        draining: stored.draining,
        epoch: stored.epoch,
        ttlMs,
      });
      // Other memberships of the same instance we own follow the newest attributes.
      this.adoptAttributes(domain, type, instanceId, stored);
      this.notify({ t: 'services', domain, type });
      await this.requestRefresh(serviceKey(domain, type), { domain, type }).catch((e) => this.onError(e, 'services refresh'));
      const instance = this.toServiceInstance(domain, type, stored, result.now);
      if (instance === undefined) throw new RegistryError('REGISTRY_CORRUPT', 'the store returned a registration without a live membership');
      return { instance, accepted: result.accepted };
    },

    setAttributes: async (domain: string, type: ServiceType, instanceId: string, attributes: ServiceAttributes): Promise<ServiceInstance> => {
      v.identifier('domain', domain);
      v.serviceType(type);
      v.identifier('instance id', instanceId);
      if (typeof attributes !== 'object' || attributes === null) throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'attributes must be an object');
      const change: { weight?: number; draining?: boolean } = {};
      if (attributes.weight !== undefined) change.weight = validWeight(attributes.weight);
      if (attributes.draining !== undefined) {
        if (typeof attributes.draining !== 'boolean') throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'draining must be a boolean');
        change.draining = attributes.draining;
      }
      if (change.weight === undefined && change.draining === undefined) {
        throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'give weight, draining or both');
      }
      // Above the stored epoch (the store takes the max) and above any this registry has seen, so
      // the owning gateways' next renewal (with their older epoch) adopts it instead of undoing it.
      const epochFloor = this.highestEpochSeen(domain, type, instanceId);
      const result = await this.call(() => this.backend.serviceSetAttributes({ domain, type, instanceId, epochFloor, ...change }), 'write');
      if (result === undefined) {
        throw new RegistryError('REGISTRY_NOT_FOUND', `no live instance "${instanceId}" of ${domain}/${type}`);
      }
      this.adoptAttributes(domain, type, instanceId, result.instance);
      this.notify({ t: 'services', domain, type });
      await this.requestRefresh(serviceKey(domain, type), { domain, type }).catch((e) => this.onError(e, 'services refresh'));
      const instance = this.toServiceInstance(domain, type, result.instance, result.now);
      if (instance === undefined) throw new RegistryError('REGISTRY_NOT_FOUND', `no live instance "${instanceId}" of ${domain}/${type}`);
      return instance;
    },

    unregister: async (domain: string, type: ServiceType, instanceId: string, gatewayId?: string): Promise<boolean> => {
      v.identifier('domain', domain);
      v.serviceType(type);
      v.identifier('instance id', instanceId);
      if (gatewayId !== undefined) v.identifier('gateway id', gatewayId);
      for (const [key, s] of [...this.ownedServices]) {
        if (s.domain === domain && s.type === type && s.instanceId === instanceId && (gatewayId === undefined || s.gatewayId === gatewayId)) {
          this.ownedServices.delete(key);
        }
      }
      const { instanceRemoved } = await this.call(() => this.backend.serviceUnregister(domain, type, instanceId, gatewayId), 'write');
      if (instanceRemoved) this.cache.removeInstance(domain, type, instanceId, this.effectiveNow());
      this.notify({ t: 'services', domain, type, ...(instanceRemoved ? { removed: instanceId } : {}) });
      await this.requestRefresh(serviceKey(domain, type), { domain, type }).catch((e) => this.onError(e, 'services refresh'));
      return instanceRemoved;
    },

    list: async (domain: string, type: ServiceType): Promise<ServiceInstance[]> => {
      v.identifier('domain', domain);
      v.serviceType(type);
      const { now, instances } = await this.call(() => this.backend.serviceList(domain, type), 'read');
      return instances
        .map((s) => this.toServiceInstance(domain, type, s, now))
        .filter((s): s is ServiceInstance => s !== undefined)
        .sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
    },
  };

  // ===========================================================================================
  // Routing view (synchronous, cache only)

  readonly routing: Registry['routing'] = {
    instances: (domain: string, type: ServiceType): readonly ServiceInstance[] => {
      this.assertFresh();
      return this.cache.instances(domain, type, this.effectiveNow());
    },
    services: () => {
      this.assertFresh();
      return this.cache.services(this.effectiveNow());
    },
    gateway: (id: string): GatewayInfo | undefined => {
      this.assertFresh();
      return this.cache.gateway(id, this.effectiveNow());
    },
    gateways: (): readonly GatewayInfo[] => {
      this.assertFresh();
      return this.cache.gateways(this.effectiveNow());
    },
  };

  // ===========================================================================================
  // Sessions

  /** Live = its gateway holds a lease under the incarnation that bound it. */
  private async liveSessions(bareJid: string, entries: readonly StoredSession[], cleanUp = true): Promise<StoredSession[]> {
    const isLive = (s: StoredSession): boolean => {
      const gateway = this.cache.gateway(s.gatewayId, this.effectiveNow());
      return gateway !== undefined && gateway.incarnation === s.incarnation;
    };
    const unsure = entries.filter((s) => !isLive(s));
    // A session bound after our last look at the gateways may be on a gateway (or incarnation)
    // this cache has not seen yet: always look again before calling it dead (calling it dead
    // would let bind(onlyIfAbsent) take its resource, and clean-up unbind it). Older unknown
    // entries are dead for sure; for them the reload is only rate-limited insurance.
    const mustLook = unsure.some((s) => s.boundAt >= this.lastGatewayReloadStoreAt);
    if (
      unsure.length > 0 &&
      this.frozenAt === undefined &&
      (mustLook || this.clock.now() - this.lastGatewayReloadAt >= GATEWAY_RELOAD_MIN_INTERVAL_MS)
    ) {
      await this.requestRefresh(GATEWAYS_KEY).catch((e) => this.onError(e, 'gateways refresh'));
    }
    const live: StoredSession[] = [];
    for (const s of entries) {
      if (isLive(s)) {
        live.push(s);
      } else if (cleanUp && this.frozenAt === undefined && this.inFlight < this.opts.maxInFlight / 2) {
        // A dead gateway's entry: remove exactly that binding so later reads skip the check.
        this.call(() => this.backend.sessionUnbind(bareJid, s.resource, s.sessionId, s.seq), 'write').catch(() => {});
      }
    }
    return live;
  }

  private async fetchSessions(bareJid: string): Promise<StoredSession[]> {
    const running = this.sessionFetches.get(bareJid);
    if (running !== undefined) return running;
    const since = this.sessionInvalidations.current;
    const fetch = (async () => {
      const { entries } = await this.call(() => this.backend.sessionGet(bareJid), 'read');
      if (!this.sessionInvalidations.changedSince(bareJid, since)) this.sessionCache.set(bareJid, entries, this.clock.now());
      return entries;
    })().finally(() => this.sessionFetches.delete(bareJid));
    this.sessionFetches.set(bareJid, fetch);
    return fetch;
  }

  private invalidateSession(bareJid: string): void {
    this.sessionCache.delete(bareJid);
    this.sessionInvalidations.mark(bareJid);
    this.notify({ t: 'session', bareJid });
  }

  readonly sessions: Registry['sessions'] = {
    bind: async (binding: SessionBinding, opts: { onlyIfAbsent?: boolean } = {}): Promise<BindResult> => {
      const bareJid = v.identifier('bareJid', binding.bareJid);
      const resource = v.identifier('resource', binding.resource);
      const gatewayId = v.identifier('gateway id', binding.gatewayId);
      const sessionId = v.identifier('session id', binding.sessionId);
      const priority = v.integer('priority', binding.priority, -128, 127);
      if (typeof binding.available !== 'boolean') throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'available must be a boolean');
      this.assertOwnedGateway(gatewayId);
      const key = sessionKeyOf(bareJid, resource);
      if (!this.ownedSessions.has(key) && this.ownedSessions.size >= this.opts.maxOwnedSessions) {
        throw new RegistryError('REGISTRY_OVERLOADED', `this registry already owns ${this.ownedSessions.size} sessions (maxOwnedSessions)`);
      }
      const entry = { resource, gatewayId, sessionId, priority, available: binding.available, incarnation: this.incarnation };
      const isSelf = (s: StoredSession): boolean => s.sessionId === sessionId && s.incarnation === this.incarnation;

      let written: StoredSession | undefined;
      let previous: StoredSession | undefined;
      if (opts.onlyIfAbsent !== true) {
        const result = await this.call(() => this.backend.sessionBind(bareJid, entry, undefined, this.opts.sessionLeaseMs), 'write');
        written = result.written;
        if (result.current !== undefined && !isSelf(result.current)) {
          previous = (await this.liveSessions(bareJid, [result.current], false))[0];
        }
      } else {
        let expect: { absent: true } | { seq: number } = { absent: true };
        for (let attempt = 0; attempt < MAX_BIND_ATTEMPTS && written === undefined; attempt++) {
          const result = await this.call(() => this.backend.sessionBind(bareJid, entry, expect, this.opts.sessionLeaseMs), 'write');
          if (result.ok) {
            written = result.written;
            break;
          }
          const current = result.current;
          if (current === undefined) {
            expect = { absent: true };
            continue;
          }
          if (isSelf(current)) {
            written = current;
            break;
          }
          const live = (await this.liveSessions(bareJid, [current], false))[0];
          if (live !== undefined) return { bound: false, previous: this.toSessionRecord(bareJid, live) };
          expect = { seq: current.seq }; // held by a dead gateway's session: take it over
        }
        if (written === undefined) throw new RegistryError('REGISTRY_UNAVAILABLE', 'the resource kept changing hands; try again');
      }
      if (written === undefined) throw new RegistryError('REGISTRY_CORRUPT', 'the store did not return the binding');
      const { leaseUntil: _lease, ...ownedEntry } = written;
      this.ownedSessions.delete(key);
      this.ownedSessions.set(key, { bareJid, entry: ownedEntry, renewedAt: this.clock.now() });
      this.invalidateSession(bareJid);
      return previous === undefined ? { bound: true } : { bound: true, previous: this.toSessionRecord(bareJid, previous) };
    },

    update: async (bareJid: string, resource: string, sessionId: string, patch: { priority?: number; available?: boolean }): Promise<boolean> => {
      v.identifier('bareJid', bareJid);
      v.identifier('resource', resource);
      v.identifier('session id', sessionId);
      const clean: { priority?: number; available?: boolean } = {};
      if (patch.priority !== undefined) clean.priority = v.integer('priority', patch.priority, -128, 127);
      if (patch.available !== undefined) {
        if (typeof patch.available !== 'boolean') throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'available must be a boolean');
        clean.available = patch.available;
      }
      const updated = await this.call(() => this.backend.sessionUpdate(bareJid, resource, sessionId, clean), 'write');
      const key = sessionKeyOf(bareJid, resource);
      const owned = this.ownedSessions.get(key);
      if (owned !== undefined && owned.entry.sessionId === sessionId) {
        if (updated === undefined) this.ownedSessions.delete(key);
        else owned.entry = { ...owned.entry, priority: updated.priority, available: updated.available };
      }
      if (updated !== undefined) this.invalidateSession(bareJid);
      return updated !== undefined;
    },

    unbind: async (bareJid: string, resource: string, sessionId: string): Promise<boolean> => {
      v.identifier('bareJid', bareJid);
      v.identifier('resource', resource);
      v.identifier('session id', sessionId);
      const key = sessionKeyOf(bareJid, resource);
      const owned = this.ownedSessions.get(key);
      if (owned !== undefined && owned.entry.sessionId === sessionId) this.ownedSessions.delete(key);
      const removed = await this.call(() => this.backend.sessionUnbind(bareJid, resource, sessionId), 'write');
      if (removed) this.invalidateSession(bareJid);
      return removed;
    },

    get: async (bareJid: string): Promise<SessionRecord[]> => {
      v.identifier('bareJid', bareJid);
      this.assertOpen();
      const now = this.clock.now();
      const cached = this.sessionCache.get(bareJid);
      let entries: readonly StoredSession[];
      if (cached !== undefined && now - cached.fetchedAt < this.opts.sessionCacheTtlMs) {
        entries = cached.value;
      } else {
        try {
          entries = await this.fetchSessions(bareJid);
        } catch (e) {
          // Store unreachable: the last good answer serves up to the staleness limit.
          if (cached === undefined || !this.servesStale(e)) throw e;
          entries = cached.value;
        }
      }
      const live = await this.liveSessions(bareJid, entries);
      return live.map((s) => this.toSessionRecord(bareJid, s)).sort((a, b) => (a.resource < b.resource ? -1 : a.resource > b.resource ? 1 : 0));
    },
  };

  private servesStale(e: unknown): boolean {
    return (
      isRegistryError(e) &&
      (e.code === 'REGISTRY_UNAVAILABLE' || e.code === 'REGISTRY_OVERLOADED') &&
      this.frozenAt !== undefined &&
      this.clock.now() - this.frozenAt <= this.opts.stalenessLimitMs
    );
  }

  // ===========================================================================================
  // Resumption (XEP-0198 §5)

  readonly resumptions: Registry['resumptions'] = {
    put: async (state: ResumptionState, ttlMs: number): Promise<ResumptionRecord> => {
      const clean = validateResumption(state);
      v.ttl('ttlMs', ttlMs);
      this.assertOwnedGateway(clean.gatewayId);
      const owned = this.ownedResumptions.get(clean.id);
      if (owned === undefined && this.ownedResumptions.size >= this.opts.maxOwnedResumptions) {
        throw new RegistryError('REGISTRY_OVERLOADED', `this registry already owns ${this.ownedResumptions.size} resumption records`);
      }
      // A lost record may only be created afresh (if the new owner deleted it), never overwritten.
      const epoch = owned === undefined || owned.lost ? undefined : owned.epoch;
      const result = await this.call(() => this.backend.resumptionPut(clean, ttlMs, epoch), 'write');
      if (!result.ok || result.record === undefined || result.expiresAt === undefined) {
        if (owned !== undefined) owned.lost = true;
        throw new RegistryError('REGISTRY_NOT_OWNER', `resumption record "${clean.id}" exists and belongs to another registry (claimed)`);
      }
      const record = this.toResumptionRecord(result.record, result.expiresAt, result.now);
      this.ownedResumptions.set(clean.id, { state: clean, epoch: result.record.epoch, expiresAt: record.expiresAt });
      return record;
    },

    get: async (id: string): Promise<ResumptionRecord | undefined> => {
      v.identifier('resumption id', id);
      const found = await this.call(() => this.backend.resumptionGet(id), 'read');
      return found === undefined ? undefined : this.toResumptionRecord(found.record, found.expiresAt, found.now);
    },

    claim: async (id: string, gatewayId: string, sessionId: string): Promise<ResumptionRecord | undefined> => {
      v.identifier('resumption id', id);
      v.identifier('gateway id', gatewayId);
      v.identifier('session id', sessionId);
      this.assertOwnedGateway(gatewayId);
      if (!this.ownedResumptions.has(id) && this.ownedResumptions.size >= this.opts.maxOwnedResumptions) {
        throw new RegistryError('REGISTRY_OVERLOADED', `this registry already owns ${this.ownedResumptions.size} resumption records`);
      }
      const result = await this.call(() => this.backend.resumptionClaim(id, gatewayId, sessionId), 'write');
      if (result === undefined) return undefined;
      const claimed = this.toResumptionRecord(result.record, result.expiresAt, result.now);
      const { epoch, ...state } = result.record;
      this.ownedResumptions.set(id, { state, epoch, expiresAt: claimed.expiresAt, lost: false });
      return this.toResumptionRecord(result.previous, result.expiresAt, result.now);
    },

    update: async (id: string, patch: { inbound?: number; outbound?: number; ttlMs?: number }): Promise<boolean> => {
      v.identifier('resumption id', id);
      const clean: { inbound?: number; outbound?: number } = {};
      if (patch.inbound !== undefined) clean.inbound = v.integer('inbound', patch.inbound, 0, 2 ** 32 - 1);
      if (patch.outbound !== undefined) clean.outbound = v.integer('outbound', patch.outbound, 0, 2 ** 32 - 1);
      const ttlMs = patch.ttlMs === undefined ? undefined : v.ttl('ttlMs', patch.ttlMs);
      const owned = this.ownedResumptions.get(id);
      if (owned === undefined || owned.lost) return false;
      const ok = await this.call(() => this.backend.resumptionUpdate(id, owned.epoch, clean, ttlMs), 'write');
      if (this.ownedResumptions.get(id) !== owned) return ok;
      if (!ok) {
        owned.lost = true;
      } else {
        owned.state = { ...owned.state, ...clean };
        if (ttlMs !== undefined) owned.expiresAt = this.clock.now() + ttlMs;
      }
      return ok;
    },

    delete: async (id: string): Promise<boolean> => {
      v.identifier('resumption id', id);
      const owned = this.ownedResumptions.get(id);
      this.ownedResumptions.delete(id);
      return this.call(() => this.backend.resumptionDelete(id, owned?.epoch), 'write');
    },
  };

  // ===========================================================================================
  // See-other-host

  private async sohLookup(key: string): Promise<SeeOtherHostEntry | undefined> {
    const now = this.clock.now();
    const cached = this.sohCache.get(key);
    const usable = (entry: SeeOtherHostEntry | null): SeeOtherHostEntry | undefined =>
      entry === null || (entry.expiresAt !== undefined && entry.expiresAt <= this.clock.now()) ? undefined : entry;
    if (cached !== undefined && now - cached.fetchedAt < this.opts.seeOtherHostCacheTtlMs) return usable(cached.value);
    const since = this.sohInvalidations.current;
    try {
      const found = await this.call(() => this.backend.sohGet(key), 'read');
      const entry = found === undefined ? null : this.toSohEntry(found.entry, found.now);
      if (!this.sohInvalidations.changedSince(key, since)) this.sohCache.set(key, entry, this.clock.now());
      return usable(entry);
    } catch (e) {
      if (cached === undefined || !this.servesStale(e)) throw e;
      return usable(cached.value);
    }
  }

  private invalidateSoh(key: string): void {
    this.sohCache.delete(key);
    this.sohInvalidations.mark(key);
    this.notify({ t: 'soh', key });
  }

  readonly seeOtherHost: Registry['seeOtherHost'] = {
    set: async (key: string, target: string, opts: { ttlMs?: number } = {}): Promise<void> => {
      v.identifier('see-other-host key', key);
      v.seeOtherHostTarget(target);
      const ttlMs = opts.ttlMs === undefined ? undefined : v.ttl('ttlMs', opts.ttlMs);
      await this.call(() => this.backend.sohSet(key, target, ttlMs), 'write');
      this.invalidateSoh(key);
    },
    get: async (key: string): Promise<SeeOtherHostEntry | undefined> => {
      v.identifier('see-other-host key', key);
      this.assertOpen();
      return this.sohLookup(key);
    },
    resolve: async (bareJidOrDomain: string): Promise<SeeOtherHostEntry | undefined> => {
      v.identifier('bare JID or domain', bareJidOrDomain);
      this.assertOpen();
      const exact = await this.sohLookup(bareJidOrDomain);
      if (exact !== undefined) return exact;
      // RFC 7622 §3.3: the localpart ends at the first "@"; the rest is the domain.
      const at = bareJidOrDomain.indexOf('@');
      if (at < 0 || at === bareJidOrDomain.length - 1) return undefined;
      return this.sohLookup(bareJidOrDomain.slice(at + 1));
    },
    delete: async (key: string): Promise<boolean> => {
      v.identifier('see-other-host key', key);
      const removed = await this.call(() => this.backend.sohDelete(key), 'write');
      this.invalidateSoh(key);
      return removed;
    },
    list: async (opts: { cursor?: string; limit?: number } = {}) => {
      const limit = v.pageLimit(opts.limit);
      const after = v.decodeCursor(opts.cursor);
      const { now, entries, more } = await this.call(() => this.backend.sohList(after, limit), 'read');
      const out = entries.map((e) => this.toSohEntry(e, now));
      const last = entries[entries.length - 1];
      return more && last !== undefined ? { entries: out, cursor: v.encodeCursor(last.key) } : { entries: out };
    },
  };

  // ===========================================================================================
  // Credentials and counters: straight to the store (no cache: a disabled account must bite now).

  readonly credentials: Registry['credentials'] = {
    get: async (domain: string, user: string): Promise<CredentialRecord | undefined> => {
      v.identifier('domain', domain);
      v.identifier('user', user);
      return this.call(() => this.backend.credGet(domain, user), 'read');
    },
    put: async (domain: string, user: string, record: CredentialRecord, opts: { onlyIfAbsent?: boolean } = {}): Promise<boolean> => {
      v.identifier('domain', domain);
      v.identifier('user', user);
      const clean = v.credentialRecord(record);
      return this.call(() => this.backend.credPut(domain, user, clean, opts.onlyIfAbsent === true), 'write');
    },
    delete: async (domain: string, user: string): Promise<boolean> => {
      v.identifier('domain', domain);
      v.identifier('user', user);
      return this.call(() => this.backend.credDelete(domain, user), 'write');
    },
    list: async (domain: string, opts: { cursor?: string; limit?: number } = {}) => {
      v.identifier('domain', domain);
      const limit = v.pageLimit(opts.limit);
      const after = v.decodeCursor(opts.cursor);
      const { users, more } = await this.call(() => this.backend.credList(domain, after, limit), 'read');
      const last = users[users.length - 1];
      return more && last !== undefined ? { users, cursor: v.encodeCursor(last) } : { users };
    },
  };

  readonly counters: Registry['counters'] = {
    increment: async (key: string, windowMs: number, by = 1): Promise<number> => {
      v.identifier('counter key', key);
      v.ttl('windowMs', windowMs);
      v.integer('by', by, -(2 ** 31), 2 ** 31);
      return this.call(() => this.backend.counterIncrement(key, windowMs, by), 'write');
    },
    get: async (key: string): Promise<number> => {
      v.identifier('counter key', key);
      return this.call(() => this.backend.counterGet(key), 'read');
    },
    reset: async (key: string): Promise<void> => {
      v.identifier('counter key', key);
      await this.call(() => this.backend.counterReset(key), 'write');
    },
  };

  // ===========================================================================================
  // Events and commands

  readonly events: Registry['events'] = {
    subscribe: (listener: RegistryEventListener): (() => void) => {
      if (typeof listener !== 'function') throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'listener must be a function');
      this.listeners.add(listener);
      return () => {
        this.listeners.delete(listener);
      };
    },
  };

  readonly commands: Registry['commands'] = {
    kick: async (command: KickCommand): Promise<void> => {
      const clean: KickCommand = { bareJid: v.identifier('bareJid', command.bareJid) };
      if (command.resource !== undefined) clean.resource = v.identifier('resource', command.resource);
      if (command.sessionId !== undefined) clean.sessionId = v.identifier('session id', command.sessionId);
      if (command.gatewayId !== undefined) clean.gatewayId = v.identifier('gateway id', command.gatewayId);
      if (command.reason !== undefined) {
        if (typeof command.reason !== 'string' || command.reason.length > 1024) throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'reason must be a string of at most 1024 characters');
        clean.reason = command.reason;
      }
      await this.publish({ t: 'kick', command: clean });
    },
    drain: async (gatewayId: string): Promise<void> => {
      v.identifier('gateway id', gatewayId);
      await this.publish({ t: 'drain', gatewayId });
    },
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Six decimals: every store keeps them exactly (Redis's cjson prints 14 significant digits). */
function validWeight(weight: unknown): number {
  return Math.round(v.finiteNumber('weight', weight, 0, 1_000_000) * 1e6) / 1e6;
}

function validateAnnouncement(g: GatewayAnnouncement): GatewayAnnouncement {
  const id = v.identifier('gateway id', g?.id);
  if (!Array.isArray(g.addresses) || g.addresses.length > 64) throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'addresses must be an array of at most 64 strings');
  const addresses = g.addresses.map((a) => v.identifier('address', a));
  if (typeof g.ports !== 'object' || g.ports === null) throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'ports must be an object');
  const entries = Object.entries(g.ports);
  if (entries.length > 64) throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'at most 64 ports');
  const ports: Record<string, number> = {};
  for (const [name, port] of entries) ports[v.identifier('port name', name)] = v.integer(`port ${name}`, port, 0, 65535);
  const load = v.finiteNumber('load', g.load, 0, Number.MAX_SAFE_INTEGER);
  if (g.state !== 'active' && g.state !== 'draining') throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'state must be "active" or "draining"');
  return { id, addresses, ports, load, state: g.state };
}

function validateResumption(s: ResumptionState): ResumptionState {
  return {
    id: v.identifier('resumption id', s?.id),
    fullJid: v.identifier('fullJid', s.fullJid),
    gatewayId: v.identifier('gateway id', s.gatewayId),
    sessionId: v.identifier('session id', s.sessionId),
    inbound: v.integer('inbound', s.inbound, 0, 2 ** 32 - 1),
    outbound: v.integer('outbound', s.outbound, 0, 2 ** 32 - 1),
  };
}

/** A registry over any backend (the memory and Redis registries are this plus their backend). */
export function createRegistry(backend: RegistryBackend, options?: RegistryOptions): Registry {
  try {
    return new RegistryClient(backend, options);
  } catch (e) {
    void backend.close();
    throw e;
  }
}
