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
});
