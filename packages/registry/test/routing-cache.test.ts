// The merge rules of the local routing cache (src/routing-cache.ts), as pure functions of time.

import { describe, expect, it } from 'vitest';
import type { GatewayInfo, RegistryEvent } from '@ambrosia/registry';
import { RoutingCache, type CachedInstance } from '../src/routing-cache.js';

const gw = (id: string, expiresAt: number, extra: Partial<GatewayInfo> = {}): GatewayInfo => ({
  id,
  addresses: [],
  ports: {},
  load: 0,
  state: 'active',
  incarnation: `inc-${id}`,
  startedAt: 0,
  expiresAt,
  ...extra,
});
const inst = (instanceId: string, epoch: number, memberships: Record<string, number>, extra: Partial<CachedInstance> = {}): CachedInstance => ({
  instanceId,
  weight: 1,
  draining: false,
  epoch,
  memberships: new Map(Object.entries(memberships)),
  ...extra,
});

function cache() {
  const events: RegistryEvent[] = [];
  return { cache: new RoutingCache((e) => events.push(e)), events };
}

describe('routing cache', () => {
  it('judges a membership by its gateway lease, not by the snapshot it came from', () => {
    const { cache: c } = cache();
    c.applyGateways([gw('g1', 1000)], 0);
    c.applyServices('d', 'client', [inst('i', 1, { g1: 100 })], 0);
    expect(c.instances('d', 'client', 500).map((i) => i.instanceId)).toEqual(['i']);
    c.applyGateways([gw('g1', 2000)], 900); // the gateway renewed (and with it the membership)
    expect(c.instances('d', 'client', 1500)).toHaveLength(1);
    expect(c.instances('d', 'client', 2000)).toEqual([]);
  });

  it('ignores memberships on gateways it does not know, and reports them', () => {
    const { cache: c } = cache();
    c.applyServices('d', 'client', [inst('i', 1, { g9: 1000 })], 0);
    expect(c.instances('d', 'client', 0)).toEqual([]);
    expect(c.unknownGateways('d', 'client')).toEqual(['g9']);
    c.applyGateways([gw('g9', 1000)], 0);
    expect(c.instances('d', 'client', 0)).toHaveLength(1);
  });

  it('keeps an instance missing from a snapshot until its membership lease ends, unless removed explicitly', () => {
    const { cache: c, events } = cache();
    c.applyGateways([gw('g1', 10_000)], 0);
    c.applyServices('d', 'client', [inst('a', 1, { g1: 300 }), inst('b', 1, { g1: 300 })], 0);
    c.applyServices('d', 'client', [], 100); // the store lost them (restart), or a missed unregister
    expect(c.instances('d', 'client', 200).map((i) => i.instanceId)).toEqual(['a', 'b']);
    c.removeInstance('d', 'client', 'a', 200);
    expect(c.instances('d', 'client', 200).map((i) => i.instanceId)).toEqual(['b']);
    expect(events).toContainEqual({ type: 'service-left', domain: 'd', serviceType: 'client', instanceId: 'a', reason: 'unregistered' });
    expect(c.instances('d', 'client', 300)).toEqual([]);
    c.sweep(300);
    expect(events).toContainEqual({ type: 'service-left', domain: 'd', serviceType: 'client', instanceId: 'b', reason: 'expired' });
  });

  it('never lets a lower epoch replace weight and draining', () => {
    const { cache: c, events } = cache();
    c.applyGateways([gw('g1', 10_000), gw('g2', 10_000)], 0);
    c.applyServices('d', 'server', [inst('i', 5, { g1: 9000 }, { weight: 2, draining: true })], 0);
    c.applyServices('d', 'server', [inst('i', 4, { g1: 9000, g2: 9000 }, { weight: 9, draining: false })], 1);
    expect(c.instances('d', 'server', 2)[0]).toMatchObject({ epoch: 5, weight: 2, draining: true, gateways: ['g1', 'g2'] });
    c.applyServices('d', 'server', [inst('i', 6, { g1: 9000 }, { weight: 3 })], 3);
    expect(c.instances('d', 'server', 4)[0]).toMatchObject({ epoch: 6, weight: 3, draining: false });
    expect(events.filter((e) => e.type === 'service-updated')).toHaveLength(2);
  });

  it('serves the same frozen array until something changes', () => {
    const { cache: c } = cache();
    c.applyGateways([gw('g1', 1000)], 0);
    c.applyServices('d', 'component', [inst('b', 1, { g1: 1000 }), inst('a', 1, { g1: 1000 })], 0);
    const first = c.instances('d', 'component', 10);
    expect(first.map((i) => i.instanceId)).toEqual(['a', 'b']);
    expect(c.instances('d', 'component', 20)).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first[0])).toBe(true);
    c.applyServices('d', 'component', [inst('a', 1, { g1: 1000 })], 30);
    expect(c.instances('d', 'component', 30)).not.toBe(first);
  });

  it('keeps nothing for a domain nobody serves, however many are asked about', () => {
    const { cache: c } = cache();
    for (let i = 0; i < 1000; i++) expect(c.instances(`unknown-${i}.example`, 'component', 10)).toEqual([]);
    // Memory follows what is registered, not what peers ask for (the domain can come from a stanza).
    expect((c as unknown as { memos: Map<string, unknown> }).memos.size).toBe(0);
  });

  it('moves every lease end by the length of an outage', () => {
    const { cache: c } = cache();
    c.applyGateways([gw('g1', 1000)], 0);
    c.applyServices('d', 'client', [inst('i', 1, { g1: 1000 })], 0);
    c.shift(5000);
    expect(c.gateway('g1', 5500)).toBeDefined();
    expect(c.instances('d', 'client', 5500)[0]?.expiresAt).toBe(6000);
  });

  it('derives gateway joined, updated and left', () => {
    const { cache: c, events } = cache();
    c.applyGateways([gw('g1', 1000)], 0);
    c.applyGateways([gw('g1', 2000, { state: 'draining' })], 10);
    c.applyGateways([gw('g1', 2000, { state: 'draining' })], 20); // a renewal alone is no event
    c.removeGateway('g1', 30);
    expect(events.map((e) => e.type)).toEqual(['gateway-joined', 'gateway-updated', 'gateway-left']);
  });
});
