// `ambrosia services drain|undrain|weight` against a live gateway: a real redis-server, one real
// Gateway on the Redis registry, two instances of the example.test client service (service SDK),
// raw TLS clients. The CLI writes the instance's attributes with services.setAttributes; the
// gateway's routing cache reloads them, and its dispatcher gives new routing keys (users) only
// to instances that are not draining and have a weight above 0, while a user with a stanza in
// flight stays on its instance (packages/gateway/src/services/README.md, "Routing to services").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway, hashString, pickByRendezvous } from '@ambrosia/gateway';
import { issueCertificate } from '@ambrosia/pki';
import type { Registry } from '@ambrosia/registry';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { DomainService } from '@ambrosia/service-sdk';
import { createFixture, DOMAIN, eventually, PASSWORD, type Fixture } from './support/fixture.js';
import { RawClient } from './support/raw-client.js';
import { run } from './run.js';

const INSTANCES = ['im-a', 'im-b'] as const;
type InstanceId = (typeof INSTANCES)[number];

interface Handled {
  instance: InstanceId;
  user: string;
  id: string;
}

let fixture: Fixture;
let gatewayRegistry: Registry;
let gateway: Gateway;
let c2sTls: number;
const services: Array<{ service: DomainService; registry: Registry }> = [];
const clients: RawClient[] = [];
/** Every message stanza a handler started on, in order. */
const handled: Handled[] = [];
/** Message ids whose handler waits for `releaseHeld` (so the stanza stays unacknowledged: in flight). */
const HOLD_ID = 'hold';
let releaseHeld: () => void = () => undefined;
const held = new Promise<void>((resolve) => {
  releaseHeld = resolve;
});

async function startInstance(instance: InstanceId): Promise<DomainService> {
  const pair = await issueCertificate(fixture.ca, { role: 'service', commonName: instance, permissions: [{ domain: DOMAIN, type: 'client' }] });
  const registry = createRedisRegistry({ url: fixture.redis.url, connectionName: instance });
  await registry.ready({ timeoutMs: 10_000 });
  const service = new DomainService({
    registrations: [{ domain: DOMAIN, type: 'client' }],
    tls: { cert: pair.certPem, key: pair.keyPem, ca: fixture.ca.certPem },
    registry,
    instance,
    onError: () => undefined,
  });
  service.onStanza(async ({ element, origin }) => {
    if (element.getName() !== 'message') return;
    const id = String(element.attrs.id);
    handled.push({ instance, user: String(origin).split('@')[0]!, id });
    if (id === HOLD_ID) await held;
  });
  services.push({ service, registry });
  await service.start();
  return service;
}

beforeAll(async () => {
  fixture = await createFixture();
  gatewayRegistry = createRedisRegistry({ url: fixture.redis.url, heartbeatIntervalMs: 1000, connectionName: 'gw-drain' });
  await gatewayRegistry.ready({ timeoutMs: 10_000 });
  gateway = new Gateway({ id: 'gw-drain', registry: gatewayRegistry, ports: { c2s: 0, c2sTls: 0, service: 0 }, ca: { cert: fixture.ca.certPem, key: fixture.ca.keyPem }, auth: { minResponseMs: 1 }, lingerMs: 300 });
  ({ c2sTls } = (await gateway.start()).ports);
  for (const instance of INSTANCES) {
    const service = await startInstance(instance);
    await eventually(() => (service.gateways.includes('gw-drain') ? true : undefined), 20_000, `${instance} registered`);
  }
  await eventually(() => (gatewayRegistry.routing.instances(DOMAIN, 'client').length === 2 ? true : undefined), 10_000, 'both instances in the routing cache');
}, 120_000);

afterAll(async () => {
  releaseHeld();
  for (const client of clients) client.close();
  for (const { service, registry } of services) {
    await service.stop({ timeoutMs: 3_000 }).catch(() => undefined);
    await registry.close().catch(() => undefined);
  }
  await gateway?.stop({ timeoutMs: 2000 }).catch(() => undefined);
  await gatewayRegistry?.close().catch(() => undefined);
  await fixture?.close();
});

const admin = (...args: string[]) => run('services', '--registry', fixture.redis.url, ...args);

/** The instance rendezvous hashing gives a user when both instances take new users (weight 1). */
function homeOf(user: string): InstanceId {
  const candidates = INSTANCES.map((id) => ({ id, hash: hashString(id) }));
  return pickByRendezvous(hashString(`${user}@${DOMAIN}`), candidates, () => 1)!.id;
}

async function login(user: string): Promise<RawClient> {
  const client = await RawClient.connect({ port: c2sTls, domain: DOMAIN, ca: fixture.ca.certPem });
  clients.push(client);
  await client.login(user, PASSWORD, 'desk');
  return client;
}

function send(client: RawClient, id: string): void {
  client.sendStanza(`<message to='echo@${DOMAIN}' id='${id}'><body>${id}</body></message>`);
}

/** Where the handler of `user`'s message `id` ran (bounded wait). */
function handledBy(user: string, id: string): Promise<InstanceId> {
  return eventually(() => handled.find((h) => h.user === user && h.id === id)?.instance, 10_000, `${user}'s message ${id}`);
}

/** Waits until the gateway's routing cache shows im-a with these attributes. */
function gatewaySees(attributes: { draining?: boolean; weight?: number }): Promise<true> {
  return eventually(
    () => {
      const instance = gatewayRegistry.routing.instances(DOMAIN, 'client').find((i) => i.instanceId === 'im-a');
      const matches = instance !== undefined && Object.entries(attributes).every(([k, v]) => instance[k as 'draining' | 'weight'] === v);
      return matches ? true : undefined;
    },
    10_000,
    `the gateway to see im-a with ${JSON.stringify(attributes)}`,
  );
}

describe('ambrosia services drain|undrain|weight with a live gateway', () => {
  it('drained: new users go to the other instance, a user with a stanza in flight stays; undrain and weight 0 take effect', async () => {
    const users = await fixture.addUsers(16, 'dr');
    // Users whose home is im-a: the one draining will be taken from.
    const [inFlight, idle, newcomer, afterUndrain, afterWeight] = users.filter((u) => homeOf(u) === 'im-a');
    expect(afterWeight, 'five of sixteen users hashed to im-a').toBeDefined();

    // Before: both existing users are served by their home, im-a.
    const x = await login(inFlight!);
    const y = await login(idle!);
    send(x, 'before');
    send(y, 'before');
    expect(await handledBy(inFlight!, 'before')).toBe('im-a');
    expect(await handledBy(idle!, 'before')).toBe('im-a');
    // x's next stanza stays unacknowledged at im-a: x has a stanza in flight there.
    send(x, HOLD_ID);
    expect(await handledBy(inFlight!, HOLD_ID)).toBe('im-a');

    const drained = await admin('drain', DOMAIN, 'client', 'im-a');
    expect(drained).toMatchObject({ code: 0, out: expect.stringMatching(/^im-a of example\.test\/client is draining \(epoch \d+\): new users go to the other instances\n$/), err: '' });
    await gatewaySees({ draining: true });

    // A new user whose home is im-a goes to im-b.
    const n = await login(newcomer!);
    send(n, 'after-drain');
    expect(await handledBy(newcomer!, 'after-drain')).toBe('im-b');
    // The user with a stanza in flight keeps its instance: its stanzas must not overtake each other.
    send(x, 'follow');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(handled.filter((h) => h.user === inFlight && h.id === 'follow' && h.instance === 'im-b')).toEqual([]);
    releaseHeld();
    expect(await handledBy(inFlight!, 'follow')).toBe('im-a');
    // A user of im-a with nothing in flight is not kept: its next stanza is routed as a new one.
    send(y, 'idle-after-drain');
    expect(await handledBy(idle!, 'idle-after-drain')).toBe('im-b');

    // Undrain: im-a takes new users again.
    expect((await admin('undrain', DOMAIN, 'client', 'im-a')).code).toBe(0);
    await gatewaySees({ draining: false });
    const u = await login(afterUndrain!);
    send(u, 'after-undrain');
    expect(await handledBy(afterUndrain!, 'after-undrain')).toBe('im-a');

    // Weight 0: like draining for new users while another instance has a weight.
    const weighted = await admin('weight', DOMAIN, 'client', 'im-a', '0');
    expect(weighted).toMatchObject({ code: 0, out: expect.stringMatching(/^im-a of example\.test\/client has weight 0 \(epoch \d+\)\n$/), err: '' });
    await gatewaySees({ weight: 0, draining: false });
    const w = await login(afterWeight!);
    send(w, 'after-weight');
    expect(await handledBy(afterWeight!, 'after-weight')).toBe('im-b');

    // The gateway renewed im-a's membership meanwhile (heartbeat every second): the change stays.
    await gatewayRegistry.heartbeat();
    const listed = JSON.parse((await run('--json', 'services', '--registry', fixture.redis.url, 'list', DOMAIN)).out) as { services: Array<Record<string, unknown>> };
    expect(listed.services.map((s) => [s.instance, s.weight, s.draining, s.gateways])).toEqual([
      ['im-a', 0, false, ['gw-drain']],
      ['im-b', 1, false, ['gw-drain']],
    ]);
  });
});
