// The behaviour every registry implementation must have, as vitest blocks. Used by the memory
// registry's tests and by the Redis registry's (standalone, Sentinel with a failover mid-suite,
// Cluster). Import it from "@ambrosia/registry/compliance" inside a test file.
//
// The factory contract: every call returns a NEW registry node attached to the SAME store (two
// calls model two gateways of one cluster), ready or about to be. Tests use unique identifiers,
// so the store need not be emptied between tests. `cleanup` closes what that call created.
// Lease tests wait real time (a few hundred ms): the suite runs against real servers too, so
// the factory's registries should heartbeat at most every 200 ms (leases here are 400 ms).

import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { isRegistryError, type RegistryErrorCode } from './errors.js';
import type { CredentialRecord, GatewayAnnouncement, Registry, RegistryEvent, ResumptionState, ServiceType } from './types.js';

export interface ComplianceNode {
  registry: Registry;
  cleanup(): Promise<void>;
}

export type ComplianceFactory = () => Promise<ComplianceNode>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Polls until `check` stops throwing (or returns anything but false), for at most `timeoutMs`.
 * Exported for the tests of implementations that wait on their own servers (registry-redis).
 */
export async function eventually(check: () => unknown | Promise<unknown>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const result = await check();
      if (result !== false) return;
      if (Date.now() > deadline) throw new Error('condition still false at the deadline');
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await sleep(25);
  }
}

async function expectCode(promise: Promise<unknown> | (() => unknown), code: RegistryErrorCode): Promise<void> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeDefined();
  expect(isRegistryError(error), `expected a RegistryError, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

function uid(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

function gatewayOf(id: string, overrides: Partial<GatewayAnnouncement> = {}): GatewayAnnouncement {
  return { id, addresses: ['127.0.0.1'], ports: { c2s: 5222, service: 5347 }, load: 0, state: 'active', ...overrides };
}

function credentialOf(seed: number, overrides: Partial<CredentialRecord> = {}): CredentialRecord {
  const b64 = (n: number, len: number) => Buffer.alloc(len, n).toString('base64');
  return {
    scram: {
      'SHA-1': { salt: b64(seed, 16), iterations: 4096, storedKey: b64(seed + 1, 20), serverKey: b64(seed + 2, 20) },
      'SHA-256': { salt: b64(seed + 3, 16), iterations: 10000, storedKey: b64(seed + 4, 32), serverKey: b64(seed + 5, 32) },
    },
    createdAt: 1_700_000_000_000 + seed,
    updatedAt: 1_700_000_000_000 + seed,
    ...overrides,
  };
}

function collect(registry: Registry): RegistryEvent[] {
  const events: RegistryEvent[] = [];
  registry.events.subscribe((e) => events.push(e));
  return events;
}

/** Identifiers that must survive as opaque strings in any key layout. */
const AWKWARD = ['a:b', '{tag}', 'x}y{z', '100%', 'sp ace', 'slash/part', 'ünï©ødé', '😀', 'ctl\u0001char', '*?[]'];

export function registryComplianceSuite(name: string, factory: ComplianceFactory): void {
  describe(`${name}: registry compliance`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    async function node(): Promise<Registry> {
      const created = await factory();
      cleanups.push(() => created.cleanup());
      await created.registry.ready({ timeoutMs: 20_000 });
      return created.registry;
    }
    async function gatewayNode(ttlMs?: number): Promise<{ registry: Registry; gatewayId: string }> {
      const registry = await node();
      const gatewayId = uid('gw');
      await registry.gateways.announce(gatewayOf(gatewayId), ttlMs === undefined ? {} : { ttlMs });
      return { registry, gatewayId };
    }
    afterEach(async () => {
      const pending = cleanups.splice(0);
      await Promise.all(pending.map((c) => c()));
    });

    describe('lifecycle', () => {
      it('is ready and healthy, and refuses work once closed', async () => {
        const created = await factory();
        await created.registry.ready({ timeoutMs: 20_000 });
        expect(created.registry.health().status).toBe('ok');
        expect(typeof created.registry.incarnation).toBe('string');
        await created.registry.heartbeat();
        await created.cleanup();
        await expectCode(created.registry.counters.get('x'), 'REGISTRY_CLOSED');
        expect(() => created.registry.routing.gateways()).toThrow(/REGISTRY_CLOSED/);
      });

      it('rejects malformed arguments without touching the store', async () => {
        const r = await node();
        await expectCode(r.counters.get(''), 'REGISTRY_INVALID_ARGUMENT');
        await expectCode(r.counters.increment('k', 0), 'REGISTRY_INVALID_ARGUMENT');
        await expectCode(r.counters.increment('k', 1000, 1.5), 'REGISTRY_INVALID_ARGUMENT');
        await expectCode(r.credentials.get('example.com', 'lone\uD800'), 'REGISTRY_INVALID_ARGUMENT');
        await expectCode(r.credentials.get('example.com', 'x'.repeat(4000)), 'REGISTRY_INVALID_ARGUMENT');
        await expectCode(r.gateways.announce({ ...gatewayOf(uid('gw')), state: 'sleeping' as 'active' }), 'REGISTRY_INVALID_ARGUMENT');
        await expectCode(r.gateways.announce(gatewayOf(uid('gw'), { ports: { c2s: 70000 } })), 'REGISTRY_INVALID_ARGUMENT');
      });
    });

    describe('gateways', () => {
      it('announces a lease visible to the store, the own cache and a peer', async () => {
        const a = await node();
        const b = await node();
        const id = uid('gw');
        const info = await a.gateways.announce(gatewayOf(id, { load: 7, ports: { c2s: 5222, s2s: 5269 } }), { ttlMs: 60_000 });
        expect(info).toMatchObject({ id, load: 7, state: 'active', addresses: ['127.0.0.1'], ports: { c2s: 5222, s2s: 5269 }, incarnation: a.incarnation });
        expect(info.expiresAt).toBeGreaterThan(Date.now() + 50_000);
        expect(info.startedAt).toBeLessThanOrEqual(Date.now() + 1000);
        expect((await b.gateways.list()).map((g) => g.id)).toContain(id);
        expect(a.routing.gateway(id)?.load).toBe(7);
        await eventually(() => expect(b.routing.gateway(id)?.incarnation).toBe(a.incarnation));
        expect(b.routing.gateways().map((g) => g.id)).toContain(id);
      });

      it('updates load and state on a new announcement, keeping startedAt', async () => {
        const a = await node();
        const b = await node();
        const events = collect(b);
        const id = uid('gw');
        const first = await a.gateways.announce(gatewayOf(id));
        await eventually(() => expect(b.routing.gateway(id)).toBeDefined());
        const second = await a.gateways.announce(gatewayOf(id, { load: 42, state: 'draining' }));
        expect(second.startedAt).toBe(first.startedAt);
        expect(a.routing.gateway(id)).toMatchObject({ load: 42, state: 'draining' });
        await eventually(() => expect(b.routing.gateway(id)?.state).toBe('draining'));
        expect(events.some((e) => e.type === 'gateway-joined' && e.gateway.id === id)).toBe(true);
        expect(events.some((e) => e.type === 'gateway-updated' && e.gateway.id === id && e.gateway.state === 'draining')).toBe(true);
      });

      it('renews the lease on heartbeat', async () => {
        const a = await node();
        const id = uid('gw');
        const first = await a.gateways.announce(gatewayOf(id), { ttlMs: 60_000 });
        await sleep(30);
        await a.heartbeat();
        const renewed = (await a.gateways.list()).find((g) => g.id === id);
        expect(renewed).toBeDefined();
        expect(renewed!.expiresAt).toBeGreaterThan(first.expiresAt);
      });

      it('withdraws at once, and peers learn it as withdrawn', async () => {
        const a = await node();
        const b = await node();
        const events = collect(b);
        const id = uid('gw');
        await a.gateways.announce(gatewayOf(id));
        await eventually(() => expect(b.routing.gateway(id)).toBeDefined());
        expect(await a.gateways.withdraw(id)).toBe(true);
        expect(await a.gateways.withdraw(id)).toBe(false);
        expect(a.routing.gateway(id)).toBeUndefined();
        expect((await a.gateways.list()).map((g) => g.id)).not.toContain(id);
        await eventually(() => expect(b.routing.gateway(id)).toBeUndefined());
        await eventually(() => expect(events).toContainEqual({ type: 'gateway-left', gatewayId: id, reason: 'withdrawn' }));
      });

      it('lets an unrenewed lease expire (a crashed gateway)', async () => {
        const a = await node();
        const { gatewayId } = await (async () => {
          const b = await node();
          const id = uid('gw');
          await b.gateways.announce(gatewayOf(id), { ttlMs: 400 });
          await eventually(() => expect(a.routing.gateway(id)).toBeDefined());
          await b.close(); // no withdraw: the lease just stops being renewed
          return { gatewayId: id };
        })();
        const events = collect(a);
        await eventually(() => expect(a.routing.gateway(gatewayId)).toBeUndefined());
        await eventually(async () => expect((await a.gateways.list()).map((g) => g.id)).not.toContain(gatewayId));
        await a.heartbeat();
        expect(events).toContainEqual({ type: 'gateway-left', gatewayId, reason: 'expired' });
      });
    });

    describe('services', () => {
      const domainOf = () => `${uid('svc')}.example`;

      it('registers an instance on an announced gateway, with a first epoch', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const domain = domainOf();
        const { instance, accepted } = await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId });
        expect(accepted).toBe(true);
        expect(instance).toMatchObject({ domain, type: 'client', instanceId: 'im-1', weight: 1, draining: false, gateways: [gatewayId] });
        expect(instance.epoch).toBeGreaterThanOrEqual(1);
        expect(a.routing.instances(domain, 'client').map((i) => i.instanceId)).toEqual(['im-1']);
        expect(a.routing.instances(domain, 'server')).toEqual([]);
        expect(a.routing.services()).toContainEqual({ domain, type: 'client' });
        expect((await a.services.list(domain, 'client')).map((i) => i.instanceId)).toEqual(['im-1']);
      });

      it('refuses a membership on a gateway this registry did not announce', async () => {
        const a = await node();
        await expectCode(a.services.register({ domain: domainOf(), type: 'client', instanceId: 'i', gatewayId: uid('gw') }), 'REGISTRY_NOT_OWNER');
      });

      it('gives every change a higher epoch and serves sorted instances', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const domain = domainOf();
        const one = await a.services.register({ domain, type: 'component', instanceId: 'b', gatewayId, weight: 2 });
        await a.services.register({ domain, type: 'component', instanceId: 'a', gatewayId });
        const two = await a.services.register({ domain, type: 'component', instanceId: 'b', gatewayId, draining: true, weight: 2 });
        expect(two.instance.epoch).toBeGreaterThan(one.instance.epoch);
        const live = a.routing.instances(domain, 'component');
        expect(live.map((i) => i.instanceId)).toEqual(['a', 'b']);
        expect(live[1]).toMatchObject({ draining: true, weight: 2, epoch: two.instance.epoch });
        expect(Object.isFrozen(live)).toBe(true);
      });

      it('never lets a stale epoch win, yet renews its membership', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const domain = domainOf();
        await a.services.register({ domain, type: 'client', instanceId: 'x', gatewayId, epoch: 10, weight: 2 });
        const stale = await a.services.register({ domain, type: 'client', instanceId: 'x', gatewayId, epoch: 5, weight: 9, draining: true });
        expect(stale.accepted).toBe(false);
        expect(stale.instance).toMatchObject({ epoch: 10, weight: 2, draining: false, gateways: [gatewayId] });
        const newer = await a.services.register({ domain, type: 'client', instanceId: 'x', gatewayId, epoch: 11, weight: 3 });
        expect(newer.accepted).toBe(true);
        expect(a.routing.instances(domain, 'client')[0]).toMatchObject({ epoch: 11, weight: 3 });
        // Without an epoch, the next one is above everything seen.
        const next = await a.services.register({ domain, type: 'client', instanceId: 'x', gatewayId });
        expect(next.instance.epoch).toBeGreaterThan(11);
        // Heartbeat re-asserts the owned registration without bumping or regressing it.
        await a.heartbeat();
        expect((await a.services.list(domain, 'client'))[0]).toMatchObject({ epoch: next.instance.epoch });
      });

      it('tracks memberships on several gateways; peers see joins and leaves', async () => {
        const { registry: a, gatewayId: ga } = await gatewayNode();
        const { registry: b, gatewayId: gb } = await gatewayNode();
        const observer = await node();
        const events = collect(observer);
        const domain = domainOf();
        await a.services.register({ domain, type: 'server', instanceId: 'im-1', gatewayId: ga });
        await b.services.register({ domain, type: 'server', instanceId: 'im-1', gatewayId: gb });
        const both = [ga, gb].sort();
        await eventually(() => expect(observer.routing.instances(domain, 'server')[0]?.gateways).toEqual(both));
        expect(events.some((e) => e.type === 'service-joined' && e.instance.domain === domain && e.instance.instanceId === 'im-1')).toBe(true);
        expect(await a.services.unregister(domain, 'server', 'im-1', ga)).toBe(false);
        await eventually(() => expect(observer.routing.instances(domain, 'server')[0]?.gateways).toEqual([gb]));
        expect(await b.services.unregister(domain, 'server', 'im-1', gb)).toBe(true);
        expect(b.routing.instances(domain, 'server')).toEqual([]);
        await eventually(() => expect(observer.routing.instances(domain, 'server')).toEqual([]));
        await eventually(() =>
          expect(events).toContainEqual({ type: 'service-left', domain, serviceType: 'server', instanceId: 'im-1', reason: 'unregistered' }),
        );
      });

      it('drops an instance whose memberships are not renewed (a crashed gateway)', async () => {
        const observer = await node();
        const events = collect(observer);
        const domain = domainOf();
        const b = await node();
        const gb = uid('gw');
        await b.gateways.announce(gatewayOf(gb), { ttlMs: 400 });
        await b.services.register({ domain, type: 'client', instanceId: 'im-9', gatewayId: gb }, { ttlMs: 400 });
        await eventually(() => expect(observer.routing.instances(domain, 'client')).toHaveLength(1));
        await b.close();
        await eventually(() => expect(observer.routing.instances(domain, 'client')).toEqual([]));
        // Routing drops the instance with its gateway's lease; the store, with the membership
        // lease, which the registration started a moment later: poll for it too.
        await eventually(async () => expect(await observer.services.list(domain, 'client')).toEqual([]));
        await observer.heartbeat();
        expect(events).toContainEqual({ type: 'service-left', domain, serviceType: 'client', instanceId: 'im-9', reason: 'expired' });
        // An expired instance cannot be drained back to life.
        await expectCode(observer.services.setAttributes(domain, 'client', 'im-9', { draining: true }), 'REGISTRY_NOT_FOUND');
        expect(await observer.services.list(domain, 'client')).toEqual([]);
      });

      it('removes a withdrawn gateway’s memberships', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const observer = await node();
        const domain = domainOf();
        await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId });
        await eventually(() => expect(observer.routing.instances(domain, 'client')).toHaveLength(1));
        await a.gateways.withdraw(gatewayId);
        expect(await a.services.list(domain, 'client')).toEqual([]);
        await eventually(() => expect(observer.routing.instances(domain, 'client')).toEqual([]));
      });

      it('accepts awkward domains and instance ids as opaque strings', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const suffix = uid('');
        for (const [i, odd] of AWKWARD.entries()) {
          const domain = `${odd}${suffix}`;
          await a.services.register({ domain, type: 'client', instanceId: odd, gatewayId, weight: i + 1 });
          expect((await a.services.list(domain, 'client')).map((s) => [s.instanceId, s.weight])).toEqual([[odd, i + 1]]);
          expect(a.routing.instances(domain, 'client')[0]?.instanceId).toBe(odd);
          expect((await a.services.setAttributes(domain, 'client', odd, { weight: i + 2 })).weight).toBe(i + 2);
        }
      });

      describe('setAttributes: an administrator drains or reweights a live instance', () => {
        it('works from a registry that owns nothing, with a new epoch, memberships untouched; peers see service-updated', async () => {
          const { registry: a, gatewayId: ga } = await gatewayNode();
          const { registry: b, gatewayId: gb } = await gatewayNode();
          const admin = await node();
          const atA = collect(a);
          const domain = domainOf();
          await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId: ga, weight: 2 });
          const registered = await b.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId: gb, weight: 2 });
          await a.services.register({ domain, type: 'client', instanceId: 'im-2', gatewayId: ga });

          const drained = await admin.services.setAttributes(domain, 'client', 'im-1', { draining: true });
          expect(drained).toMatchObject({ domain, type: 'client', instanceId: 'im-1', draining: true, weight: 2, gateways: [ga, gb].sort() });
          expect(drained.epoch).toBeGreaterThan(registered.instance.epoch);
          // Read your write, and only that instance changed.
          expect(admin.routing.instances(domain, 'client').map((i) => [i.instanceId, i.draining, i.weight, i.gateways.length])).toEqual([
            ['im-1', true, 2, 2],
            ['im-2', false, 1, 1],
          ]);
          expect((await admin.services.list(domain, 'client'))[0]).toMatchObject({ draining: true, epoch: drained.epoch, gateways: [ga, gb].sort() });
          // Every node reloads it: the owner's routing view and its events.
          for (const peer of [a, b]) {
            await eventually(() => expect(peer.routing.instances(domain, 'client')[0]).toMatchObject({ instanceId: 'im-1', draining: true, epoch: drained.epoch }));
          }
          await eventually(() =>
            expect(atA.some((e) => e.type === 'service-updated' && e.instance.domain === domain && e.instance.instanceId === 'im-1' && e.instance.draining)).toBe(true),
          );

          // Weight alone keeps the draining flag; both at once; each change a higher epoch.
          const weighted = await admin.services.setAttributes(domain, 'client', 'im-1', { weight: 0.5 });
          expect(weighted).toMatchObject({ draining: true, weight: 0.5 });
          expect(weighted.epoch).toBeGreaterThan(drained.epoch);
          const undrained = await admin.services.setAttributes(domain, 'client', 'im-1', { draining: false, weight: 3 });
          expect(undrained).toMatchObject({ draining: false, weight: 3, gateways: [ga, gb].sort() });
          expect(undrained.epoch).toBeGreaterThan(weighted.epoch);
          await eventually(() => expect(b.routing.instances(domain, 'client')[0]).toMatchObject({ draining: false, weight: 3, epoch: undrained.epoch }));
        });

        it('survives the owning gateway’s renewals: the owner adopts the newer epoch instead of undoing it', async () => {
          const { registry: a, gatewayId } = await gatewayNode();
          const admin = await node();
          const domain = domainOf();
          const first = await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId, weight: 2 });
          const drained = await admin.services.setAttributes(domain, 'client', 'im-1', { draining: true });
          await a.heartbeat();
          await a.heartbeat();
          expect((await admin.services.list(domain, 'client'))[0]).toMatchObject({ draining: true, weight: 2, epoch: drained.epoch, gateways: [gatewayId] });
          await eventually(() => expect(a.routing.instances(domain, 'client')[0]).toMatchObject({ draining: true, epoch: drained.epoch }));

          // A relayed registration with the older epoch loses, yet renews its membership.
          const stale = await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId, epoch: first.instance.epoch, weight: 2, draining: false });
          expect(stale.accepted).toBe(false);
          expect(stale.instance).toMatchObject({ draining: true, epoch: drained.epoch });
          // What a gateway does when the instance reconnects: register again with the attributes its cache has.
          const cached = a.routing.instances(domain, 'client')[0]!;
          const again = await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId, weight: cached.weight, draining: cached.draining });
          expect(again.instance).toMatchObject({ draining: true, weight: 2 });
          expect(again.instance.epoch).toBeGreaterThan(drained.epoch);
          await a.heartbeat();
          const undrained = await admin.services.setAttributes(domain, 'client', 'im-1', { draining: false });
          expect(undrained.epoch).toBeGreaterThan(again.instance.epoch);
          await a.heartbeat();
          expect((await a.services.list(domain, 'client'))[0]).toMatchObject({ draining: false, weight: 2, epoch: undrained.epoch });
        });

        it('refuses an instance that is not live, and a change without a valid attribute', async () => {
          const { registry: a, gatewayId } = await gatewayNode();
          const admin = await node();
          const domain = domainOf();
          await expectCode(admin.services.setAttributes(domain, 'client', 'nobody', { draining: true }), 'REGISTRY_NOT_FOUND');
          await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId });
          await expectCode(admin.services.setAttributes(domain, 'server', 'im-1', { draining: true }), 'REGISTRY_NOT_FOUND');
          await expectCode(admin.services.setAttributes(domain, 'client', 'im-1', {}), 'REGISTRY_INVALID_ARGUMENT');
          await expectCode(admin.services.setAttributes(domain, 'client', 'im-1', { weight: -1 }), 'REGISTRY_INVALID_ARGUMENT');
          await expectCode(admin.services.setAttributes(domain, 'client', 'im-1', { weight: Number.NaN }), 'REGISTRY_INVALID_ARGUMENT');
          await expectCode(admin.services.setAttributes(domain, 'client', 'im-1', { draining: 'yes' as unknown as boolean }), 'REGISTRY_INVALID_ARGUMENT');
          await expectCode(admin.services.setAttributes(domain, 'bogus' as ServiceType, 'im-1', { draining: true }), 'REGISTRY_INVALID_ARGUMENT');
          expect((await admin.services.list(domain, 'client'))[0]).toMatchObject({ draining: false, weight: 1 });
          await a.services.unregister(domain, 'client', 'im-1');
          await expectCode(admin.services.setAttributes(domain, 'client', 'im-1', { draining: true }), 'REGISTRY_NOT_FOUND');
          expect(await admin.services.list(domain, 'client')).toEqual([]);
        });
      });
    });

    describe('sessions', () => {
      const jidOf = () => `${uid('user')}@example.com`;

      it('binds, reads back sorted by resource, and requires an announced gateway', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const bareJid = jidOf();
        expect(await a.sessions.get(bareJid)).toEqual([]);
        expect(await a.sessions.bind({ bareJid, resource: 'phone', gatewayId, sessionId: 's1', priority: 5, available: true })).toEqual({ bound: true });
        await a.sessions.bind({ bareJid, resource: 'desk', gatewayId, sessionId: 's2', priority: -1, available: false });
        const sessions = await a.sessions.get(bareJid);
        expect(sessions.map((s) => s.resource)).toEqual(['desk', 'phone']);
        expect(sessions[1]).toMatchObject({ bareJid, resource: 'phone', gatewayId, sessionId: 's1', priority: 5, available: true });
        expect(typeof sessions[1]!.boundAt).toBe('number');
        await expectCode(a.sessions.bind({ bareJid, resource: 'x', gatewayId: uid('gw'), sessionId: 's3', priority: 0, available: true }), 'REGISTRY_NOT_OWNER');
        await expectCode(a.sessions.bind({ bareJid, resource: 'x', gatewayId, sessionId: 's3', priority: 128, available: true }), 'REGISTRY_INVALID_ARGUMENT');
      });

      it('replaces a live session on the same resource and returns it (RFC 6120 §7.7.2.2)', async () => {
        const { registry: a, gatewayId: ga } = await gatewayNode();
        const { registry: b, gatewayId: gb } = await gatewayNode();
        const bareJid = jidOf();
        await a.sessions.bind({ bareJid, resource: 'r', gatewayId: ga, sessionId: 'old', priority: 0, available: true });
        const result = await b.sessions.bind({ bareJid, resource: 'r', gatewayId: gb, sessionId: 'new', priority: 1, available: true });
        expect(result.bound).toBe(true);
        expect(result.previous).toMatchObject({ gatewayId: ga, sessionId: 'old' });
        expect((await b.sessions.get(bareJid)).map((s) => s.sessionId)).toEqual(['new']);
        // The replaced session's late unbind must not remove the newer one.
        expect(await a.sessions.unbind(bareJid, 'r', 'old')).toBe(false);
        expect((await a.sessions.get(bareJid)).map((s) => s.sessionId)).toEqual(['new']);
      });

      it('with onlyIfAbsent, yields to a live session but takes over a dead gateway’s', async () => {
        const { registry: b, gatewayId: gb } = await gatewayNode();
        const bareJid = jidOf();
        const crashed = await node();
        const gc = uid('gw');
        await crashed.gateways.announce(gatewayOf(gc), { ttlMs: 400 });
        await crashed.sessions.bind({ bareJid, resource: 'r', gatewayId: gc, sessionId: 'first', priority: 0, available: true });
        const blocked = await b.sessions.bind({ bareJid, resource: 'r', gatewayId: gb, sessionId: 'second', priority: 0, available: true }, { onlyIfAbsent: true });
        expect(blocked.bound).toBe(false);
        expect(blocked.previous).toMatchObject({ sessionId: 'first', gatewayId: gc });
        // Its gateway dies without unbinding: the lease ends, the binding is now dead weight.
        await crashed.close();
        await eventually(() => expect(b.routing.gateway(gc)).toBeUndefined());
        const taken = await b.sessions.bind({ bareJid, resource: 'r', gatewayId: gb, sessionId: 'second', priority: 0, available: true }, { onlyIfAbsent: true });
        expect(taken).toEqual({ bound: true });
        expect((await b.sessions.get(bareJid)).map((s) => s.sessionId)).toEqual(['second']);
      });

      it('updates priority and availability only for the holding session', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const bareJid = jidOf();
        await a.sessions.bind({ bareJid, resource: 'r', gatewayId, sessionId: 's', priority: 0, available: false });
        expect(await a.sessions.update(bareJid, 'r', 's', { priority: 10, available: true })).toBe(true);
        expect(await a.sessions.update(bareJid, 'r', 'other', { priority: 1 })).toBe(false);
        expect(await a.sessions.update(bareJid, 'nope', 's', { priority: 1 })).toBe(false);
        expect((await a.sessions.get(bareJid))[0]).toMatchObject({ priority: 10, available: true });
      });

      it('unbinds only the holding session', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const bareJid = jidOf();
        await a.sessions.bind({ bareJid, resource: 'r', gatewayId, sessionId: 's', priority: 0, available: true });
        expect(await a.sessions.unbind(bareJid, 'r', 'other')).toBe(false);
        expect(await a.sessions.unbind(bareJid, 'r', 's')).toBe(true);
        expect(await a.sessions.unbind(bareJid, 'r', 's')).toBe(false);
        expect(await a.sessions.get(bareJid)).toEqual([]);
      });

      it('shows a peer’s bind and unbind promptly through the cache', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const reader = await node();
        const bareJid = jidOf();
        expect(await reader.sessions.get(bareJid)).toEqual([]); // now cached as empty
        await a.sessions.bind({ bareJid, resource: 'r', gatewayId, sessionId: 's', priority: 0, available: true });
        await eventually(async () => expect((await reader.sessions.get(bareJid)).map((s) => s.sessionId)).toEqual(['s']));
        await a.sessions.unbind(bareJid, 'r', 's');
        await eventually(async () => expect(await reader.sessions.get(bareJid)).toEqual([]));
      });

      it('hides the sessions of a gateway whose lease ended, and withdraw unbinds its own', async () => {
        const reader = await node();
        const bareJid = jidOf();
        const crashed = await node();
        const gc = uid('gw');
        await crashed.gateways.announce(gatewayOf(gc), { ttlMs: 400 });
        await crashed.sessions.bind({ bareJid, resource: 'c', gatewayId: gc, sessionId: 'sc', priority: 0, available: true });
        const { registry: a, gatewayId: ga } = await gatewayNode();
        await a.sessions.bind({ bareJid, resource: 'a', gatewayId: ga, sessionId: 'sa', priority: 0, available: true });
        await eventually(async () => expect((await reader.sessions.get(bareJid)).map((s) => s.resource)).toEqual(['a', 'c']));
        await crashed.close();
        await eventually(async () => expect((await reader.sessions.get(bareJid)).map((s) => s.resource)).toEqual(['a']));
        await a.gateways.withdraw(ga);
        await eventually(async () => expect(await reader.sessions.get(bareJid)).toEqual([]));
      });

      it('keeps awkward JIDs and resources apart', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const suffix = uid('');
        for (const odd of AWKWARD) {
          const bareJid = `${odd}${suffix}@example.com`;
          await a.sessions.bind({ bareJid, resource: odd, gatewayId, sessionId: odd, priority: 0, available: true });
        }
        for (const odd of AWKWARD) {
          const sessions = await a.sessions.get(`${odd}${suffix}@example.com`);
          expect(sessions.map((s) => [s.resource, s.sessionId])).toEqual([[odd, odd]]);
        }
      });
    });

    describe('stream resumption records (XEP-0198)', () => {
      const stateOf = (id: string, gatewayId: string, sessionId = 's1'): ResumptionState => ({
        id,
        fullJid: 'juliet@example.com/balcony',
        gatewayId,
        sessionId,
        inbound: 3,
        outbound: 7,
      });

      it('stores, reads and updates a record with an expiry', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const id = uid('sm');
        const put = await a.resumptions.put(stateOf(id, gatewayId), 60_000);
        expect(put).toMatchObject({ ...stateOf(id, gatewayId) });
        expect(put.expiresAt).toBeGreaterThan(Date.now() + 50_000);
        expect(await a.resumptions.get(id)).toMatchObject({ id, inbound: 3, outbound: 7, epoch: put.epoch });
        expect(await a.resumptions.update(id, { inbound: 4, outbound: 9 })).toBe(true);
        expect(await a.resumptions.get(id)).toMatchObject({ inbound: 4, outbound: 9 });
        expect(await a.resumptions.get(uid('sm'))).toBeUndefined();
        await expectCode(a.resumptions.put(stateOf(id, uid('gw')), 1000), 'REGISTRY_NOT_OWNER');
      });

      it('moves a record to the resuming gateway and fences the old owner', async () => {
        const { registry: a, gatewayId: ga } = await gatewayNode();
        const { registry: b, gatewayId: gb } = await gatewayNode();
        const id = uid('sm');
        const original = await a.resumptions.put(stateOf(id, ga, 'old'), 60_000);
        const previous = await b.resumptions.claim(id, gb, 'new');
        expect(previous).toMatchObject({ gatewayId: ga, sessionId: 'old', inbound: 3, outbound: 7, epoch: original.epoch });
        const now = await b.resumptions.get(id);
        expect(now).toMatchObject({ gatewayId: gb, sessionId: 'new', inbound: 3 });
        expect(now!.epoch).toBeGreaterThan(original.epoch);
        // The old owner's writes no longer land.
        expect(await a.resumptions.update(id, { inbound: 100 })).toBe(false);
        await expectCode(a.resumptions.put(stateOf(id, ga, 'old'), 60_000), 'REGISTRY_NOT_OWNER');
        expect(await a.resumptions.delete(id)).toBe(false);
        expect(await b.resumptions.get(id)).toMatchObject({ gatewayId: gb, inbound: 3 });
        expect(await b.resumptions.update(id, { outbound: 8 })).toBe(true);
        expect(await b.resumptions.delete(id)).toBe(true);
        expect(await b.resumptions.get(id)).toBeUndefined();
        expect(await b.resumptions.claim(uid('sm'), gb, 'x')).toBeUndefined();
      });

      it('expires a record after its ttl', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const id = uid('sm');
        await a.resumptions.put(stateOf(id, gatewayId), 300);
        await eventually(async () => expect(await a.resumptions.get(id)).toBeUndefined());
        expect(await a.resumptions.claim(id, gatewayId, 'late')).toBeUndefined();
      });
    });

    describe('see-other-host (RFC 6120 §4.9.3.19)', () => {
      it('stores targets for JIDs and domains; resolve prefers the JID', async () => {
        const a = await node();
        const domain = `${uid('soh')}.example`;
        await a.seeOtherHost.set(domain, 'other.example:5222');
        await a.seeOtherHost.set(`romeo@${domain}`, '[2001:db8::1]:5223');
        expect(await a.seeOtherHost.get(domain)).toEqual({ key: domain, target: 'other.example:5222' });
        expect((await a.seeOtherHost.resolve(`romeo@${domain}`))?.target).toBe('[2001:db8::1]:5223');
        expect((await a.seeOtherHost.resolve(`juliet@${domain}`))?.target).toBe('other.example:5222');
        expect((await a.seeOtherHost.resolve(domain))?.target).toBe('other.example:5222');
        expect(await a.seeOtherHost.resolve(`nobody@${uid('none')}.example`)).toBeUndefined();
        expect(await a.seeOtherHost.delete(domain)).toBe(true);
        expect(await a.seeOtherHost.delete(domain)).toBe(false);
        expect(await a.seeOtherHost.resolve(`juliet@${domain}`)).toBeUndefined();
      });

      it('validates host[:port]', async () => {
        const a = await node();
        for (const bad of ['', 'a:b:c', 'host:0', 'host:65536', '[::1', 'bad host', '[zz]:1']) {
          await expectCode(a.seeOtherHost.set(uid('k'), bad), 'REGISTRY_INVALID_ARGUMENT');
        }
        for (const good of ['example.net', 'example.net:5222', '192.0.2.1:5222', '[::1]', '[2001:db8::7]:5269']) {
          await a.seeOtherHost.set(uid('k'), good);
        }
      });

      it('expires entries with a ttl', async () => {
        const a = await node();
        const key = `${uid('soh')}.example`;
        await a.seeOtherHost.set(key, 'elsewhere.example', { ttlMs: 300 });
        const entry = await a.seeOtherHost.get(key);
        expect(entry?.expiresAt).toBeGreaterThan(Date.now() - 1000);
        await eventually(async () => expect(await a.seeOtherHost.get(key)).toBeUndefined());
      });

      it('tells peers: their cached answer changes and they get an event', async () => {
        const a = await node();
        const b = await node();
        const events = collect(b);
        const key = `${uid('soh')}.example`;
        expect(await b.seeOtherHost.get(key)).toBeUndefined(); // cached negative answer
        await a.seeOtherHost.set(key, 'one.example');
        await eventually(async () => expect((await b.seeOtherHost.get(key))?.target).toBe('one.example'));
        await a.seeOtherHost.set(key, 'two.example');
        await eventually(async () => expect((await b.seeOtherHost.get(key))?.target).toBe('two.example'));
        expect(events).toContainEqual({ type: 'see-other-host-changed', key });
      });

      it('lists entries in pages', async () => {
        const a = await node();
        const prefix = uid('list');
        const keys = ['b', 'a', 'c', 'é', 'Z'].map((k) => `${prefix}-${k}`);
        for (const k of keys) await a.seeOtherHost.set(k, 'x.example');
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await a.seeOtherHost.list({ limit: 2, ...(cursor === undefined ? {} : { cursor }) });
          seen.push(...page.entries.map((e) => e.key));
          cursor = page.cursor;
          pages += 1;
        } while (cursor !== undefined && pages < 10_000);
        const mine = seen.filter((k) => k.startsWith(prefix));
        expect(mine).toEqual([...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
        expect(new Set(seen).size).toBe(seen.length);
      });
    });

    describe('credentials', () => {
      it('stores SCRAM records and never anything else', async () => {
        const a = await node();
        const domain = `${uid('cred')}.example`;
        const record = credentialOf(1, { disabled: true });
        expect(await a.credentials.put(domain, 'juliet', record)).toBe(true);
        expect(await a.credentials.get(domain, 'juliet')).toEqual(record);
        expect(await a.credentials.get(domain, 'romeo')).toBeUndefined();
        expect(await a.credentials.get(`other-${domain}`, 'juliet')).toBeUndefined();
        await expectCode(a.credentials.put(domain, 'x', { ...credentialOf(2), password: 'secret' } as CredentialRecord), 'REGISTRY_INVALID_ARGUMENT');
        const bad = credentialOf(3);
        bad.scram['SHA-1']!.storedKey = 'not base64!';
        await expectCode(a.credentials.put(domain, 'x', bad), 'REGISTRY_INVALID_ARGUMENT');
        await expectCode(a.credentials.put(domain, 'x', { ...credentialOf(4), scram: { MD5: {} } } as unknown as CredentialRecord), 'REGISTRY_INVALID_ARGUMENT');
      });

      it('honours onlyIfAbsent and deletes', async () => {
        const a = await node();
        const domain = `${uid('cred')}.example`;
        expect(await a.credentials.put(domain, 'u', credentialOf(1), { onlyIfAbsent: true })).toBe(true);
        expect(await a.credentials.put(domain, 'u', credentialOf(2), { onlyIfAbsent: true })).toBe(false);
        expect((await a.credentials.get(domain, 'u'))?.createdAt).toBe(credentialOf(1).createdAt);
        expect(await a.credentials.put(domain, 'u', credentialOf(3))).toBe(true);
        expect((await a.credentials.get(domain, 'u'))?.createdAt).toBe(credentialOf(3).createdAt);
        expect(await a.credentials.delete(domain, 'u')).toBe(true);
        expect(await a.credentials.delete(domain, 'u')).toBe(false);
        expect(await a.credentials.get(domain, 'u')).toBeUndefined();
        expect((await a.credentials.list(domain)).users).toEqual([]);
      });

      it('lists users sorted by UTF-8 bytes with stable paging', async () => {
        const a = await node();
        const domain = `${uid('cred')}.example`;
        const users = Array.from({ length: 23 }, (_, i) => `user${String(i).padStart(2, '0')}`).concat(AWKWARD, ['Zed', 'émile', 'ß']);
        for (const [i, u] of users.entries()) await a.credentials.put(domain, u, credentialOf(i));
        const expected = [...new Set(users)].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
        const seen: string[] = [];
        let cursor: string | undefined;
        let first = true;
        do {
          const page = await a.credentials.list(domain, { limit: 7, ...(cursor === undefined ? {} : { cursor }) });
          expect(page.users.length).toBeLessThanOrEqual(7);
          seen.push(...page.users);
          if (first) {
            // Changes while paging never repeat or skip the untouched users.
            await a.credentials.put(domain, '!first', credentialOf(99));
            await a.credentials.delete(domain, 'user20');
            first = false;
          }
          cursor = page.cursor;
        } while (cursor !== undefined);
        expect(seen).toEqual(expected.filter((u) => u !== 'user20'));
        expect((await a.credentials.list(domain, { limit: 1000 })).users).toContain('!first');
        for (const odd of AWKWARD) expect(await a.credentials.get(domain, odd)).toBeDefined();
        await expectCode(a.credentials.list(domain, { limit: 1001 }), 'REGISTRY_INVALID_ARGUMENT');
        await expectCode(a.credentials.list(domain, { cursor: 'not a cursor!' }), 'REGISTRY_INVALID_ARGUMENT');
      });
    });

    describe('counters', () => {
      it('counts within a window and resets', async () => {
        const a = await node();
        const key = `login-fail:ip:${uid('198.51.100.7')}`;
        expect(await a.counters.get(key)).toBe(0);
        expect(await a.counters.increment(key, 60_000)).toBe(1);
        expect(await a.counters.increment(key, 60_000)).toBe(2);
        expect(await a.counters.increment(key, 60_000, 5)).toBe(7);
        expect(await a.counters.get(key)).toBe(7);
        await a.counters.reset(key);
        expect(await a.counters.get(key)).toBe(0);
        expect(await a.counters.increment(key, 60_000)).toBe(1);
        const other = await node();
        expect(await other.counters.get(key)).toBe(1);
      });

      it('expires a fixed window after the first increment, not the last', async () => {
        const a = await node();
        const key = uid('window');
        await a.counters.increment(key, 600);
        const started = Date.now();
        await sleep(250);
        await a.counters.increment(key, 600);
        await eventually(async () => expect(await a.counters.get(key)).toBe(0));
        // A sliding window would have lasted until at least 250 + 600 ms.
        expect(Date.now() - started).toBeLessThan(30_000);
        expect(await a.counters.increment(key, 600)).toBe(1);
      });

      it('keeps awkward keys apart', async () => {
        const a = await node();
        const suffix = uid('');
        for (const [i, odd] of AWKWARD.entries()) await a.counters.increment(`${odd}${suffix}`, 60_000, i + 1);
        for (const [i, odd] of AWKWARD.entries()) expect(await a.counters.get(`${odd}${suffix}`)).toBe(i + 1);
      });
    });

    describe('events and commands', () => {
      it('delivers kick and drain to every registry, the sender included', async () => {
        const a = await node();
        const b = await node();
        const atA = collect(a);
        const atB = collect(b);
        const kick = { bareJid: 'romeo@example.com', resource: 'orchard', sessionId: 's1', gatewayId: 'gw-1', reason: 'admin' };
        await a.commands.kick(kick);
        await a.commands.drain('gw-7');
        for (const events of [atA, atB]) {
          await eventually(() => expect(events).toContainEqual({ type: 'kick', command: kick }));
          await eventually(() => expect(events).toContainEqual({ type: 'drain', gatewayId: 'gw-7' }));
        }
      });

      it('stops delivering to an unsubscribed listener, and survives a throwing one', async () => {
        const a = await node();
        const seen: RegistryEvent[] = [];
        const unsubscribe = a.events.subscribe((e) => seen.push(e));
        a.events.subscribe(() => {
          throw new Error('a faulty listener');
        });
        await a.commands.drain('gw-x');
        await eventually(() => expect(seen).toContainEqual({ type: 'drain', gatewayId: 'gw-x' }));
        unsubscribe();
        const after = collect(a);
        await a.commands.drain('gw-y');
        await eventually(() => expect(after).toContainEqual({ type: 'drain', gatewayId: 'gw-y' }));
        expect(seen).not.toContainEqual({ type: 'drain', gatewayId: 'gw-y' });
      });
    });

    describe('routing view', () => {
      it('answers from the cache for every service type', async () => {
        const { registry: a, gatewayId } = await gatewayNode();
        const domain = `${uid('route')}.example`;
        const types: ServiceType[] = ['client', 'server', 'component'];
        for (const type of types) await a.services.register({ domain, type, instanceId: `${type}-1`, gatewayId });
        for (const type of types) expect(a.routing.instances(domain, type).map((i) => i.instanceId)).toEqual([`${type}-1`]);
        // The same array while nothing changes: cheap enough for every stanza.
        expect(a.routing.instances(domain, 'client')).toBe(a.routing.instances(domain, 'client'));
        expect(a.routing.gateways().map((g) => g.id)).toContain(gatewayId);
      });
    });
  });
}
