// Issue #7: two IM service instances, each in its own process (the built dist of
// @ambrosia/im-service) and each connected to both gateways, serve one domain on one real Redis.
// Users on different gateways subscribe, see presence and chat; then the instance handling one
// of them is SIGKILLed while both send a numbered sequence. The gateways hand what the dead
// instance had not acknowledged to the live one (service-protocol §10.5): nothing is lost and
// each sender's order is kept at the receiver. A duplicate is possible for a message the dead
// instance delivered but had not acknowledged (at-least-once); it is counted and printed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashString, pickByRendezvous } from '@ambrosia/gateway';
import { message, presence, rosterGet } from '@ambrosia/im-service/testing';
import type { CertificateAuthority } from '@ambrosia/pki';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { xml, type Element } from '@ambrosia/xml';
import {
  DOMAIN, PASSWORD, TEST_RESUME_TIMEOUT_MS, addUsers, clusterCA, eventually, instancesRegistered, startGateway, startServiceProcess, writeServiceMaterial,
  type RunningGateway,
} from '../../support/cluster.js';
import { killAll } from '../../support/processes.js';
import { XmppClient } from '../../support/xmpp-client.js';

const INSTANCES = ['im-a', 'im-b'] as const;
const COUNT = 150;

let redis: RedisServer;
let ca: CertificateAuthority;
const gateways: RunningGateway[] = [];
const processes = new Map<string, Awaited<ReturnType<typeof startServiceProcess>>>();
const cleanups: Array<() => Promise<void>> = [];
const clients: XmppClient[] = [];

beforeAll(async () => {
  ca = await clusterCA();
  redis = await startRedis();
  gateways.push(await startGateway({ id: 'gw-1', redisUrl: redis.url, ca }));
  gateways.push(await startGateway({ id: 'gw-2', redisUrl: redis.url, ca }));
  const material = await writeServiceMaterial(ca, 'im', [DOMAIN]);
  cleanups.push(material.remove);
  for (const instance of INSTANCES) {
    processes.set(instance, await startServiceProcess('im-process.mjs', {
      REDIS_URL: redis.url, DOMAIN, INSTANCE: instance, CA_FILE: material.caFile, CERT_FILE: material.certFile, KEY_FILE: material.keyFile,
    }));
  }
  await instancesRegistered(gateways, INSTANCES.length);
  await addUsers(gateways[0]!.registry, ['alice', 'carol']);
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.destroy();
  killAll();
  for (const gateway of gateways) await gateway.stop();
  for (const cleanup of cleanups) await cleanup();
  await stopAll();
});

const bare = (user: string) => `${user}@${DOMAIN}`;
const isPresence = (from: string, type?: string) => (el: Element) => el.name === 'presence' && el.attrs.from === from && el.attrs.type === type;

/** The instance every gateway picks for a user (weighted rendezvous hashing, equal weights). */
function instanceFor(bareJid: string, instances: readonly string[]): string {
  return pickByRendezvous(hashString(bareJid), instances.map((id) => ({ id, hash: hashString(id) })), () => 1)!.id;
}

/** Bodies `prefix-n` received from `from`, in arrival order. */
function sequence(client: XmppClient, from: string, prefix: string): number[] {
  return client.received
    .filter((el) => el.name === 'message' && el.attrs.from === from && el.getChildText('body')?.startsWith(`${prefix}-`))
    .map((el) => Number(el.getChildText('body')!.slice(prefix.length + 1)));
}

/** Arrival order with repeats of an already-seen number removed, and how many repeats there were. */
function firstOccurrences(numbers: readonly number[]): { order: number[]; duplicates: number } {
  const seen = new Set<number>();
  const order: number[] = [];
  for (const n of numbers) if (!seen.has(n)) (seen.add(n), order.push(n));
  return { order, duplicates: numbers.length - order.length };
}

describe('two IM instances in their own processes behind two gateways', () => {
  it('users on different gateways chat and see presence; an instance SIGKILLed mid-conversation loses nothing and keeps order', async () => {
    const [gw1, gw2] = gateways as [RunningGateway, RunningGateway];
    const login = async (user: string, gateway: RunningGateway) => {
      const client = await XmppClient.login({ port: gateway.ports.c2s, ca: ca.certPem, domain: DOMAIN, user, password: PASSWORD, resource: 'desk', sm: { autoAck: true } });
      clients.push(client);
      await client.iq(rosterGet());
      client.send(presence());
      return client;
    };
    const alice = await login('alice', gw1);
    const carol = await login('carol', gw2);

    // Subscribe both ways and see each other's presence, across gateways and instances.
    alice.send(presence({ to: bare('carol'), type: 'subscribe' }));
    await carol.take(isPresence(bare('alice'), 'subscribe'), 5_000, 'subscribe');
    carol.send(presence({ to: bare('alice'), type: 'subscribed' }));
    carol.send(presence({ to: bare('alice'), type: 'subscribe' }));
    await alice.take(isPresence(bare('carol'), 'subscribe'), 5_000, 'subscribe back');
    alice.send(presence({ to: bare('carol'), type: 'subscribed' }));
    await alice.waitFor(isPresence(`${bare('carol')}/desk`), 5_000, 'carol available');
    await carol.waitFor(isPresence(`${bare('alice')}/desk`), 5_000, 'alice available');
    alice.send(message(bare('carol'), 'hello'));
    await carol.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'hello', 5_000, 'hello');

    // Both send a numbered sequence; the instance handling Alice dies a third of the way in.
    // Carol is on the other instance (rendezvous hashing of the bare JIDs), so her messages keep
    // flowing through the survivor while Alice's move to it.
    const victim = instanceFor(bare('alice'), INSTANCES);
    expect(instanceFor(bare('carol'), INSTANCES)).not.toBe(victim);
    const survivor = INSTANCES.find((i) => i !== victim)!;
    let killedAt = -1;
    const send = async (client: XmppClient, to: string, prefix: string, killAt?: number) => {
      for (let n = 1; n <= COUNT; n++) {
        client.send(message(to, `${prefix}-${n}`));
        if (n === killAt) {
          processes.get(victim)!.child.kill('SIGKILL');
          killedAt = n;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    };
    await Promise.all([send(alice, bare('carol'), 'a', COUNT / 3), send(carol, bare('alice'), 'b')]);
    expect(killedAt).toBe(COUNT / 3);

    // Every number arrives (the dead instance's unacked stanzas move after TEST_RESUME_TIMEOUT_MS).
    const bound = 20_000 + TEST_RESUME_TIMEOUT_MS;
    await carol.wait(() => new Set(sequence(carol, `${bare('alice')}/desk`, 'a')).size === COUNT, bound, "all of alice's messages");
    await alice.wait(() => new Set(sequence(alice, `${bare('carol')}/desk`, 'b')).size === COUNT, bound, "all of carol's messages");
    const expected = Array.from({ length: COUNT }, (_, i) => i + 1);
    const atCarol = firstOccurrences(sequence(carol, `${bare('alice')}/desk`, 'a'));
    const atAlice = firstOccurrences(sequence(alice, `${bare('carol')}/desk`, 'b'));
    expect(atCarol.order).toEqual(expected);
    expect(atAlice.order).toEqual(expected);
    console.log(`im-failover: alice on ${victim}, carol on ${instanceFor(bare('carol'), INSTANCES)}; killed ${victim} after message ${killedAt}; duplicates at carol ${atCarol.duplicates}, at alice ${atAlice.duplicates}`);

    // The clients' XEP-0198 view agrees: the gateways acknowledged every stanza they sent.
    for (const client of [alice, carol]) {
      client.write(xml('r', { xmlns: 'urn:xmpp:sm:3' }));
      await client.wait(() => client.serverAcked === client.outbound, 10_000, 'every stanza acked');
    }

    // The survivor alone serves the domain now, on both gateways, and the users still talk.
    await eventually(() => gateways.every((g) => g.registry.routing.instances(DOMAIN, 'client').map((i) => i.instanceId).join() === survivor), 10_000, 'dead instance gone');
    alice.send(message(bare('carol'), 'after the storm'));
    await carol.waitFor((el) => el.name === 'message' && el.getChildText('body') === 'after the storm', 5_000, 'after');
  });
});
