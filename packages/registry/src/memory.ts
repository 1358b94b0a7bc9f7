// The in-memory registry: the embedded default (`ambrosia dev`) and the fast store for unit tests
// of code above the registry. A MemoryStore plays the part of Redis (one per "cluster"); every
// registry made on it is one node. It keeps the Redis semantics exactly (the compliance suite runs
// against both), including leases on the store's clock and broadcast events.

import { randomUUID } from 'node:crypto';
import type {
  BackendSignal,
  BindExpectation,
  RegistryBackend,
  ServiceRegisterArgs,
  ServiceRegisterResult,
  ServiceSetAttributesArgs,
  StoredGateway,
  StoredInstance,
  StoredResumption,
  StoredSeeOtherHost,
  StoredSession,
} from './backend.js';
import { createRegistry, type RegistryOptions } from './client.js';
import { systemClock, type Clock } from './clock.js';
import { RegistryError } from './errors.js';
import type { CredentialRecord, Registry, ServiceType } from './types.js';
import { compareUtf8 } from './validate.js';

/** Entries the background expiry examines per map and tick (like Redis's active expiry, bounded work). */
const EXPIRY_BUDGET_PER_TICK = 10_000;
const EXPIRY_TICK_MS = 1000;

export interface MemoryStoreOptions {
  /** The store's clock: leases and expiries are judged by it. Share it with the registries in tests. */
  clock?: Clock;
}

interface ServiceKeyEntry {
  domain: string;
  type: ServiceType;
  instances: Map<string, StoredInstance>;
}

const clone = <T>(value: T): T => structuredClone(value);

/**
 * The shared state of an in-memory "cluster". Memory grows with what is stored, as in Redis:
 * expired entries are removed on access and by a bounded background sweep.
 */
export class MemoryStore {
  readonly clock: Clock;
  /** @internal */ readonly gateways = new Map<string, StoredGateway>();
  /** @internal */ readonly services = new Map<string, ServiceKeyEntry>();
  /** @internal */ readonly sessions = new Map<string, Map<string, StoredSession>>();
  /** @internal */ readonly resumptions = new Map<string, { record: StoredResumption; expiresAt: number }>();
  /** @internal */ readonly soh = new Map<string, StoredSeeOtherHost>();
  /** @internal */ readonly credentials = new Map<string, Map<string, CredentialRecord>>();
  /** @internal */ readonly counters = new Map<string, { value: number; expiresAt: number }>();
  private readonly backends = new Set<MemoryBackend>();
  private generationToken = randomUUID();
  private reachableFlag = true;
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly sweepCursors = new Map<string, Iterator<string>>();

  constructor(options: MemoryStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  get generation(): string {
    return this.generationToken;
  }

  get reachable(): boolean {
    return this.reachableFlag;
  }

  /** Fault injection: what a Redis restart without persistence does (everything gone, new generation). */
  flush(): void {
    this.gateways.clear();
    this.services.clear();
    this.sessions.clear();
    this.resumptions.clear();
    this.soh.clear();
    this.credentials.clear();
    this.counters.clear();
    this.sweepCursors.clear();
    this.generationToken = randomUUID();
  }

  /** Fault injection: an outage. Every registry on the store sees it disconnect, then reconnect. */
  setReachable(reachable: boolean): void {
    if (reachable === this.reachableFlag) return;
    this.reachableFlag = reachable;
    for (const backend of this.backends) backend.reachabilityChanged(reachable);
  }

  /** @internal */
  attach(backend: MemoryBackend): void {
    this.backends.add(backend);
    if (this.sweepTimer === undefined) {
      this.sweepTimer = setInterval(() => this.sweepExpired(), EXPIRY_TICK_MS);
      this.sweepTimer.unref();
    }
  }

  /** @internal */
  detach(backend: MemoryBackend): void {
    this.backends.delete(backend);
    if (this.backends.size === 0 && this.sweepTimer !== undefined) {
      clearInterval(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  /** @internal */
  broadcast(message: string): void {
    for (const backend of this.backends) backend.deliver(message);
  }

  /** Removes expired entries, a bounded slice per map and tick. */
  sweepExpired(): void {
    const now = this.clock.now();
    this.sweepMap('resumptions', this.resumptions, (e) => e.expiresAt <= now);
    this.sweepMap('soh', this.soh, (e) => e.expiresAt !== undefined && e.expiresAt <= now);
    this.sweepMap('counters', this.counters, (e) => e.expiresAt <= now);
    this.sweepMap('sessions', this.sessions, (hash) => {
      for (const [resource, s] of hash) if (s.leaseUntil <= now) hash.delete(resource);
      return hash.size === 0;
    });
  }

  private sweepMap<V>(name: string, map: Map<string, V>, expired: (value: V) => boolean): void {
    let cursor = this.sweepCursors.get(name) ?? map.keys();
    for (let i = 0; i < EXPIRY_BUDGET_PER_TICK; i++) {
      const next = cursor.next();
      if (next.done) {
        cursor = map.keys();
        break;
      }
      const value = map.get(next.value);
      if (value !== undefined && expired(value)) map.delete(next.value);
    }
    this.sweepCursors.set(name, cursor);
  }
}

function serviceMapKey(domain: string, type: ServiceType): string {
  return `${type}\u0000${domain}`;
}

function liveMembership(instance: StoredInstance, now: number): boolean {
  return Object.values(instance.gateways).some((end) => end > now);
}

function purgeInstance(instance: StoredInstance, now: number): void {
  for (const [gatewayId, end] of Object.entries(instance.gateways)) if (end <= now) delete instance.gateways[gatewayId];
}

function sortedAfter(keys: Iterable<string>, after: string | undefined, limit: number): { page: string[]; more: boolean } {
  const sorted = [...keys].filter((k) => after === undefined || compareUtf8(k, after) > 0).sort(compareUtf8);
  return { page: sorted.slice(0, limit), more: sorted.length > limit };
}

/** One registry node's connection to a MemoryStore. */
export class MemoryBackend implements RegistryBackend {
  readonly kind = 'memory';
  private readonly signalListeners: Array<(signal: BackendSignal) => void> = [];
  private handler: ((message: string) => void) | undefined;
  private closed = false;

  constructor(private readonly store: MemoryStore) {
    store.attach(this);
  }

  /** @internal */
  reachabilityChanged(reachable: boolean): void {
    if (this.closed) return;
    if (reachable) {
      this.signal({ kind: 'connected' });
      if (this.handler !== undefined) this.signal({ kind: 'subscribed' });
    } else {
      this.signal({ kind: 'disconnected', reason: 'memory store made unreachable' });
      if (this.handler !== undefined) this.signal({ kind: 'unsubscribed', reason: 'memory store made unreachable' });
    }
  }

  /** @internal */
  deliver(message: string): void {
    const handler = this.handler;
    if (handler === undefined || this.closed) return;
    // Asynchronous like pub/sub, in publish order.
    queueMicrotask(() => {
      if (!this.closed) handler(message);
    });
  }

  /** Asynchronous, as connection events are: never re-entrant into the caller. */
  private signal(signal: BackendSignal): void {
    queueMicrotask(() => {
      if (this.closed) return;
      for (const listener of this.signalListeners) listener(signal);
    });
  }

  private now(): number {
    if (this.closed) throw new RegistryError('REGISTRY_CLOSED');
    if (!this.store.reachable) throw new RegistryError('REGISTRY_UNAVAILABLE', 'memory store made unreachable');
    return this.store.clock.now();
  }

  async connect(): Promise<void> {
    this.now();
    this.signal({ kind: 'connected' });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.handler = undefined;
    this.store.detach(this);
  }

  onSignal(listener: (signal: BackendSignal) => void): void {
    this.signalListeners.push(listener);
  }

  async generation(): Promise<string> {
    this.now();
    return this.store.generation;
  }

  // -- gateways --------------------------------------------------------------------------------

  private purgeGateways(now: number): void {
    for (const [id, g] of this.store.gateways) if (g.expiresAt <= now) this.store.gateways.delete(id);
  }

  async gatewayPut(gateway: Omit<StoredGateway, 'expiresAt' | 'startedAt'>, ttlMs: number) {
    const now = this.now();
    this.purgeGateways(now);
    const previous = this.store.gateways.get(gateway.id);
    const startedAt = previous !== undefined && previous.incarnation === gateway.incarnation ? previous.startedAt : now;
    const record: StoredGateway = { ...clone(gateway), startedAt, expiresAt: now + ttlMs };
    this.store.gateways.set(gateway.id, record);
    return previous === undefined ? { now, record: clone(record) } : { now, record: clone(record), previous };
  }

  async gatewayRenew(id: string, incarnation: string, ttlMs: number): Promise<boolean> {
    const now = this.now();
    const g = this.store.gateways.get(id);
    if (g === undefined || g.expiresAt <= now || g.incarnation !== incarnation) return false;
    g.expiresAt = now + ttlMs;
    return true;
  }

  async gatewayRemove(id: string, incarnation?: string): Promise<boolean> {
    const now = this.now();
    const g = this.store.gateways.get(id);
    if (g === undefined || (incarnation !== undefined && g.incarnation !== incarnation)) return false;
    this.store.gateways.delete(id);
    return g.expiresAt > now;
  }

  async gatewayList() {
    const now = this.now();
    this.purgeGateways(now);
    return { now, gateways: [...this.store.gateways.values()].map(clone) };
  }

  // -- services --------------------------------------------------------------------------------

  private serviceEntry(domain: string, type: ServiceType, now: number): ServiceKeyEntry | undefined {
    const entry = this.store.services.get(serviceMapKey(domain, type));
    if (entry === undefined) return undefined;
    for (const [id, instance] of entry.instances) {
      purgeInstance(instance, now);
      if (!liveMembership(instance, now)) entry.instances.delete(id);
    }
    return entry;
  }

  async serviceRegister(args: ServiceRegisterArgs): Promise<ServiceRegisterResult> {
    const now = this.now();
    const key = serviceMapKey(args.domain, args.type);
    const entry = this.serviceEntry(args.domain, args.type, now) ?? { domain: args.domain, type: args.type, instances: new Map() };
    this.store.services.set(key, entry);
    let instance = entry.instances.get(args.instanceId);
    const joined = instance === undefined;
    let accepted = true;
    if (instance === undefined) {
      instance = {
        instanceId: args.instanceId,
        weight: args.weight,
        draining: args.draining,
        epoch: args.epoch ?? args.epochFloor + 1,
        updatedAt: now,
        gateways: {},
      };
      entry.instances.set(args.instanceId, instance);
    } else if (args.epoch !== undefined) {
      if (args.epoch >= instance.epoch) {
        if (args.epoch > instance.epoch || instance.weight !== args.weight || instance.draining !== args.draining) instance.updatedAt = now;
        Object.assign(instance, { epoch: args.epoch, weight: args.weight, draining: args.draining });
      } else {
        accepted = false;
      }
    } else {
      Object.assign(instance, { epoch: Math.max(instance.epoch, args.epochFloor) + 1, weight: args.weight, draining: args.draining, updatedAt: now });
    }
    instance.gateways[args.gatewayId] = now + args.ttlMs;
    return { now, instance: clone(instance), accepted, joined };
  }

  async serviceSetAttributes(args: ServiceSetAttributesArgs) {
    const now = this.now();
    const instance = this.serviceEntry(args.domain, args.type, now)?.instances.get(args.instanceId);
    if (instance === undefined) return undefined; // serviceEntry dropped it if no membership is live
    instance.epoch = Math.max(instance.epoch, args.epochFloor) + 1;
    if (args.weight !== undefined) instance.weight = args.weight;
    if (args.draining !== undefined) instance.draining = args.draining;
    instance.updatedAt = now;
    return { now, instance: clone(instance) };
  }

  async serviceUnregister(domain: string, type: ServiceType, instanceId: string, gatewayId?: string) {
    const now = this.now();
    const entry = this.serviceEntry(domain, type, now);
    const instance = entry?.instances.get(instanceId);
    if (entry === undefined || instance === undefined) return { instanceRemoved: false };
    if (gatewayId !== undefined) delete instance.gateways[gatewayId];
    const instanceRemoved = gatewayId === undefined || !liveMembership(instance, now);
    if (instanceRemoved) entry.instances.delete(instanceId);
    if (entry.instances.size === 0) this.store.services.delete(serviceMapKey(domain, type));
    return { instanceRemoved };
  }

  async serviceList(domain: string, type: ServiceType) {
    const now = this.now();
    const entry = this.serviceEntry(domain, type, now);
    return { now, instances: entry === undefined ? [] : [...entry.instances.values()].map(clone) };
  }

  async serviceKeys() {
    this.now();
    return [...this.store.services.values()].map(({ domain, type }) => ({ domain, type }));
  }

  // -- sessions --------------------------------------------------------------------------------

  private sessionHash(bareJid: string, now: number): Map<string, StoredSession> | undefined {
    const hash = this.store.sessions.get(bareJid);
    if (hash === undefined) return undefined;
    for (const [resource, s] of hash) if (s.leaseUntil <= now) hash.delete(resource);
    if (hash.size === 0) {
      this.store.sessions.delete(bareJid);
      return undefined;
    }
    return hash;
  }

  private writeSession(bareJid: string, session: StoredSession): void {
    let hash = this.store.sessions.get(bareJid);
    if (hash === undefined) {
      hash = new Map();
      this.store.sessions.set(bareJid, hash);
    }
    hash.set(session.resource, session);
  }

  async sessionBind(bareJid: string, entry: Omit<StoredSession, 'seq' | 'boundAt' | 'leaseUntil'>, expect: BindExpectation | undefined, leaseMs: number) {
    const now = this.now();
    const current = this.sessionHash(bareJid, now)?.get(entry.resource);
    if (expect !== undefined) {
      const holds = 'absent' in expect ? current === undefined : current !== undefined && current.seq === expect.seq;
      if (!holds) return current === undefined ? { ok: false } : { ok: false, current: clone(current) };
    }
    const seq = Math.max(now * 1000, (current?.seq ?? 0) + 1);
    const written: StoredSession = { ...clone(entry), seq, boundAt: now, leaseUntil: now + leaseMs };
    this.writeSession(bareJid, written);
    return current === undefined ? { ok: true, written: clone(written) } : { ok: true, written: clone(written), current: clone(current) };
  }

  async sessionReassert(bareJid: string, entry: Omit<StoredSession, 'leaseUntil'>, leaseMs: number): Promise<'written' | 'superseded'> {
    const now = this.now();
    const current = this.sessionHash(bareJid, now)?.get(entry.resource);
    if (current !== undefined && current.seq > entry.seq) return 'superseded';
    this.writeSession(bareJid, { ...clone(entry), leaseUntil: now + leaseMs });
    return 'written';
  }

  async sessionUpdate(bareJid: string, resource: string, sessionId: string, patch: { priority?: number; available?: boolean }) {
    const now = this.now();
    const current = this.sessionHash(bareJid, now)?.get(resource);
    if (current === undefined || current.sessionId !== sessionId) return undefined;
    if (patch.priority !== undefined) current.priority = patch.priority;
    if (patch.available !== undefined) current.available = patch.available;
    return clone(current);
  }

  async sessionUnbind(bareJid: string, resource: string, sessionId: string, seq?: number): Promise<boolean> {
    const now = this.now();
    const hash = this.sessionHash(bareJid, now);
    const current = hash?.get(resource);
    if (hash === undefined || current === undefined || current.sessionId !== sessionId || (seq !== undefined && current.seq !== seq)) return false;
    hash.delete(resource);
    if (hash.size === 0) this.store.sessions.delete(bareJid);
    return true;
  }

  async sessionGet(bareJid: string) {
    const now = this.now();
    const hash = this.sessionHash(bareJid, now);
    return { now, entries: hash === undefined ? [] : [...hash.values()].map(clone) };
  }

  // -- resumption ------------------------------------------------------------------------------

  private resumption(id: string, now: number): { record: StoredResumption; expiresAt: number } | undefined {
    const found = this.store.resumptions.get(id);
    if (found !== undefined && found.expiresAt <= now) {
      this.store.resumptions.delete(id);
      return undefined;
    }
    return found;
  }

  async resumptionPut(state: Omit<StoredResumption, 'epoch'>, ttlMs: number, epoch?: number) {
    const now = this.now();
    const current = this.resumption(state.id, now);
    if (current !== undefined && (epoch === undefined || current.record.epoch > epoch)) return { ok: false, now };
    const record: StoredResumption = { ...clone(state), epoch: epoch ?? 1 };
    const expiresAt = now + ttlMs;
    this.store.resumptions.set(state.id, { record, expiresAt });
    return { ok: true, record: clone(record), expiresAt, now };
  }

  async resumptionGet(id: string) {
    const now = this.now();
    const found = this.resumption(id, now);
    return found === undefined ? undefined : { now, record: clone(found.record), expiresAt: found.expiresAt };
  }

  async resumptionClaim(id: string, gatewayId: string, sessionId: string) {
    const now = this.now();
    const found = this.resumption(id, now);
    if (found === undefined) return undefined;
    const previous = clone(found.record);
    Object.assign(found.record, { gatewayId, sessionId, epoch: found.record.epoch + 1 });
    return { now, previous, record: clone(found.record), expiresAt: found.expiresAt };
  }

  async resumptionUpdate(id: string, epoch: number, patch: { inbound?: number; outbound?: number }, ttlMs?: number): Promise<boolean> {
    const now = this.now();
    const found = this.resumption(id, now);
    if (found === undefined || found.record.epoch !== epoch) return false;
    if (patch.inbound !== undefined) found.record.inbound = patch.inbound;
    if (patch.outbound !== undefined) found.record.outbound = patch.outbound;
    if (ttlMs !== undefined) found.expiresAt = now + ttlMs;
    return true;
  }

  async resumptionDelete(id: string, epoch?: number): Promise<boolean> {
    const now = this.now();
    const found = this.resumption(id, now);
    if (found === undefined || (epoch !== undefined && found.record.epoch !== epoch)) return false;
    this.store.resumptions.delete(id);
    return true;
  }

  // -- see-other-host --------------------------------------------------------------------------

  private sohEntry(key: string, now: number): StoredSeeOtherHost | undefined {
    const entry = this.store.soh.get(key);
    if (entry?.expiresAt !== undefined && entry.expiresAt <= now) {
      this.store.soh.delete(key);
      return undefined;
    }
    return entry;
  }

  async sohSet(key: string, target: string, ttlMs?: number): Promise<void> {
    const now = this.now();
    this.store.soh.set(key, ttlMs === undefined ? { key, target } : { key, target, expiresAt: now + ttlMs });
  }

  async sohGet(key: string) {
    const now = this.now();
    const entry = this.sohEntry(key, now);
    return entry === undefined ? undefined : { now, entry: clone(entry) };
  }

  async sohDelete(key: string): Promise<boolean> {
    const now = this.now();
    const existed = this.sohEntry(key, now) !== undefined;
    this.store.soh.delete(key);
    return existed;
  }

  async sohList(after: string | undefined, limit: number) {
    const now = this.now();
    const live = [...this.store.soh.keys()].filter((k) => this.sohEntry(k, now) !== undefined);
    const { page, more } = sortedAfter(live, after, limit);
    return { now, entries: page.map((k) => clone(this.store.soh.get(k) as StoredSeeOtherHost)), more };
  }

  // -- credentials -----------------------------------------------------------------------------

  async credGet(domain: string, user: string) {
    this.now();
    const record = this.store.credentials.get(domain)?.get(user);
    return record === undefined ? undefined : clone(record);
  }

  async credPut(domain: string, user: string, record: CredentialRecord, onlyIfAbsent: boolean): Promise<boolean> {
    this.now();
    let users = this.store.credentials.get(domain);
    if (users === undefined) {
      users = new Map();
      this.store.credentials.set(domain, users);
    }
    if (onlyIfAbsent && users.has(user)) return false;
    users.set(user, clone(record));
    return true;
  }

  async credDelete(domain: string, user: string): Promise<boolean> {
    this.now();
    const users = this.store.credentials.get(domain);
    const existed = users?.delete(user) ?? false;
    if (users !== undefined && users.size === 0) this.store.credentials.delete(domain);
    return existed;
  }

  async credList(domain: string, after: string | undefined, limit: number) {
    this.now();
    const { page, more } = sortedAfter(this.store.credentials.get(domain)?.keys() ?? [], after, limit);
    return { users: page, more };
  }

  // -- counters --------------------------------------------------------------------------------

  private counter(key: string, now: number): { value: number; expiresAt: number } | undefined {
    const c = this.store.counters.get(key);
    if (c !== undefined && c.expiresAt <= now) {
      this.store.counters.delete(key);
      return undefined;
    }
    return c;
  }

  async counterIncrement(key: string, windowMs: number, by: number): Promise<number> {
    const now = this.now();
    const c = this.counter(key, now);
    if (c === undefined) {
      this.store.counters.set(key, { value: by, expiresAt: now + windowMs });
      return by;
    }
    c.value += by;
    return c.value;
  }

  async counterGet(key: string): Promise<number> {
    const now = this.now();
    return this.counter(key, now)?.value ?? 0;
  }

  async counterReset(key: string): Promise<void> {
    this.now();
    this.store.counters.delete(key);
  }

  // -- events ----------------------------------------------------------------------------------

  async publish(message: string): Promise<void> {
    this.now();
    this.store.broadcast(message);
  }

  async subscribe(handler: (message: string) => void): Promise<void> {
    this.now();
    this.handler = handler;
    this.signal({ kind: 'subscribed' });
  }
}

export interface MemoryRegistryOptions extends RegistryOptions {
  /** Share one store between registries to model several nodes; default a new private store. */
  store?: MemoryStore;
}

/**
 * The in-memory registry. Without `store` it is a single node with a private store; pass one
 * MemoryStore to several registries to model a cluster in one process.
 */
export function createMemoryRegistry(options: MemoryRegistryOptions = {}): Registry {
  const { store: given, ...rest } = options;
  const store = given ?? new MemoryStore(options.clock === undefined ? {} : { clock: options.clock });
  return createRegistry(new MemoryBackend(store), rest);
}
