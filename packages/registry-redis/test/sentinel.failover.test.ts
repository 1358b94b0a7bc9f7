// A Sentinel failover under running registries, one that loses acknowledged writes: the
// registries follow the new primary, re-assert what they own, and the fencing tokens (service
// epochs, session sequences, resumption epochs) keep the stale records from winning.

import { randomUUID } from 'node:crypto';
import { isRegistryError, type Registry } from '@ambrosia/registry';
import { eventually as eventuallyWithin } from '@ambrosia/registry/compliance';
import { createRedisRegistry, keyLayout } from '@ambrosia/registry-redis';
import { startSentinelGroup, stopAll } from '@ambrosia/testing-redis';
import { Redis } from 'ioredis';
import { afterAll, afterEach, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** The shared poll, with the longer deadline real outages need. */
const eventually = (check: () => unknown, timeoutMs = 20_000) => eventuallyWithin(check, timeoutMs);

const closers: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});
afterAll(() => stopAll());

const PREFIX = 'failover';

it('follows the new primary and lets no stale record win after lost writes', async () => {
  const group = await startSentinelGroup();
  const node = (heartbeatIntervalMs: number): Registry => {
    const registry = createRedisRegistry({
      url: group.url,
      prefix: PREFIX,
      heartbeatIntervalMs,
      commandTimeoutMs: 1000,
      reconnectBackoff: { baseMs: 20, maxMs: 250 },
    });
    closers.push(() => registry.close());
    return registry;
  };
  const admin = (port: number): Redis => {
    const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    closers.push(() => client.disconnect());
    return client;
  };

  // Heartbeats only when told to (and on reconnection): nothing may notice the rollback early.
  const a = node(0);
  const b = node(0);
  const observer = node(0);
  await Promise.all([a.ready(), b.ready(), observer.ready()]);
  const ga = `gw-a-${randomUUID().slice(0, 6)}`;
  const gb = `gw-b-${randomUUID().slice(0, 6)}`;
  await a.gateways.announce({ id: ga, addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
  await b.gateways.announce({ id: gb, addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
  const domain = 'fenced.example';
  const bareJid = 'romeo@fenced.example';
  const smId = `sm-${randomUUID()}`;
  const keys = keyLayout(PREFIX);

  // The state that survives the failover...
  const first = await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId: ga, weight: 1 });
  await a.resumptions.put({ id: smId, fullJid: `${bareJid}/orchard`, gatewayId: ga, sessionId: 'sa', inbound: 1, outbound: 1 }, 120_000);
  await a.sessions.bind({ bareJid, resource: 'orchard', gatewayId: ga, sessionId: 'sa', priority: 0, available: true });
  const oldPrimary = admin(group.primary.port);
  const snapshot = new Map<string, Buffer>();
  for (const key of [keys.service(domain, 'client'), keys.resumption(smId), keys.sessions(bareJid)]) {
    const dumped = await oldPrimary.dumpBuffer(key);
    expect(dumped).not.toBeNull();
    snapshot.set(key, dumped as Buffer);
  }

  // ...and the acknowledged writes it will lose.
  const second = await a.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId: ga, weight: 1, draining: true });
  expect(second.instance.epoch).toBeGreaterThan(first.instance.epoch);
  const stale = await b.services.register({ domain, type: 'client', instanceId: 'im-1', gatewayId: gb, epoch: first.instance.epoch });
  expect(stale.accepted).toBe(false); // a gateway relaying an old registration never wins
  expect(await b.resumptions.claim(smId, gb, 'sb')).toMatchObject({ gatewayId: ga, epoch: 1 });
  expect((await b.sessions.bind({ bareJid, resource: 'orchard', gatewayId: gb, sessionId: 'sb', priority: 1, available: true })).previous).toMatchObject({
    sessionId: 'sa',
  });
  await eventually(() => expect(observer.routing.instances(domain, 'client')[0]).toMatchObject({ draining: true, epoch: second.instance.epoch }));

  // The loss: the primary goes back to the earlier state (as a replica that missed those writes
  // would have it), and then that state is what the failover promotes.
  for (const [key, dumped] of snapshot) await oldPrimary.restore(key, 0, dumped, 'REPLACE');
  await oldPrimary.call('WAIT', '1', '2000');

  // Writes during the failover fail cleanly (a RegistryError with a retryable code), never hang.
  let writing = true;
  const failures: unknown[] = [];
  let successesAfter = 0;
  const writer = (async () => {
    for (let i = 0; writing; i++) {
      try {
        await a.counters.increment(`during-${i}`, 60_000);
        successesAfter += 1;
      } catch (e) {
        failures.push(e);
      }
      await sleep(20);
    }
  })();
  const { newPrimaryPort } = await group.failover();
  expect(newPrimaryPort).not.toBe(oldPrimary.options.port);
  await eventually(() => expect([a, b, observer].map((r) => r.health().status)).toEqual(['ok', 'ok', 'ok']));
  successesAfter = 0;
  await eventually(() => expect(successesAfter).toBeGreaterThan(3));
  writing = false;
  await writer;
  for (const e of failures) {
    expect(isRegistryError(e) && (e.code === 'REGISTRY_UNAVAILABLE' || e.code === 'REGISTRY_READONLY'), String(e)).toBe(true);
  }

  // The stale owner re-asserts first, then the newer one: the higher token wins either way.
  await a.heartbeat();
  await b.heartbeat();
  await a.heartbeat();

  const fresh = node(0);
  await fresh.ready();
  expect(await fresh.services.list(domain, 'client')).toMatchObject([{ instanceId: 'im-1', draining: true, epoch: second.instance.epoch, gateways: [ga, gb].sort() }]);
  expect(await fresh.resumptions.get(smId)).toMatchObject({ gatewayId: gb, sessionId: 'sb', epoch: 2 });
  expect(await fresh.sessions.get(bareJid)).toMatchObject([{ sessionId: 'sb', gatewayId: gb, priority: 1 }]);
  // The old owner learnt it lost the record and cannot touch it.
  expect(await a.resumptions.update(smId, { inbound: 99 })).toBe(false);
  expect(await fresh.resumptions.get(smId)).toMatchObject({ inbound: 1 });
  // A cache that reloaded the rolled-back state in between never showed the older epoch as current.
  await observer.heartbeat();
  expect(observer.routing.instances(domain, 'client')[0]).toMatchObject({ draining: true, epoch: second.instance.epoch });
});
