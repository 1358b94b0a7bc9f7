// Routing from the client edge to service instances through the hub: rendezvous choice per
// user, order, acks, session events, see-other-host, draining, no instance at all.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isStanzaError } from '@ambrosia/errors';
import { type HubFixture, type Pki, type TestService, clientStanza, connectService, makePki, parsed, startHub, until } from './helpers.js';

let pki: Pki;
let fixture: HubFixture;
const services: TestService[] = [];

beforeAll(async () => {
  pki = await makePki();
  fixture = await startHub(pki, { limits: { seeOtherHostTimeoutMs: 300 } });
});

afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.endpoint.close()));
  await until(() => fixture.hub.stats().channels === 0, 'every channel to end');
});

afterAll(async () => {
  await fixture.close();
});

async function service(instance: string, options: Partial<Parameters<typeof connectService>[1]> = {}): Promise<TestService> {
  const connected = await connectService(fixture.port, { instance, credentials: pki.service, ...options });
  services.push(connected);
  return connected;
}

/** user → instance that received its stanzas (throws if a user's stanzas were split). */
function owners(...instances: [string, TestService][]): Map<string, string> {
  const owner = new Map<string, string>();
  for (const [name, svc] of instances) {
    for (const inbound of svc.stanzas) {
      const user = inbound.message.context.origin.split('/')[0]!;
      const previous = owner.get(user);
      if (previous !== undefined && previous !== name) throw new Error(`${user} went to ${previous} and ${name}`);
      owner.set(user, name);
    }
  }
  return owner;
}

const users = Array.from({ length: 120 }, (_, n) => `user${n}`);

describe('routing to services', () => {
  it('rejects at once with service-unavailable when no instance serves the domain', async () => {
    const error = await fixture.hub.route(clientStanza('romeo')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isStanzaError(error)).toBe(true);
    expect(error).toMatchObject({ condition: 'service-unavailable' });
    expect(fixture.hub.stats().pending).toBe(0);
  });

  it('keeps each user on one instance, in order, spreads users, and resolves on the ack', async () => {
    const a = await service('im-a');
    const b = await service('im-b');
    const sent: Promise<void>[] = [];
    for (let round = 0; round < 4; round++) for (const user of users) sent.push(fixture.hub.route(clientStanza(user, { body: `${user}#${round}` })));
    await Promise.all(sent);
    expect(a.stanzas.length + b.stanzas.length).toBe(users.length * 4);
    const owner = owners(['a', a], ['b', b]);
    const onA = [...owner.values()].filter((name) => name === 'a').length;
    expect(onA).toBeGreaterThan(users.length * 0.3);
    expect(onA).toBeLessThan(users.length * 0.7);
    for (const svc of [a, b]) {
      const rounds = new Map<string, number>();
      for (const inbound of svc.stanzas) {
        const { context } = inbound.message;
        expect(context).toMatchObject({ direction: 'to-service', via: 'c2s', gateway: 'gw-1', redelivered: false });
        expect(context.key).toMatch(/^gw-1:/);
        const [user, round] = parsed(inbound).getChildText('body')!.split('#');
        expect(Number(round)).toBe((rounds.get(user!) ?? -1) + 1);
        rounds.set(user!, Number(round));
      }
    }
    const keys = [...a.stanzas, ...b.stanzas].map((inbound) => inbound.message.context.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('moves only the users of an instance that leaves', async () => {
    const a = await service('im-a');
    const b = await service('im-b');
    const c = await service('im-c');
    await Promise.all(users.map((user) => fixture.hub.route(clientStanza(user))));
    const before = owners(['a', a], ['b', b], ['c', c]);
    expect(new Set(before.values())).toEqual(new Set(['a', 'b', 'c']));
    await b.endpoint.close();
    await until(() => fixture.hub.stats().instances === 2, 'the hub to drop im-b');
    for (const svc of [a, c]) svc.stanzas.length = 0;
    await Promise.all(users.map((user) => fixture.hub.route(clientStanza(user))));
    const after = owners(['a', a], ['c', c]);
    for (const user of users) {
      const was = before.get(`${user}@example.org`);
      if (was !== 'b') expect(after.get(`${user}@example.org`)).toBe(was);
    }
  });

  it('sends a session event in the session lane, to the instance of the user, ordered with its stanzas', async () => {
    const a = await service('im-a');
    const b = await service('im-b');
    const session = 'c2s-juliet-1';
    const first = fixture.hub.route(clientStanza('juliet', { session, body: 'one' }));
    const event = fixture.hub.sessionEvent('example.org', 'juliet@example.org', { event: 'client-state', session, jid: 'juliet@example.org/res', state: 'inactive' });
    const second = fixture.hub.route(clientStanza('juliet', { session, body: 'two' }));
    await Promise.all([first, event, second]);
    const target = a.stanzas.length > 0 ? a : b;
    expect(target.stanzas.map((inbound) => parsed(inbound).getChildText('body'))).toEqual(['one', 'two']);
    expect(target.events.map((inbound) => inbound.message)).toEqual([{ kind: 'session-event', event: 'client-state', gateway: 'gw-1', session, jid: 'juliet@example.org/res', state: 'inactive' }]);
    // Lane order: the event's id lies between the two stanzas' ids.
    expect(target.events[0]!.id).toBeGreaterThan(target.stanzas[0]!.id);
    expect(target.events[0]!.id).toBeLessThan(target.stanzas[1]!.id);
  });

  it('never rejects a session event, even with no instance', async () => {
    await expect(fixture.hub.sessionEvent('example.org', 'x@example.org', { event: 'bound', session: 's', jid: 'x@example.org/r' })).resolves.toBeUndefined();
  });

  it('resolves route() only when the service acknowledges (manual ack)', async () => {
    const a = await service('im-manual', { ackMode: 'manual' });
    let settled = false;
    const routed = fixture.hub.route(clientStanza('mercutio')).then(() => (settled = true));
    await until(() => a.stanzas.length === 1, 'the stanza to arrive');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(settled).toBe(false);
    a.stanzas[0]!.ack();
    await routed;
    expect(settled).toBe(true);
  });

  it('asks the chosen client instance for see-other-host, bounded', async () => {
    expect(await fixture.hub.seeOtherHost('example.org', 'juliet@example.org')).toBeUndefined();
    const a = await service('im-soh');
    const asked: unknown[] = [];
    a.endpoint.on('message', (inbound) => {
      if (inbound.message.kind !== 'see-other-host-query') return;
      asked.push(inbound.message);
      if (inbound.message.user === 'juliet') inbound.reply({ host: 'eu.example.net:5222' });
      else if (inbound.message.user === 'romeo') inbound.reply({ host: null });
      // anyone else: never answered
    });
    expect(await fixture.hub.seeOtherHost('example.org', 'juliet@example.org')).toBe('eu.example.net:5222');
    expect(await fixture.hub.seeOtherHost('example.org', 'romeo')).toBeUndefined();
    expect(await fixture.hub.seeOtherHost('example.org', 'nurse')).toBeUndefined();
    expect(asked).toEqual([
      { kind: 'see-other-host-query', domain: 'example.org', user: 'juliet' },
      { kind: 'see-other-host-query', domain: 'example.org', user: 'romeo' },
      { kind: 'see-other-host-query', domain: 'example.org', user: 'nurse' },
    ]);
  });

  it('gives new users to instances that are not draining', async () => {
    const a = await service('im-a');
    const b = await service('im-b');
    await fixture.registry.services.register({ domain: 'example.org', type: 'client', instanceId: 'im-a', gatewayId: 'gw-1', draining: true });
    await Promise.all(users.map((user) => fixture.hub.route(clientStanza(user))));
    expect(a.stanzas).toHaveLength(0);
    expect(b.stanzas).toHaveLength(users.length);
    await fixture.registry.services.register({ domain: 'example.org', type: 'client', instanceId: 'im-a', gatewayId: 'gw-1', draining: false });
  });

  it('takes the weights from the registry', async () => {
    const a = await service('im-a');
    const b = await service('im-b');
    await fixture.registry.services.register({ domain: 'example.org', type: 'client', instanceId: 'im-a', gatewayId: 'gw-1', weight: 4 });
    await Promise.all(users.map((user) => fixture.hub.route(clientStanza(user))));
    expect(a.stanzas.length).toBeGreaterThan(b.stanzas.length * 2);
    await fixture.registry.services.register({ domain: 'example.org', type: 'client', instanceId: 'im-a', gatewayId: 'gw-1', weight: 1 });
  });
});
