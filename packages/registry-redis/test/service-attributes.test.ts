// services.setAttributes on Redis, looked at in the stored hash itself: the script changes only
// weight, draining, epoch and "updated", keeps every membership's lease end and the key's expiry,
// and writes nothing for an instance whose memberships all ended.
import { randomUUID } from 'node:crypto';
import { isRegistryError, type Registry } from '@ambrosia/registry';
import { createRedisRegistry, keyLayout } from '@ambrosia/registry-redis';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let redis: RedisServer;
let raw: Redis;
const registries: Registry[] = [];
const keys = keyLayout('attrs');

beforeAll(async () => {
  redis = await startRedis();
  raw = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await raw.connect();
});

afterAll(async () => {
  for (const registry of registries) await registry.close().catch(() => undefined);
  raw?.disconnect();
  await stopAll();
});

async function node(): Promise<Registry> {
  const registry = createRedisRegistry({ url: redis.url, prefix: 'attrs', heartbeatIntervalMs: 0 });
  registries.push(registry);
  await registry.ready({ timeoutMs: 10_000 });
  return registry;
}

describe('services.setAttributes on Redis', () => {
  it('changes weight, draining and epoch only: memberships and the key expiry stay as they were', async () => {
    const owner = await node();
    const admin = await node();
    const domain = `${randomUUID().slice(0, 8)}.example`;
    for (const id of ['gw-1', 'gw-2']) await owner.gateways.announce({ id, addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' }, { ttlMs: 60_000 });
    await owner.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId: 'gw-1', weight: 2 }, { ttlMs: 60_000 });
    await owner.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId: 'gw-2', weight: 2 }, { ttlMs: 30_000 });
    const key = keys.service(domain, 'client');
    const before = JSON.parse((await raw.hget(key, 'im-1'))!) as { w: number; d: boolean; e: string; u: string; g: Record<string, string> };
    const ttlBefore = await raw.pttl(key);

    const changed = await admin.services.setAttributes(domain, 'client', 'im-1', { draining: true });
    const after = JSON.parse((await raw.hget(key, 'im-1'))!) as typeof before;
    const ttlAfter = await raw.pttl(key);

    expect(after).toEqual({ w: 2, d: true, e: String(changed.epoch), u: expect.any(String), g: before.g });
    expect(Number(after.e)).toBe(Number(before.e) + 1);
    expect(Number(after.u)).toBeGreaterThanOrEqual(Number(before.u));
    // The key still expires with its latest membership (60 s), not later and not never.
    expect(ttlAfter).toBeGreaterThan(0);
    expect(ttlAfter).toBeLessThanOrEqual(ttlBefore);
    expect(ttlBefore - ttlAfter).toBeLessThan(10_000);

    await admin.services.setAttributes(domain, 'client', 'im-1', { weight: 0.125 });
    expect(JSON.parse((await raw.hget(key, 'im-1'))!)).toMatchObject({ w: 0.125, d: true, g: before.g });
  });

  it('writes nothing for an instance whose memberships have all ended', async () => {
    const admin = await node();
    const domain = `${randomUUID().slice(0, 8)}.example`;
    const key = keys.service(domain, 'client');
    // What a crashed gateway leaves behind until someone purges it: a record with ended leases.
    const stale = JSON.stringify({ w: 1, d: false, e: '4', u: '1', g: { 'gw-dead': '1' } });
    await raw.hset(key, 'im-old', stale);
    let code: string | undefined;
    try {
      await admin.services.setAttributes(domain, 'client', 'im-old', { draining: true });
    } catch (e) {
      code = isRegistryError(e) ? e.code : String(e);
    }
    expect(code).toBe('REGISTRY_NOT_FOUND');
    expect(await raw.hget(key, 'im-old')).toBe(stale);
  });
});
