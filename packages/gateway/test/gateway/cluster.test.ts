// Two gateways sharing one real Redis (testing-redis + registry-redis) serve one domain; an echo
// service connected to both delivers by the session directory. The directory is exact through
// bind, unbind and a gateway stop.

import { createRedisRegistry } from '@ambrosia/registry-redis';
import type { Registry } from '@ambrosia/registry';
import { startRedis, type RedisServer } from '@ambrosia/testing-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/index.js';
import { DOMAIN, addTestUser, eventually, rawLogin, streamErrorPattern, testCA } from '../c2s/helpers.js';
import { startEchoService, type EchoService } from './echo-service.js';

describe('two gateways on one Redis', () => {
  let redis: RedisServer;
  const registries: Registry[] = [];
  const gateways: Gateway[] = [];
  const ports: Array<{ c2s: number; c2sTls: number; service: number }> = [];
  let echo: EchoService;
  let ca: Awaited<ReturnType<typeof testCA>>;

  beforeAll(async () => {
    ca = await testCA();
    redis = await startRedis();
    for (const id of ['gw-redis-1', 'gw-redis-2']) {
      const registry = createRedisRegistry({ url: redis.url, heartbeatIntervalMs: 1000 });
      await registry.ready();
      registries.push(registry);
      const gateway = new Gateway({ id, registry, ports: { c2s: 0, c2sTls: 0, service: 0 }, ca: { cert: ca.certPem, key: ca.keyPem }, auth: { minResponseMs: 1 } });
      ports.push((await gateway.start()).ports);
      gateways.push(gateway);
    }
    echo = await startEchoService({
      ca,
      registry: registries[0]!,
      gateways: [{ id: 'gw-redis-1', port: ports[0]!.service }, { id: 'gw-redis-2', port: ports[1]!.service }],
      domains: [DOMAIN],
    });
    await eventually(() => gateways.every((g) => g.stats().hub!.services > 0), 5000, 'registrations');
    await addTestUser(registries[0]!, 'juliet');
    await addTestUser(registries[0]!, 'romeo');
  }, 30_000);

  afterAll(async () => {
    await echo?.close();
    for (const gateway of gateways) await gateway.stop({ timeoutMs: 2000 });
    for (const registry of registries) await registry.close();
    await redis?.stop();
  });

  it('keeps the session directory exact across bind, delivery by directory, unbind and stop', async () => {
    const [r1, r2] = registries as [Registry, Registry];
    const juliet = await rawLogin({ port: ports[0]!.c2s, ca }, 'juliet', { resource: 'balcony' });
    const romeo = await rawLogin({ port: ports[1]!.c2s, ca }, 'romeo', { resource: 'garden' });

    // Each gateway's registry sees both sessions, each on the gateway that holds it.
    for (const registry of [r1, r2]) {
      await eventually(async () => (await registry.sessions.get(`juliet@${DOMAIN}`)).length === 1 && (await registry.sessions.get(`romeo@${DOMAIN}`)).length === 1, 3000, 'both bound');
      const [j] = await registry.sessions.get(`juliet@${DOMAIN}`);
      const [r] = await registry.sessions.get(`romeo@${DOMAIN}`);
      expect(j).toMatchObject({ resource: 'balcony', gatewayId: 'gw-redis-1', sessionId: gateways[0]!.sessions!.sessionFor(juliet.jid) });
      expect(r).toMatchObject({ resource: 'garden', gatewayId: 'gw-redis-2', sessionId: gateways[1]!.sessions!.sessionFor(romeo.jid) });
    }

    // Romeo (gateway 2) writes to Juliet's bare JID; the service finds her on gateway 1.
    romeo.client.send(`<message to='juliet@${DOMAIN}' type='chat' id='r1'><body>wherefore</body></message>`);
    const got = (await juliet.client.until(/<message[^>]*>.*?<\/message>/))[0];
    expect(got).toContain(`from="${romeo.jid}"`);
    expect(got).toContain('<body>wherefore</body>');

    // Unbind on close.
    juliet.client.send('</stream:stream>');
    await juliet.client.untilClosed();
    await eventually(async () => (await r2.sessions.get(`juliet@${DOMAIN}`)).length === 0, 3000, 'juliet unbound');

    // Gateway 2 stops: its sessions leave the directory and it leaves the gateway list.
    const stopped = gateways[1]!.stop({ timeoutMs: 2000 });
    // Its client is sent to the live peer (RFC 6120 §4.9.3.19).
    expect(await romeo.client.untilClosed()).toMatch(streamErrorPattern('see-other-host', `127.0.0.1:${ports[0]!.c2s}`));
    await stopped;
    await eventually(async () => (await r1.sessions.get(`romeo@${DOMAIN}`)).length === 0, 3000, 'romeo unbound');
    expect((await r1.gateways.list()).map((g) => g.id)).toEqual(['gw-redis-1']);
  });
});
