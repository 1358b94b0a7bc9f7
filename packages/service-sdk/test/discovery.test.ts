// Finding gateways through the registry: a real MemoryRegistry (two nodes on one store, as a
// gateway and the service would be) and a real Redis registry on a redis-server of its own.
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore, createMemoryRegistry, type Registry } from '@ambrosia/registry';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { startRedis, stopAll } from '@ambrosia/testing-redis';
import { xml } from '@ambrosia/xml';
import { DomainService, type ReceivedStanza } from '../src/index.js';
import { TestGateway, clientStanza, serviceOptions, until, useTestBed } from './helpers.js';

const bed = useTestBed();
const { cleanup, gateway, startedService } = bed;

function announce(registry: Registry, gw: TestGateway) {
  return registry.gateways.announce({ id: gw.id, addresses: ['127.0.0.1'], ports: { service: gw.port, c2s: 5222 }, load: 0, state: 'active' });
}

describe('discovery through a MemoryRegistry', () => {
  it('connects to gateways as they join, leaves them as they leave, follows a move', async () => {
    const store = new MemoryStore();
    const gatewayNode = createMemoryRegistry({ store });
    const serviceNode = createMemoryRegistry({ store });
    cleanup.push(async () => {
      await gatewayNode.close();
      await serviceNode.close();
    });
    const a = await gateway('gw-a');
    const b = await gateway('gw-b');
    await announce(gatewayNode, a);
    const received: ReceivedStanza[] = [];
    const sdk = await startedService(serviceOptions(bed.pki, { registry: serviceNode, discoveryIntervalMs: 200 }), (s) => s.onStanza((stanza) => void received.push(stanza)));
    expect(sdk.gateways).toEqual(['gw-a']);

    await announce(gatewayNode, b);
    await until(() => sdk.gateways.length === 2, 'gw-b to be joined');
    expect(sdk.gateways).toEqual(['gw-a', 'gw-b']);
    await b.channel().send(clientStanza('gw-b', 's1', 1));
    expect(received.map((stanza) => stanza.gateway)).toEqual(['gw-b']);

    // The session directory tells where a user's session lives; deliver there.
    await gatewayNode.sessions.bind({ bareJid: 'romeo@example.org', resource: 'orchard', gatewayId: 'gw-b', sessionId: 'c2s-r1', priority: 0, available: true });
    const [session] = await sdk.sessions('romeo@example.org');
    expect(session).toMatchObject({ gatewayId: 'gw-b', sessionId: 'c2s-r1' });
    const stanza = xml('message', { from: 'juliet@example.org/balcony', to: 'romeo@example.org/orchard' }, xml('body', {}, 'hi'));
    expect(await sdk.sendToSession({ gateway: session!.gatewayId, session: session!.sessionId }, stanza)).toBe('accepted');
    expect(b.received.at(-1)!.message.context.session).toBe('c2s-r1');

    await gatewayNode.gateways.withdraw('gw-a');
    await until(() => sdk.gateways.length === 1, 'gw-a to be left');
    expect(sdk.gateways).toEqual(['gw-b']);
    await until(() => a.closedReasons.length === 1, 'the channel to gw-a to close');
    expect(a.closedReasons).toEqual(['normal']);

    // gw-b restarts elsewhere (a new port): the service follows the registry to the new address.
    await b.close();
    const moved = await gateway('gw-b');
    await announce(gatewayNode, moved);
    await until(() => moved.hasOpenChannel() && sdk.gateways.includes('gw-b'), 'the channel to the moved gw-b');
    await moved.channel().send(clientStanza('gw-b', 's2', 2));
    expect(received.map((stanza) => stanza.session)).toEqual(['s1', 's2']);
  });

  it('answers sessions() with [] without a registry, and needs a registry or gateways', async () => {
    expect(() => new DomainService(serviceOptions(bed.pki))).toThrow(/registry or a gateways list/);
    const gw = await gateway('gw-static');
    const sdk = await startedService(serviceOptions(bed.pki, { gateways: [{ host: '127.0.0.1', port: gw.port }] }));
    // A static gateway without an id learns it from WELCOME.
    expect(sdk.gateways).toEqual(['gw-static']);
    expect(await sdk.sessions('romeo@example.org')).toEqual([]);
  });
});

describe('discovery through a Redis registry', () => {
  it('finds a gateway announced on Redis and drops it when withdrawn', async () => {
    const redis = await startRedis();
    const url = `redis://${redis.host}:${redis.port}`;
    const gatewayNode = createRedisRegistry({ url, prefix: 'sdk-test' });
    const serviceNode = createRedisRegistry({ url, prefix: 'sdk-test' });
    cleanup.push(async () => {
      await gatewayNode.close();
      await serviceNode.close();
    });
    await gatewayNode.ready();
    const gw = await gateway('gw-redis');
    const other = await gateway('gw-redis-2');
    await announce(gatewayNode, gw);
    const received: ReceivedStanza[] = [];
    const sdk = await startedService(serviceOptions(bed.pki, { registry: serviceNode, discoveryIntervalMs: 200 }), (s) => s.onStanza((stanza) => void received.push(stanza)));
    expect(sdk.gateways).toEqual(['gw-redis']);
    await announce(gatewayNode, other);
    await until(() => sdk.gateways.length === 2, 'the second gateway');
    await other.channel().send(clientStanza('gw-redis-2', 's1', 1));
    expect(received).toHaveLength(1);
    await gatewayNode.gateways.withdraw('gw-redis');
    await until(() => sdk.gateways.length === 1, 'the withdrawn gateway to be dropped');
    expect(sdk.gateways).toEqual(['gw-redis-2']);
  });
});
