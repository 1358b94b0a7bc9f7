// What the registry does when Redis fails under it (docs/registry.md, "When Redis fails"),
// against real redis-server processes: stopped and started, restarted empty, demoted to a
// replica (READONLY), and hung.

import { randomUUID } from 'node:crypto';
import { isRegistryError, type Registry, type RegistryErrorCode, type RegistryEvent } from '@ambrosia/registry';
import { eventually as eventuallyWithin } from '@ambrosia/registry/compliance';
import { createRedisRegistry, type RedisRegistryOptions } from '@ambrosia/registry-redis';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (e) {
    return isRegistryError(e) ? e.code : `not a RegistryError: ${String(e)}`;
  }
}

const uid = (p: string) => `${p}-${randomUUID().slice(0, 8)}`;
/** The shared poll, with the longer deadline real outages need. */
const eventually = (check: () => unknown, timeoutMs = 15_000) => eventuallyWithin(check, timeoutMs);

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => stopAll());

function registryOn(server: RedisServer | string, options: Partial<RedisRegistryOptions> = {}): Registry {
  const registry = createRedisRegistry({
    url: typeof server === 'string' ? server : server.url,
    prefix: 'outage',
    commandTimeoutMs: 500,
    connectTimeoutMs: 1000,
    reconnectBackoff: { baseMs: 20, maxMs: 250 },
    ...options,
  });
  closers.push(() => registry.close());
  return registry;
}

function adminOn(server: RedisServer): Redis {
  const admin = new Redis({ host: server.host, port: server.port, lazyConnect: true, maxRetriesPerRequest: 1 });
  admin.on('error', () => {});
  closers.push(() => admin.disconnect());
  return admin;
}

/** A gateway with an instance, a session, a resumption record and a cached see-other-host answer. */
async function populate(registry: Registry) {
  const gatewayId = uid('gw');
  const domain = `${uid('d')}.example`;
  const bareJid = `${uid('u')}@${domain}`;
  const smId = uid('sm');
  await registry.gateways.announce({ id: gatewayId, addresses: ['127.0.0.1'], ports: { c2s: 5222 }, load: 1, state: 'active' });
  const { instance } = await registry.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId, weight: 3 });
  await registry.sessions.bind({ bareJid, resource: 'phone', gatewayId, sessionId: 's-1', priority: 5, available: true });
  await registry.resumptions.put({ id: smId, fullJid: `${bareJid}/phone`, gatewayId, sessionId: 's-1', inbound: 4, outbound: 2 }, 120_000);
  await registry.seeOtherHost.set(domain, 'elsewhere.example:5222');
  expect(await registry.sessions.get(bareJid)).toHaveLength(1); // now cached
  // Cached: the JID's (absent) entry and the domain's.
  expect((await registry.seeOtherHost.resolve(`x@${domain}`))?.target).toBe('elsewhere.example:5222');
  return { gatewayId, domain, bareJid, smId, epoch: instance.epoch };
}

/** Reads straight from the store through a fresh registry: what every other node would see. */
async function expectWholePicture(observer: Registry, p: Awaited<ReturnType<typeof populate>>): Promise<void> {
  expect((await observer.gateways.list()).map((g) => g.id)).toContain(p.gatewayId);
  expect(await observer.services.list(p.domain, 'client')).toMatchObject([{ instanceId: 'im-1', weight: 3, epoch: p.epoch, gateways: [p.gatewayId] }]);
  expect(await observer.sessions.get(p.bareJid)).toMatchObject([{ resource: 'phone', sessionId: 's-1', gatewayId: p.gatewayId, priority: 5 }]);
  expect(await observer.resumptions.get(p.smId)).toMatchObject({ gatewayId: p.gatewayId, inbound: 4, outbound: 2 });
}

describe('Redis stopped and started under a running registry', () => {
  it('serves reads from the snapshot, fails writes fast, goes stale at the limit, and recovers', async () => {
    const server = await startRedis();
    const registry = registryOn(server, { heartbeatIntervalMs: 200, stalenessLimitMs: 2000 });
    const health: string[] = [];
    registry.events.subscribe((e: RegistryEvent) => {
      if (e.type === 'health-changed') health.push(e.health.status);
    });
    await registry.ready();
    const p = await populate(registry);

    await server.kill();
    await eventually(() => expect(registry.health()).toMatchObject({ status: 'degraded', reason: expect.stringMatching(/store unreachable/) }));

    // Reads: routing from the snapshot, cached lookups from the last good answer.
    expect(registry.routing.instances(p.domain, 'client').map((i) => i.instanceId)).toEqual(['im-1']);
    expect(registry.routing.gateway(p.gatewayId)?.id).toBe(p.gatewayId);
    await sleep(300); // leases keep their remaining time while nobody can renew them
    expect(registry.routing.instances(p.domain, 'client')).toHaveLength(1);
    expect((await registry.sessions.get(p.bareJid)).map((s) => s.sessionId)).toEqual(['s-1']);
    expect((await registry.seeOtherHost.resolve(`x@${p.domain}`))?.target).toBe('elsewhere.example:5222');
    // What was never looked up cannot be answered: a clear error, not a guess.
    expect(await codeOf(registry.sessions.get(`${uid('nobody')}@x`))).toBe('REGISTRY_UNAVAILABLE');
    expect(await codeOf(registry.seeOtherHost.resolve(`y@${p.domain}`))).toBe('REGISTRY_UNAVAILABLE');

    // Writes fail at once with a clear code; nothing is queued behind the outage.
    const writes = await Promise.allSettled(Array.from({ length: 500 }, (_, i) => registry.counters.increment(`c${i}`, 60_000)));
    expect(writes.every((w) => w.status === 'rejected' && isRegistryError(w.reason, 'REGISTRY_UNAVAILABLE'))).toBe(true);
    expect(await codeOf(registry.sessions.bind({ bareJid: p.bareJid, resource: 'desk', gatewayId: p.gatewayId, sessionId: 's-2', priority: 0, available: true }))).toBe(
      'REGISTRY_UNAVAILABLE',
    );
    expect(await codeOf(registry.heartbeat())).toBe('REGISTRY_UNAVAILABLE');

    // Past the staleness limit the snapshot is refused rather than trusted.
    await eventually(() => expect(registry.health().status).toBe('unavailable'));
    expect(() => registry.routing.instances(p.domain, 'client')).toThrow(/REGISTRY_STALE/);
    expect(await codeOf(registry.sessions.get(p.bareJid))).toBe('REGISTRY_UNAVAILABLE');

    await server.restart();
    await eventually(() => expect(registry.health().status).toBe('ok'));
    expect(health).toEqual(expect.arrayContaining(['degraded', 'unavailable', 'ok']));
    expect(await registry.counters.increment(uid('after'), 60_000)).toBe(1);
    // Everything it owns was written again (a new server process: new run_id).
    expect(registry.routing.instances(p.domain, 'client').map((i) => i.instanceId)).toEqual(['im-1']);
    const observer = registryOn(server);
    await observer.ready();
    await expectWholePicture(observer, p);
  });
});

describe('Redis restarted empty', () => {
  it('gets every lease, registration, session and resumption record back with one heartbeat', async () => {
    const server = await startRedis();
    // No timer: only the reconnection and one explicit heartbeat may bring the picture back.
    const owner = registryOn(server, { heartbeatIntervalMs: 0 });
    await owner.ready();
    const p = await populate(owner);
    const more = Array.from({ length: 200 }, (_, i) => ({ bareJid: `bulk${i}-${p.bareJid}`, resource: 'r', gatewayId: p.gatewayId, sessionId: `b${i}`, priority: 0, available: true }));
    await Promise.all(more.map((b) => owner.sessions.bind(b)));

    await server.restart({ empty: true });
    const raw = adminOn(server);
    await eventually(() => expect(owner.health().status).toBe('ok'));
    await owner.heartbeat();

    const observer = registryOn(server, { heartbeatIntervalMs: 0 });
    await observer.ready();
    await expectWholePicture(observer, p);
    for (const b of more) expect((await observer.sessions.get(b.bareJid)).map((s) => s.sessionId)).toEqual([b.sessionId]);
    expect(observer.routing.instances(p.domain, 'client')[0]).toMatchObject({ instanceId: 'im-1', epoch: p.epoch });
    // Admin data is not a lease: it needs Redis persistence (docs/registry.md).
    expect(await observer.seeOtherHost.get(p.domain)).toBeUndefined();
    expect(Number(await raw.dbsize())).toBeGreaterThan(200);
  });

  it('recovers on its own heartbeat timer, without help', async () => {
    const server = await startRedis();
    const owner = registryOn(server, { heartbeatIntervalMs: 300 });
    await owner.ready();
    const p = await populate(owner);
    await server.restart({ empty: true });
    const observer = registryOn(server);
    await observer.ready();
    await eventually(() => expectWholePicture(observer, p));
    await eventually(() => expect(observer.routing.instances(p.domain, 'client')).toHaveLength(1));
  });
});

describe('READONLY from a demoted primary', () => {
  it('fails writes with REGISTRY_READONLY, keeps serving reads, and recovers when writable again', async () => {
    const primary = await startRedis();
    const other = await startRedis();
    const registry = registryOn(primary, { heartbeatIntervalMs: 200, stalenessLimitMs: 60_000 });
    await registry.ready();
    const p = await populate(registry);
    const admin = adminOn(primary);

    // Demote: the server now replicates another one (empty) and refuses writes.
    await admin.call('REPLICAOF', other.host, String(other.port));
    await eventually(async () => expect(await codeOf(registry.counters.increment(uid('w'), 1000))).toBe('REGISTRY_READONLY'));
    await eventually(() => expect(registry.health()).toMatchObject({ status: 'degraded', reason: expect.stringMatching(/read-only/) }));
    expect(registry.routing.instances(p.domain, 'client')).toHaveLength(1);
    expect(registry.routing.gateway(p.gatewayId)).toBeDefined();
    expect(await codeOf(registry.seeOtherHost.set(uid('k'), 'x.example'))).toBe('REGISTRY_READONLY');

    // Promoted again: writes work, health clears, and the lost dataset (it synced an empty
    // primary) is re-asserted because the gateway lease went missing.
    await admin.call('REPLICAOF', 'NO', 'ONE');
    await eventually(async () => expect(await registry.counters.increment(uid('w'), 1000)).toBe(1));
    await eventually(() => expect(registry.health().status).toBe('ok'));
    const observer = registryOn(primary);
    await observer.ready();
    await eventually(() => expectWholePicture(observer, p));
  });
});

describe('Redis hung', () => {
  it('times calls out instead of waiting, and bounds what is in flight', async () => {
    const server = await startRedis();
    const registry = registryOn(server, { heartbeatIntervalMs: 0, commandTimeoutMs: 400, maxInFlight: 20 });
    await registry.ready();
    const admin = adminOn(server);
    const sleeping = admin.call('DEBUG', 'SLEEP', '2').catch(() => undefined);
    await sleep(100);
    const calls = Array.from({ length: 100 }, (_, i) => registry.counters.get(`k${i}`));
    const settled = await Promise.allSettled(calls);
    const codes = settled.map((s) => (s.status === 'rejected' && isRegistryError(s.reason) ? s.reason.code : 'resolved'));
    const count = (code: RegistryErrorCode) => codes.filter((c) => c === code).length;
    expect(count('REGISTRY_OVERLOADED')).toBe(80);
    expect(count('REGISTRY_UNAVAILABLE')).toBe(20);
    await sleeping;
    await eventually(async () => expect(await registry.counters.get('k0')).toBe(0));
  });
});
