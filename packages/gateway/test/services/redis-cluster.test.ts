// Two gateways sharing a real Redis registry (testing-redis, a redis-server on a free port):
// instances connected to both are recorded with both memberships, every gateway picks the same
// instance for a user, and a channel closing on one gateway removes only that membership.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '@ambrosia/registry';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { type RedisServer, startRedis, stopAll } from '@ambrosia/testing-redis';
import { type HubFixture, type Pki, type TestService, clientStanza, connectService, makePki, startHub, until } from './helpers.js';

let pki: Pki;
let redis: RedisServer;
const registries: Registry[] = [];
const hubs: HubFixture[] = [];

beforeAll(async () => {
  pki = await makePki();
  redis = await startRedis();
});

afterAll(async () => {
  for (const hub of hubs) await hub.close();
  for (const registry of registries) await registry.close();
  await stopAll();
});

describe('the service hub on a Redis registry', () => {
  it('records memberships per gateway, routes users alike on every gateway, and removes one membership at a time', async () => {
    const prefix = `hub${Date.now()}`;
    const makeRegistry = (): Registry => {
      const registry = createRedisRegistry({ url: redis.url, prefix, heartbeatIntervalMs: 500 });
      registries.push(registry);
      return registry;
    };
    const gw1 = await startHub(pki, { gatewayId: 'gw-1' }, makeRegistry());
    hubs.push(gw1);
    const gw2 = await startHub(pki, { gatewayId: 'gw-2' }, makeRegistry());
    hubs.push(gw2);

    // Two instances, each connected to both gateways (one channel per gateway, §2.3).
    const channels: Record<string, TestService> = {};
    for (const instance of ['im-a', 'im-b']) {
      channels[`${instance}@gw-1`] = await connectService(gw1.port, { instance, credentials: pki.service });
      channels[`${instance}@gw-2`] = await connectService(gw2.port, { instance, credentials: pki.service });
    }
    const listed = await gw1.registry.services.list('example.org', 'client');
    expect(listed.map((i) => [i.instanceId, i.gateways])).toEqual([
      ['im-a', ['gw-1', 'gw-2']],
      ['im-b', ['gw-1', 'gw-2']],
    ]);
    await until(() => gw2.registry.routing.instances('example.org', 'client').length === 2, 'gw-2 to see both instances');

    const users = Array.from({ length: 40 }, (_, n) => `user${n}`);
    await Promise.all(users.flatMap((user) => [gw1.hub.route(clientStanza(user)), gw2.hub.route(clientStanza(user))]));
    const ownerOn = (gateway: string): Map<string, string> => {
      const owner = new Map<string, string>();
      for (const instance of ['im-a', 'im-b']) for (const inbound of channels[`${instance}@${gateway}`]!.stanzas) owner.set(inbound.message.context.origin, instance);
      return owner;
    };
    expect(ownerOn('gw-2')).toEqual(ownerOn('gw-1'));
    expect(new Set(ownerOn('gw-1').values()).size).toBe(2);

    await channels['im-a@gw-1']!.endpoint.close();
    await until(() => gw1.hub.stats().instances === 1, 'gw-1 to drop im-a');
    const after = await gw1.registry.services.list('example.org', 'client');
    expect(after.map((i) => [i.instanceId, i.gateways])).toEqual([
      ['im-a', ['gw-2']],
      ['im-b', ['gw-1', 'gw-2']],
    ]);
    for (const service of Object.values(channels)) await service.endpoint.close();
    await until(() => gw1.hub.stats().channels === 0 && gw2.hub.stats().channels === 0, 'every channel to end');
    await until(() => gw2.registry.routing.instances('example.org', 'client').length === 0, 'the registry to be empty', 10_000);
    expect(await gw2.registry.services.list('example.org', 'client')).toEqual([]);
  });
});
