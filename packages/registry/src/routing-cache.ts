// The local picture the routing hot path reads: live gateways and live service instances, with
// lease ends on the LOCAL clock. Pure and synchronous; the client feeds it snapshots fetched from
// the store and asks it for the public events implied by each change.
//
// Merge rules (docs/registry.md, "The local cache"):
//  - A service membership is live while the lease of its GATEWAY is: gateways are reloaded on
//    every heartbeat (one key), memberships are renewed silently with them, so judging them by
//    the gateway keeps a remote instance alive between the (slower) service reloads.
//  - An entry missing from a fresh snapshot stays until its cached lease ends, unless it was
//    removed explicitly (an unregister/withdraw event). A store that lost data (restart, lossy
//    failover) therefore does not make the picture flicker: owners re-assert within a heartbeat.
//  - A fetched instance whose epoch is lower than the cached one keeps the cached weight and
//    draining flag: a stale registration never wins, not even in a cache.
//  - Memory is proportional to what is registered (gateways, domain/type pairs, instances).

import type { GatewayInfo, RegistryEvent, ServiceInstance, ServiceType } from './types.js';

const NO_INSTANCES: readonly ServiceInstance[] = Object.freeze([]);

export interface CachedInstance {
  instanceId: string;
  weight: number;
  draining: boolean;
  epoch: number;
  /** gateway id → membership lease end (local clock) as of the snapshot it came from */
  memberships: Map<string, number>;
  /** Missing from the latest snapshot, kept until its membership leases end. */
  carriedOver?: boolean;
}

interface Memo {
  list: readonly ServiceInstance[];
  /** The list is valid while now < validUntil (the next membership end). */
  validUntil: number;
  computedAt: number;
}

interface ServiceEntry {
  domain: string;
  type: ServiceType;
  instances: Map<string, CachedInstance>;
}

export function serviceKey(domain: string, type: ServiceType): string {
  return `${type}\u0000${domain}`;
}

function latestMembership(instance: CachedInstance): number {
  let latest = -Infinity;
  for (const end of instance.memberships.values()) if (end > latest) latest = end;
  return latest;
}

function sameInstance(a: ServiceInstance, b: ServiceInstance): boolean {
  return (
    a.weight === b.weight &&
    a.draining === b.draining &&
    a.epoch === b.epoch &&
    a.gateways.length === b.gateways.length &&
    a.gateways.every((g, i) => g === b.gateways[i])
  );
}

function sameGateway(a: GatewayInfo, b: GatewayInfo): boolean {
  return (
    a.incarnation === b.incarnation &&
    a.state === b.state &&
    a.load === b.load &&
    JSON.stringify(a.addresses) === JSON.stringify(b.addresses) &&
    JSON.stringify(a.ports) === JSON.stringify(b.ports)
  );
}

export class RoutingCache {
  private readonly gatewaysById = new Map<string, GatewayInfo>();
  private readonly servicesByKey = new Map<string, ServiceEntry>();
  private readonly memos = new Map<string, Memo>();
  private gatewayMemo: { list: readonly GatewayInfo[]; validUntil: number; computedAt: number } | undefined;
  // What listeners were last told, to derive joined/updated/left.
  private readonly emittedInstances = new Map<string, Map<string, ServiceInstance>>();
  private readonly emittedGateways = new Map<string, GatewayInfo>();
  private readonly explicitlyRemovedInstances = new Set<string>();
  private readonly explicitlyRemovedGateways = new Set<string>();

  constructor(private readonly emit: (event: RegistryEvent) => void) {}

  // -- gateways --------------------------------------------------------------------------------

  applyGateways(fetched: readonly GatewayInfo[], now: number): void {
    const next = new Map<string, GatewayInfo>();
    for (const g of fetched) next.set(g.id, g);
    for (const [id, cached] of this.gatewaysById) {
      if (!next.has(id) && cached.expiresAt > now) next.set(id, cached);
    }
    this.gatewaysById.clear();
    for (const [id, g] of next) this.gatewaysById.set(id, g);
    this.clearMemos();
    this.sweep(now);
  }

  removeGateway(id: string, now: number): void {
    // Marked only if listeners know it, so every marker is consumed by the sweep just below.
    if (this.gatewaysById.delete(id) && this.emittedGateways.has(id)) this.explicitlyRemovedGateways.add(id);
    this.clearMemos();
    this.sweep(now);
  }

  /** Gateways named by memberships of domain/type that this cache does not know. */
  unknownGateways(domain: string, type: ServiceType): string[] {
    const unknown = new Set<string>();
    for (const instance of this.servicesByKey.get(serviceKey(domain, type))?.instances.values() ?? []) {
      for (const gatewayId of instance.memberships.keys()) if (!this.gatewaysById.has(gatewayId)) unknown.add(gatewayId);
    }
    return [...unknown];
  }

  gateway(id: string, now: number): GatewayInfo | undefined {
    const g = this.gatewaysById.get(id);
    return g !== undefined && g.expiresAt > now ? g : undefined;
  }

  gateways(now: number): readonly GatewayInfo[] {
    const memo = this.gatewayMemo;
    if (memo !== undefined && now < memo.validUntil && now >= memo.computedAt) return memo.list;
    let validUntil = Infinity;
    const list: GatewayInfo[] = [];
    for (const g of this.gatewaysById.values()) {
      if (g.expiresAt > now) {
        list.push(g);
        if (g.expiresAt < validUntil) validUntil = g.expiresAt;
      }
    }
    list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const frozen = Object.freeze(list);
    this.gatewayMemo = { list: frozen, validUntil, computedAt: now };
    return frozen;
  }

  // -- services --------------------------------------------------------------------------------

  applyServices(domain: string, type: ServiceType, fetched: readonly CachedInstance[], now: number): void {
    const key = serviceKey(domain, type);
    const current = this.servicesByKey.get(key)?.instances ?? new Map<string, CachedInstance>();
    const next = new Map<string, CachedInstance>();
    for (const f of fetched) {
      const cached = current.get(f.instanceId);
      if (cached !== undefined && cached.epoch > f.epoch) {
        next.set(f.instanceId, { ...f, weight: cached.weight, draining: cached.draining, epoch: cached.epoch });
      } else {
        next.set(f.instanceId, f);
      }
    }
    for (const [id, cached] of current) {
      if (!next.has(id) && latestMembership(cached) > now) next.set(id, { ...cached, carriedOver: true });
    }
    if (next.size === 0) this.servicesByKey.delete(key);
    else this.servicesByKey.set(key, { domain, type, instances: next });
    this.memos.delete(key);
    this.sweepService(key, domain, type, now);
  }

  removeInstance(domain: string, type: ServiceType, instanceId: string, now: number): void {
    const key = serviceKey(domain, type);
    const entry = this.servicesByKey.get(key);
    if (entry?.instances.delete(instanceId)) {
      if (this.emittedInstances.get(key)?.has(instanceId)) this.explicitlyRemovedInstances.add(`${key}\u0000${instanceId}`);
      if (entry.instances.size === 0) this.servicesByKey.delete(key);
    }
    this.memos.delete(key);
    this.sweepService(key, domain, type, now);
  }

  /** Cached domain/type pairs, for a full reload to refetch those the store's index lost. */
  serviceKeys(): Array<{ domain: string; type: ServiceType }> {
    return [...this.servicesByKey.values()].map(({ domain, type }) => ({ domain, type }));
  }

  cachedEpoch(domain: string, type: ServiceType, instanceId: string): number {
    return this.servicesByKey.get(serviceKey(domain, type))?.instances.get(instanceId)?.epoch ?? 0;
  }

  instances(domain: string, type: ServiceType, now: number): readonly ServiceInstance[] {
    const key = serviceKey(domain, type);
    const memo = this.memos.get(key);
    if (memo !== undefined && now < memo.validUntil && now >= memo.computedAt) return memo.list;
    const entry = this.servicesByKey.get(key);
    // Not memoised: the domain can come from a peer's stanza, and a memo per unknown domain
    // would grow the map without bound; the answer is one lookup anyway.
    if (entry === undefined) return NO_INSTANCES;
    let validUntil = Infinity;
    const list: ServiceInstance[] = [];
    for (const cached of entry.instances.values()) {
      const gateways: string[] = [];
      let expiresAt = -Infinity;
      for (const [gatewayId, membershipEnd] of cached.memberships) {
        const gateway = this.gatewaysById.get(gatewayId);
        if (gateway === undefined) continue;
        const end = cached.carriedOver === true ? Math.min(gateway.expiresAt, membershipEnd) : gateway.expiresAt;
        if (end <= now) continue;
        gateways.push(gatewayId);
        if (end > expiresAt) expiresAt = end;
        if (end < validUntil) validUntil = end;
      }
      if (gateways.length === 0) continue;
      gateways.sort();
      list.push(
        Object.freeze({
          domain,
          type,
          instanceId: cached.instanceId,
          weight: cached.weight,
          draining: cached.draining,
          epoch: cached.epoch,
          gateways: Object.freeze(gateways),
          expiresAt,
        }),
      );
    }
    list.sort((a, b) => (a.instanceId < b.instanceId ? -1 : a.instanceId > b.instanceId ? 1 : 0));
    const frozen = Object.freeze(list);
    this.memos.set(key, { list: frozen, validUntil, computedAt: now });
    return frozen;
  }

  services(now: number): Array<{ domain: string; type: ServiceType }> {
    const out: Array<{ domain: string; type: ServiceType }> = [];
    for (const { domain, type } of this.servicesByKey.values()) {
      if (this.instances(domain, type, now).length > 0) out.push(Object.freeze({ domain, type }));
    }
    return out.sort((a, b) => (a.domain < b.domain ? -1 : a.domain > b.domain ? 1 : a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  }

  // -- time ------------------------------------------------------------------------------------

  /**
   * After an outage the lease clock resumes where it stopped: nobody could renew while the store
   * was unreachable, so that time does not count against cached leases.
   */
  shift(deltaMs: number): void {
    if (deltaMs <= 0) return;
    for (const [id, g] of this.gatewaysById) this.gatewaysById.set(id, Object.freeze({ ...g, expiresAt: g.expiresAt + deltaMs }));
    for (const entry of this.servicesByKey.values()) {
      for (const instance of entry.instances.values()) {
        for (const [gatewayId, end] of instance.memberships) instance.memberships.set(gatewayId, end + deltaMs);
      }
    }
    this.clearMemos();
  }

  clearMemos(): void {
    this.memos.clear();
    this.gatewayMemo = undefined;
  }

  // -- events ----------------------------------------------------------------------------------

  /** Emits joined/updated/left for everything whose liveness changed by `now` (lease ends). */
  sweep(now: number): void {
    this.sweepGateways(now);
    const keys = new Set([...this.servicesByKey.keys(), ...this.emittedInstances.keys()]);
    for (const key of keys) {
      const entry = this.servicesByKey.get(key);
      if (entry !== undefined) {
        this.sweepService(key, entry.domain, entry.type, now);
      } else {
        const [type, domain] = key.split('\u0000') as [ServiceType, string];
        this.sweepService(key, domain, type, now);
      }
    }
  }

  private sweepService(key: string, domain: string, type: ServiceType, now: number): void {
    const live = this.instances(domain, type, now);
    const before = this.emittedInstances.get(key) ?? new Map<string, ServiceInstance>();
    const after = new Map<string, ServiceInstance>();
    const events: RegistryEvent[] = [];
    for (const instance of live) {
      after.set(instance.instanceId, instance);
      const old = before.get(instance.instanceId);
      if (old === undefined) events.push({ type: 'service-joined', instance });
      else if (!sameInstance(old, instance)) events.push({ type: 'service-updated', instance });
    }
    for (const instanceId of before.keys()) {
      if (after.has(instanceId)) continue;
      const marker = `${key}\u0000${instanceId}`;
      const reason = this.explicitlyRemovedInstances.delete(marker) ? 'unregistered' : 'expired';
      events.push({ type: 'service-left', domain, serviceType: type, instanceId, reason });
    }
    for (const instanceId of after.keys()) this.explicitlyRemovedInstances.delete(`${key}\u0000${instanceId}`);
    if (after.size === 0) this.emittedInstances.delete(key);
    else this.emittedInstances.set(key, after);
    for (const event of events) this.emit(event);
  }

  private sweepGateways(now: number): void {
    const live = this.gateways(now);
    const seen = new Set<string>();
    const events: RegistryEvent[] = [];
    for (const gateway of live) {
      seen.add(gateway.id);
      const old = this.emittedGateways.get(gateway.id);
      if (old === undefined) events.push({ type: 'gateway-joined', gateway });
      else if (!sameGateway(old, gateway)) events.push({ type: 'gateway-updated', gateway });
      this.emittedGateways.set(gateway.id, gateway);
      this.explicitlyRemovedGateways.delete(gateway.id);
    }
    for (const id of [...this.emittedGateways.keys()]) {
      if (seen.has(id)) continue;
      this.emittedGateways.delete(id);
      const reason = this.explicitlyRemovedGateways.delete(id) ? 'withdrawn' : 'expired';
      events.push({ type: 'gateway-left', gatewayId: id, reason });
    }
    for (const event of events) this.emit(event);
  }
}
