// The edge's shared protection state (issue #8): the per-IP tables (unauthenticated connections,
// connection rate), the cluster-wide connection-rate counter in the registry, and the counters of
// every limit reached, with one log line per trip. One instance per client edge; every listener
// and connection guard of the edge reports here.

import { addressKey, PerKeyLimiter, RateWindow, type Lease } from '@ambrosia/edge-limits';
import { TrustedProxies } from '@ambrosia/proxy-protocol';
import type { Counters } from '@ambrosia/registry';
import { errorName, type GatewayLogger, type LogFields } from '../c2s/log.js';
import { DeadlineQueue, type DeadlineEntry } from './deadline-queue.js';
import { LIMIT_NAMES, type GatewayLimits, type LimitName } from './limits.js';

/** What the pre-authentication deadline calls when it expires. */
export interface PreAuthExpiry {
  preAuthExpired(): void;
}

/** Registry checks of the cluster connection rate waiting for an answer; beyond it new connections are checked locally only. */
export const MAX_CLUSTER_CHECKS_IN_FLIGHT = 1024;
/** Prefix of the registry counter keys (`<prefix><addressKey>`). */
export const CLUSTER_RATE_KEY_PREFIX = 'edge:conn:ip:';
/** A failing registry is logged at most once per this interval (the checks go on locally). */
const REGISTRY_WARNING_INTERVAL_MS = 10_000;

export type Admission =
  /** `exempt`: the address is in `limits.exemptAddresses` (no per-IP limit, no byte or stanza rate). */
  | { ok: true; key: string; lease: Lease | undefined; exempt: boolean }
  | { ok: false; key: string; limit: LimitName };

export interface ProtectionStats {
  /** How often each limit was reached since start. */
  tripped: Record<LimitName, number>;
  /** Connections holding an unauthenticated-per-IP slot now. */
  unauthenticated: number;
  /** Client addresses in the per-IP tables now. */
  trackedAddresses: { unauthenticated: number; connectionRate: number };
  /** PROXY protocol: headers accepted, and refusals by error code (PROXY_UNTRUSTED, PROXY_MISSING, ...). */
  proxy: { accepted: number; refused: Record<string, number> };
  /** Cluster connection-rate checks: done, skipped (too many in flight), failed (registry error → local only). */
  clusterChecks: { done: number; skipped: number; failed: number };
}

export interface EdgeProtectionOptions {
  limits: Readonly<GatewayLimits>;
  /** The registry's counters, for the cluster-wide connection rate; absent → local limits only. */
  counters?: Counters;
  log: GatewayLogger;
}

export function emptyProtectionStats(): ProtectionStats {
  return {
    tripped: Object.fromEntries(LIMIT_NAMES.map((name) => [name, 0])) as Record<LimitName, number>,
    unauthenticated: 0,
    trackedAddresses: { unauthenticated: 0, connectionRate: 0 },
    proxy: { accepted: 0, refused: {} },
    clusterChecks: { done: 0, skipped: 0, failed: 0 },
  };
}

export class EdgeProtection {
  readonly limits: Readonly<GatewayLimits>;
  private readonly log: GatewayLogger;
  private readonly counters: Counters | undefined;
  private readonly unauthenticated: PerKeyLimiter | undefined;
  private readonly connectionRate: RateWindow | undefined;
  private readonly exempt: TrustedProxies | undefined;
  private readonly counts = emptyProtectionStats();
  private clusterInFlight = 0;
  private lastRegistryWarning = -Infinity;
  private unauthenticatedNow = 0;
  private readonly preAuth: DeadlineQueue<PreAuthExpiry>;

  constructor(options: EdgeProtectionOptions) {
    const limits = (this.limits = options.limits);
    this.log = options.log;
    this.counters = limits.clusterConnectionRatePerIp.limit > 0 ? options.counters : undefined;
    this.exempt = limits.exemptAddresses.length > 0 ? new TrustedProxies([...limits.exemptAddresses]) : undefined;
    if (limits.maxUnauthenticatedPerIp > 0) {
      this.unauthenticated = new PerKeyLimiter({ maxPerKey: limits.maxUnauthenticatedPerIp, maxKeys: limits.maxTrackedAddresses });
    }
    this.preAuth = new DeadlineQueue(limits.preAuthTimeoutMs, (guard) => guard.preAuthExpired());
    if (limits.connectionRatePerIp.limit > 0) {
      this.connectionRate = new RateWindow({ limit: limits.connectionRatePerIp.limit, windowMs: limits.connectionRatePerIp.windowMs, maxKeys: limits.maxTrackedAddresses });
    }
  }

  /**
   * The local checks for a new connection from `address` (the real client address): the
   * connection rate first (every attempt counts, refused ones excepted), then a slot among the
   * address's unauthenticated connections, held until SASL success or close.
   */
  admit(address: string): Admission {
    const key = addressKey(address);
    if (this.exempt?.trusts(address) === true) return { ok: true, key, lease: undefined, exempt: true };
    if (this.connectionRate !== undefined) {
      const decision = this.connectionRate.hit(key);
      if (!decision.allowed) {
        const limit: LimitName = decision.reason === 'table-full' ? 'tracked-addresses' : 'connection-rate-per-ip';
        this.trip(limit, { address, count: decision.count, retryAfterMs: Math.ceil(decision.retryAfterMs) });
        return { ok: false, key, limit };
      }
    }
    let lease: Lease | undefined;
    if (this.unauthenticated !== undefined) {
      const slot = this.unauthenticated.acquire(key);
      if (!slot.ok) {
        const limit: LimitName = slot.reason === 'table-full' ? 'tracked-addresses' : 'unauthenticated-per-ip';
        this.trip(limit, { address, count: slot.count });
        return { ok: false, key, limit };
      }
      lease = slot.lease;
      this.unauthenticatedNow++;
    }
    return { ok: true, key, lease, exempt: false };
  }

  /** Starts a connection's pre-authentication deadline (one shared timer for all of them). */
  startPreAuthDeadline(guard: PreAuthExpiry): DeadlineEntry<PreAuthExpiry> {
    return this.preAuth.add(guard);
  }

  cancelPreAuthDeadline(entry: DeadlineEntry<PreAuthExpiry> | undefined): void {
    this.preAuth.cancel(entry);
  }

  /** Gives back an unauthenticated slot; the caller calls it once per lease. */
  release(lease: Lease): void {
    lease.release();
    this.unauthenticatedNow--;
  }

  /**
   * The cluster-wide connection rate of `key`, counted in the registry (fixed window). Resolves
   * true when over the limit; false when under it, off, or unknown (registry down, or too many
   * checks in flight): the local limits still hold, so a registry outage only widens the rate to
   * the local one times the number of gateways.
   */
  async overClusterRate(key: string, address: string): Promise<boolean> {
    const counters = this.counters;
    if (counters === undefined) return false;
    if (this.clusterInFlight >= MAX_CLUSTER_CHECKS_IN_FLIGHT) {
      this.counts.clusterChecks.skipped++;
      return false;
    }
    this.clusterInFlight++;
    const { limit, windowMs } = this.limits.clusterConnectionRatePerIp;
    try {
      const count = await counters.increment(CLUSTER_RATE_KEY_PREFIX + key, windowMs);
      this.counts.clusterChecks.done++;
      if (count <= limit) return false;
      this.trip('cluster-connection-rate-per-ip', { address, count });
      return true;
    } catch (error) {
      this.counts.clusterChecks.failed++;
      const now = performance.now();
      if (now - this.lastRegistryWarning >= REGISTRY_WARNING_INTERVAL_MS) {
        this.lastRegistryWarning = now;
        this.log('warn', 'cluster-rate-check-failed', { error: errorName(error) });
      }
      return false;
    } finally {
      this.clusterInFlight--;
    }
  }

  /** A limit was reached: counted, and one log line with fixed fields (the client address, never content). */
  trip(limit: LimitName, fields: LogFields = {}): void {
    this.counts.tripped[limit]++;
    this.log('info', 'limit-tripped', { limit, ...fields });
  }

  proxyAccepted(): void {
    this.counts.proxy.accepted++;
  }

  proxyRefused(code: string, peer: string, listener: string): void {
    const refused = this.counts.proxy.refused;
    refused[code] = (refused[code] ?? 0) + 1;
    this.trip('proxy-refused', { code, peer, listener });
  }

  stats(): ProtectionStats {
    return {
      tripped: { ...this.counts.tripped },
      unauthenticated: this.unauthenticatedNow,
      trackedAddresses: { unauthenticated: this.unauthenticated?.size ?? 0, connectionRate: this.connectionRate?.size ?? 0 },
      proxy: { accepted: this.counts.proxy.accepted, refused: { ...this.counts.proxy.refused } },
      clusterChecks: { ...this.counts.clusterChecks },
    };
  }
}
