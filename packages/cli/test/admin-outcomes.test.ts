// Kick and drain are pub/sub commands, at most once: the CLI checks their outcome in the registry.
// Here nobody obeys them (a registry node announces gateways and binds sessions, but no Gateway
// listens), so the commands must say so with exit code 1 rather than report success. Also: the
// service list shows what the registry holds for weight, draining and epoch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Registry } from '@ambrosia/registry';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { run } from './run.js';

let redis: RedisServer;
let registry: Registry;

beforeAll(async () => {
  redis = await startRedis();
  registry = createRedisRegistry({ url: redis.url, heartbeatIntervalMs: 1000, connectionName: 'ghost-node' });
  await registry.ready({ timeoutMs: 10_000 });
  for (const id of ['ghost-1', 'ghost-2']) {
    await registry.gateways.announce({ id, addresses: ['192.0.2.1'], ports: { c2s: 5222 }, load: 7, state: 'active' });
  }
});

afterAll(async () => {
  await registry?.close().catch(() => undefined);
  await stopAll();
});

const admin = (group: string, ...args: string[]) => run(group, '--registry', redis.url, ...args);
const adminJson = (group: string, ...args: string[]) => run('--json', group, '--registry', redis.url, ...args);

describe('ambrosia admin commands when nobody obeys', () => {
  it('reports a kick whose sessions stay bound, and a kick not checked with --wait 0', async () => {
    await registry.sessions.bind({ bareJid: 'nina@example.test', resource: 'phone', gatewayId: 'ghost-1', sessionId: 's-1', priority: 5, available: true });
    const listed = JSON.parse((await adminJson('sessions', 'list', 'nina@example.test')).out) as { sessions: Array<Record<string, unknown>> };
    expect(listed.sessions).toEqual([
      { jid: 'nina@example.test/phone', resource: 'phone', gateway: 'ghost-1', session: 's-1', priority: 5, available: true, boundAt: expect.any(String) },
    ]);

    const kick = await admin('sessions', 'kick', 'nina@example.test', '--wait', '500ms');
    expect(kick).toMatchObject({
      code: 1,
      out: '',
      err: 'ambrosia: kick sent, but 1 of 1 session of nina@example.test still bound after 500ms (on ghost-1: is it running and connected to the registry?)\n',
    });
    const unchecked = await adminJson('sessions', 'kick', 'nina@example.test/phone', '--wait', '0');
    expect(unchecked.code).toBe(0);
    expect(JSON.parse(unchecked.out)).toMatchObject({ jid: 'nina@example.test/phone', confirmed: false, kicked: [{ session: 's-1' }] });
    expect((await admin('sessions', 'kick', 'nina@example.test/laptop')).err).toBe('ambrosia: no session of nina@example.test/laptop is bound\n');
  });

  it('reports a drain the gateway does not act on', async () => {
    const drain = await admin('gateways', 'drain', 'ghost-1', '--wait', '500ms');
    expect(drain).toMatchObject({ code: 1, out: '', err: 'ambrosia: drain sent, but gateway "ghost-1" still announces active after 500ms (is it connected to the registry?)\n' });
    const listed = await admin('gateways', 'list');
    expect(listed.out).toMatch(/\nghost-1\s+active\s+7\s+192\.0\.2\.1\s+c2s=5222\s+/);
  });

  it('says when a drained gateway has no active peer: its clients get system-shutdown', async () => {
    await registry.gateways.announce({ id: 'ghost-2', addresses: ['192.0.2.1'], ports: { c2s: 5222 }, load: 0, state: 'draining' });
    // The announcing node plays the gateway obeying: it announces draining when the command comes.
    const obey = registry.events.subscribe((event) => {
      if (event.type === 'drain' && event.gatewayId === 'ghost-1') {
        void registry.gateways.announce({ id: 'ghost-1', addresses: ['192.0.2.1'], ports: { c2s: 5222 }, load: 7, state: 'draining' });
      }
    });
    try {
      const drain = await admin('gateways', 'drain', 'ghost-1');
      expect(drain).toMatchObject({ code: 0, out: 'ghost-1 is draining; no active peer: its clients get system-shutdown\n', err: '' });
    } finally {
      obey();
    }
  });

  it('shows weight, draining flag, epoch and every gateway of an instance', async () => {
    await registry.services.register({ domain: 'example.test', type: 'component', instanceId: 'muc-1', gatewayId: 'ghost-1', weight: 2.5, draining: true, epoch: 41 });
    await registry.services.register({ domain: 'example.test', type: 'component', instanceId: 'muc-1', gatewayId: 'ghost-2', weight: 2.5, draining: true, epoch: 41 });
    const listed = JSON.parse((await adminJson('services', 'list', 'example.test')).out) as { services: unknown[] };
    expect(listed.services).toEqual([
      { domain: 'example.test', type: 'component', instance: 'muc-1', gateways: ['ghost-1', 'ghost-2'], weight: 2.5, draining: true, epoch: 41, leaseExpiresAt: expect.any(String) },
    ]);
    expect((await admin('services', 'list')).out).toMatch(/\nexample\.test\/component\s+muc-1\s+ghost-1,ghost-2\s+2\.5\s+yes\s+41\s+expires in \d+m?s\n$/);
  });

  it('undrains and reweights an instance of another node, which keeps the change when it renews', async () => {
    await registry.services.register({ domain: 'example.test', type: 'component', instanceId: 'muc-2', gatewayId: 'ghost-1', weight: 2, draining: true, epoch: 50 });
    const undrained = await adminJson('services', 'undrain', 'EXAMPLE.test', 'component', 'muc-2');
    expect(undrained).toMatchObject({ code: 0, err: '' });
    const row = JSON.parse(undrained.out) as { epoch: number };
    expect(row).toEqual({ domain: 'example.test', type: 'component', instance: 'muc-2', gateways: ['ghost-1'], weight: 2, draining: false, epoch: expect.any(Number), leaseExpiresAt: expect.any(String) });
    expect(row.epoch).toBeGreaterThan(50);
    const weighted = await admin('services', 'weight', 'example.test', 'component', 'muc-2', '0.25');
    expect(weighted).toMatchObject({ code: 0, out: `muc-2 of example.test/component has weight 0.25 (epoch ${row.epoch + 1})\n`, err: '' });
    // The node that owns the membership renews it with its older epoch: the store keeps the newer one.
    await registry.heartbeat();
    await registry.heartbeat();
    const [listed] = (await registry.services.list('example.test', 'component')).filter((s) => s.instanceId === 'muc-2');
    expect(listed).toMatchObject({ weight: 0.25, draining: false, epoch: row.epoch + 1 });
    const drained = await admin('services', 'drain', 'example.test', 'component', 'muc-2');
    expect(drained).toMatchObject({ code: 0, out: `muc-2 of example.test/component is draining (epoch ${row.epoch + 2}): new users go to the other instances\n`, err: '' });
  });

  it('refuses an instance that is not live, a type that does not exist and a weight out of range', async () => {
    expect(await admin('services', 'drain', 'example.test', 'component', 'muc-zz')).toMatchObject({
      code: 1,
      out: '',
      err: 'ambrosia: no live instance "muc-zz" of example.test/component (live: muc-1, muc-2)\n',
    });
    expect(await admin('services', 'undrain', 'nowhere.example', 'client', 'im-1')).toMatchObject({ code: 1, err: 'ambrosia: no live instance "im-1" of nowhere.example/client\n' });
    expect(await admin('services', 'drain', 'example.test', 'chat', 'muc-1')).toMatchObject({ code: 2, err: 'ambrosia: "chat" is not a service type: one of client, server, component\n' });
    for (const bad of ['-1', 'heavy', '1e3', '1000001', '']) {
      expect(await admin('services', 'weight', 'example.test', 'component', 'muc-1', bad)).toMatchObject({ code: 2, out: '' });
    }
    expect((await admin('services', 'drain', 'a@b', 'client', 'muc-1')).code).toBe(2);
  });
});
