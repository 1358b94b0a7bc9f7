// The registry core on the memory store with a manual clock: leases, re-assertion, outages and
// bounds, without sleeping.

import { describe, expect, it } from 'vitest';
import {
  ManualClock,
  MemoryStore,
  createMemoryRegistry,
  isRegistryError,
  type MemoryRegistryOptions,
  type Registry,
  type RegistryEvent,
} from '@ambrosia/registry';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

function cluster(options: Partial<MemoryRegistryOptions> = {}) {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock });
  const nodes: Registry[] = [];
  const node = async (extra: Partial<MemoryRegistryOptions> = {}) => {
    const registry = createMemoryRegistry({ store, clock, heartbeatIntervalMs: 0, leaseTtlMs: 10_000, ...options, ...extra });
    nodes.push(registry);
    await registry.ready();
    return registry;
  };
  return { clock, store, node, close: () => Promise.all(nodes.map((n) => n.close())) };
}

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<string | undefined> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
    return undefined;
  } catch (e) {
    return isRegistryError(e) ? e.code : `not a RegistryError: ${String(e)}`;
  }
}

const gateway = (id: string) => ({ id, addresses: ['10.0.0.1'], ports: { c2s: 5222 }, load: 0, state: 'active' as const });

describe('leases on the store clock', () => {
  it('expire when not renewed and live on when renewed, without sleeping', async () => {
    const { clock, node, close } = cluster();
    const owner = await node();
    const observer = await node();
    const events: RegistryEvent[] = [];
    observer.events.subscribe((e) => events.push(e));
    await owner.gateways.announce(gateway('g1'), { ttlMs: 1000 });
    await owner.services.register({ domain: 'd', type: 'client', instanceId: 'i', gatewayId: 'g1' }, { ttlMs: 1000 });
    await flush();
    expect(observer.routing.instances('d', 'client')).toHaveLength(1);

    clock.advance(900);
    await owner.heartbeat();
    await observer.heartbeat(); // every node reloads the gateway leases on its heartbeat
    clock.advance(900);
    expect(observer.routing.gateway('g1')).toBeDefined();
    expect(observer.routing.instances('d', 'client')).toHaveLength(1);

    clock.advance(200); // 1100 ms since the last renewal
    expect(observer.routing.gateway('g1')).toBeUndefined();
    expect(observer.routing.gateway('g1')).toBeUndefined();
    expect(observer.routing.instances('d', 'client')).toEqual([]);
    expect(await observer.gateways.list()).toEqual([]);
    await observer.heartbeat();
    expect(events).toContainEqual({ type: 'gateway-left', gatewayId: 'g1', reason: 'expired' });
    expect(events).toContainEqual({ type: 'service-left', domain: 'd', serviceType: 'client', instanceId: 'i', reason: 'expired' });
    await close();
  });

  it('hides sessions once their gateway lease ends, long before their own lease', async () => {
    const { clock, node, close } = cluster({ sessionLeaseMs: 3_600_000 });
    const owner = await node();
    const reader = await node();
    await owner.gateways.announce(gateway('g1'), { ttlMs: 1000 });
    await owner.sessions.bind({ bareJid: 'a@x', resource: 'r', gatewayId: 'g1', sessionId: 's', priority: 0, available: true });
    expect(await reader.sessions.get('a@x')).toHaveLength(1);
    clock.advance(1001);
    clock.advance(5000); // past the session cache ttl too
    expect(await reader.sessions.get('a@x')).toEqual([]);
    await close();
  });
});

describe('sessions on a gateway this node has not seen yet', () => {
  it('are looked up, not judged dead, even right after a gateway reload (no takeover by onlyIfAbsent)', async () => {
    const { store, node, close } = cluster();
    const owner = await node();
    const reader = await node();
    await reader.heartbeat(); // the reader has just read the gateway list: the reload rate limit is armed
    // A gateway announced and a session bound since, and the announcement's event lost on the
    // way (Redis pub/sub is at-most-once): the reader has not heard of the gateway.
    const broadcast = store.broadcast.bind(store);
    store.broadcast = () => {};
    await owner.gateways.announce(gateway('g-new'));
    await owner.sessions.bind({ bareJid: 'b@x', resource: 'r', gatewayId: 'g-new', sessionId: 's1', priority: 0, available: true });
    store.broadcast = broadcast;
    expect(reader.routing.gateway('g-new')).toBeUndefined();
    expect((await reader.sessions.get('b@x')).map((s) => s.sessionId)).toEqual(['s1']);
    // And the reader's gateway (announced through it) cannot take the live resource.
    await reader.gateways.announce(gateway('g-reader'));
    const taken = await reader.sessions.bind({ bareJid: 'b@x', resource: 'r', gatewayId: 'g-reader', sessionId: 's2', priority: 0, available: true }, { onlyIfAbsent: true });
    expect(taken.bound).toBe(false);
    expect(taken.previous?.sessionId).toBe('s1');
    await close();
  });
});

describe('re-assertion when the store loses data', () => {
  it('writes back everything it owns with one heartbeat after a flush', async () => {
    const { store, node, close } = cluster();
    const owner = await node();
    const observer = await node();
    await owner.gateways.announce(gateway('g1'));
    const { instance } = await owner.services.register({ domain: 'd', type: 'server', instanceId: 'i', gatewayId: 'g1', weight: 2, draining: true });
    for (let i = 0; i < 50; i++) {
      await owner.sessions.bind({ bareJid: `u${i}@x`, resource: 'r', gatewayId: 'g1', sessionId: `s${i}`, priority: i % 10, available: true });
    }
    await owner.resumptions.put({ id: 'sm1', fullJid: 'u1@x/r', gatewayId: 'g1', sessionId: 's1', inbound: 5, outbound: 6 }, 60_000);
    await owner.seeOtherHost.set('x', 'y.example');

    store.flush();
    expect(await observer.gateways.list()).toEqual([]);
    await owner.heartbeat();

    expect((await observer.gateways.list()).map((g) => g.id)).toEqual(['g1']);
    expect(await observer.services.list('d', 'server')).toMatchObject([{ instanceId: 'i', weight: 2, draining: true, epoch: instance.epoch }]);
    for (let i = 0; i < 50; i++) expect((await observer.sessions.get(`u${i}@x`))[0]).toMatchObject({ sessionId: `s${i}`, priority: i % 10 });
    expect(await observer.resumptions.get('sm1')).toMatchObject({ inbound: 5, outbound: 6, gatewayId: 'g1' });
    expect(await observer.seeOtherHost.get('x')).toBeUndefined(); // admin data is not owned
    await close();
  });

  it('brings back an administrator’s drain, not the owner’s older attributes', async () => {
    const { store, node, close } = cluster();
    const owner = await node();
    const admin = await node();
    await owner.gateways.announce(gateway('g1'));
    await owner.services.register({ domain: 'd', type: 'client', instanceId: 'i', gatewayId: 'g1', weight: 2 });
    const drained = await admin.services.setAttributes('d', 'client', 'i', { draining: true });
    await flush(); // the owner reloads on the admin's event and adopts the newer epoch; no heartbeat yet
    await flush();
    store.flush();
    await owner.heartbeat();
    expect(await admin.services.list('d', 'client')).toMatchObject([{ instanceId: 'i', weight: 2, draining: true, epoch: drained.epoch, gateways: ['g1'] }]);
    // And through a renewal alone, when the event was missed (the owner's subscription was down).
    const reweighted = await admin.services.setAttributes('d', 'client', 'i', { weight: 5 });
    await owner.heartbeat();
    store.flush();
    await owner.heartbeat();
    expect(await admin.services.list('d', 'client')).toMatchObject([{ weight: 5, draining: true, epoch: reweighted.epoch }]);
    await close();
  });

  it('drops what a newer owner took over while the store was away', async () => {
    const { store, node, close } = cluster();
    const a = await node();
    const b = await node();
    await a.gateways.announce(gateway('ga'));
    await b.gateways.announce(gateway('gb'));
    await a.sessions.bind({ bareJid: 'j@x', resource: 'r', gatewayId: 'ga', sessionId: 'old', priority: 0, available: true });
    await b.sessions.bind({ bareJid: 'j@x', resource: 'r', gatewayId: 'gb', sessionId: 'new', priority: 0, available: true });
    store.flush();
    await b.heartbeat();
    await a.heartbeat(); // a's stale binding has a lower sequence: superseded, forgotten
    expect((await a.sessions.get('j@x')).map((s) => s.sessionId)).toEqual(['new']);
    store.flush();
    await a.heartbeat(); // a no longer owns it, so it cannot resurrect it
    await b.heartbeat();
    expect((await a.sessions.get('j@x')).map((s) => s.sessionId)).toEqual(['new']);
    await close();
  });
});

describe('when the store is unreachable', () => {
  it('serves the snapshot with leases frozen, refuses writes, goes stale at the limit, recovers', async () => {
    const { clock, store, node, close } = cluster({ stalenessLimitMs: 30_000, sessionCacheTtlMs: 1000 });
    const a = await node();
    const health: string[] = [];
    a.events.subscribe((e) => {
      if (e.type === 'health-changed') health.push(e.health.status);
    });
    await a.gateways.announce(gateway('g1'), { ttlMs: 10_000 });
    await a.services.register({ domain: 'd', type: 'client', instanceId: 'i', gatewayId: 'g1' }, { ttlMs: 10_000 });
    await a.sessions.bind({ bareJid: 'u@x', resource: 'r', gatewayId: 'g1', sessionId: 's', priority: 0, available: true });
    expect(await a.sessions.get('u@x')).toHaveLength(1);

    store.setReachable(false);
    await flush();
    expect(a.health()).toMatchObject({ status: 'degraded' });
    clock.advance(20_000); // past every lease, within the staleness limit
    expect(a.routing.instances('d', 'client')).toHaveLength(1);
    expect(a.routing.gateway('g1')).toBeDefined();
    expect(await a.sessions.get('u@x')).toHaveLength(1); // cached answer, its ttl long gone
    expect(a.health().snapshotAgeMs).toBe(20_000);
    expect(await codeOf(a.counters.increment('c', 1000))).toBe('REGISTRY_UNAVAILABLE');
    expect(await codeOf(a.sessions.get('other@x'))).toBe('REGISTRY_UNAVAILABLE');
    expect(await codeOf(a.heartbeat())).toBe('REGISTRY_UNAVAILABLE');

    clock.advance(10_001);
    expect(a.health().status).toBe('unavailable');
    expect(await codeOf(() => a.routing.instances('d', 'client'))).toBe('REGISTRY_STALE');
    expect(await codeOf(a.sessions.get('u@x'))).toBe('REGISTRY_UNAVAILABLE');

    store.setReachable(true);
    await flush();
    await a.heartbeat();
    expect(a.health().status).toBe('ok');
    expect(health).toEqual(['degraded', 'unavailable', 'ok']);
    // Its own leases were renewed at once; the outage did not count against them in the cache.
    expect(a.routing.instances('d', 'client')).toHaveLength(1);
    expect(a.routing.gateway('g1')).toBeDefined();
    await close();
  });

  it('is not ready while unreachable, and routing before ready says so', async () => {
    const clock = new ManualClock();
    const store = new MemoryStore({ clock });
    store.setReachable(false);
    const registry = createMemoryRegistry({ store, clock, heartbeatIntervalMs: 0 });
    expect(await codeOf(() => registry.routing.gateways())).toBe('REGISTRY_STALE');
    expect(await codeOf(registry.ready({ timeoutMs: 50 }))).toBe('REGISTRY_UNAVAILABLE');
    expect(registry.health().status).toBe('unavailable');
    store.setReachable(true);
    await registry.ready({ timeoutMs: 1000 });
    expect(registry.routing.gateways()).toEqual([]);
    await registry.close();
  });
});

describe('configuration', () => {
  it('refuses leases that would lapse between heartbeats', async () => {
    expect(await codeOf(async () => createMemoryRegistry({ heartbeatIntervalMs: 5000, leaseTtlMs: 6000 }))).toBe('REGISTRY_INVALID_ARGUMENT');
    const registry = createMemoryRegistry({ heartbeatIntervalMs: 1000 });
    await registry.ready();
    expect(await codeOf(registry.gateways.announce(gateway('g1'), { ttlMs: 1500 }))).toBe('REGISTRY_INVALID_ARGUMENT');
    await registry.gateways.announce(gateway('g1'), { ttlMs: 2000 });
    expect(await codeOf(registry.services.register({ domain: 'd', type: 'client', instanceId: 'i', gatewayId: 'g1' }, { ttlMs: 10 }))).toBe(
      'REGISTRY_INVALID_ARGUMENT',
    );
    await registry.close();
  });
});

describe('bounds', () => {
  it('refuses sessions beyond maxOwnedSessions instead of growing', async () => {
    const { node, close } = cluster({ maxOwnedSessions: 3 });
    const a = await node();
    await a.gateways.announce(gateway('g1'));
    for (let i = 0; i < 3; i++) await a.sessions.bind({ bareJid: `u${i}@x`, resource: 'r', gatewayId: 'g1', sessionId: `s${i}`, priority: 0, available: true });
    expect(await codeOf(a.sessions.bind({ bareJid: 'u9@x', resource: 'r', gatewayId: 'g1', sessionId: 's9', priority: 0, available: true }))).toBe('REGISTRY_OVERLOADED');
    // Rebinding an owned resource is not growth.
    await a.sessions.bind({ bareJid: 'u0@x', resource: 'r', gatewayId: 'g1', sessionId: 's0b', priority: 0, available: true });
    await a.sessions.unbind('u1@x', 'r', 's1');
    await a.sessions.bind({ bareJid: 'u9@x', resource: 'r', gatewayId: 'g1', sessionId: 's9', priority: 0, available: true });
    await close();
  });

  it('refuses calls beyond maxInFlight at once', async () => {
    const { node, close } = cluster({ maxInFlight: 3 });
    const a = await node();
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => a.counters.increment(`k${i}`, 1000)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected' && isRegistryError(r.reason, 'REGISTRY_OVERLOADED'))).toHaveLength(7);
    await close();
  });

  it('keeps at most sessionCacheSize bare JIDs cached', async () => {
    const { store, node, close } = cluster({ sessionCacheSize: 2 });
    const a = await node();
    for (const jid of ['a@x', 'b@x', 'c@x']) await a.sessions.get(jid);
    store.setReachable(false);
    await flush();
    expect(await a.sessions.get('c@x')).toEqual([]);
    expect(await a.sessions.get('b@x')).toEqual([]);
    expect(await codeOf(a.sessions.get('a@x'))).toBe('REGISTRY_UNAVAILABLE'); // evicted
    await close();
  });
});

describe('events', () => {
  it('ignores malformed broadcasts from the store', async () => {
    const { store, node, close } = cluster();
    const errors: string[] = [];
    const a = await node({ onError: (_e, context) => errors.push(context) });
    const seen: RegistryEvent[] = [];
    a.events.subscribe((e) => seen.push(e));
    for (const junk of ['not json', '{}', '{"v":1,"o":"x","t":"kick"}', '{"v":2,"o":"x","t":"drain","gatewayId":"g"}', 'x'.repeat(70_000)]) store.broadcast(junk);
    store.broadcast(JSON.stringify({ v: 1, o: 'x', t: 'drain', gatewayId: 'g' }));
    await flush();
    expect(seen).toEqual([{ type: 'drain', gatewayId: 'g' }]);
    expect(errors.filter((c) => c === 'events')).toHaveLength(5);
    await close();
  });

  it('reports joined, updated and left for services as seen by any node', async () => {
    const { node, close } = cluster();
    const a = await node();
    const b = await node();
    const seen: RegistryEvent[] = [];
    b.events.subscribe((e) => seen.push(e));
    await a.gateways.announce(gateway('g1'));
    await a.services.register({ domain: 'd', type: 'component', instanceId: 'i', gatewayId: 'g1' });
    await a.services.register({ domain: 'd', type: 'component', instanceId: 'i', gatewayId: 'g1', draining: true });
    await a.services.unregister('d', 'component', 'i');
    await flush();
    await flush();
    const types = seen.filter((e) => e.type.startsWith('service-')).map((e) => e.type);
    expect(types).toEqual(['service-joined', 'service-updated', 'service-left']);
    expect(seen.at(-1)).toEqual({ type: 'service-left', domain: 'd', serviceType: 'component', instanceId: 'i', reason: 'unregistered' });
    await close();
  });
});
