// Issue #6: two gateways sharing one real Redis serve one domain. A client on each reaches the
// other through the IM service (connected to both gateways, found through the registry): the
// subscription, presence and messages cross from one gateway to the other, both ways, with no
// gateway-to-gateway traffic (the service finds each session in the registry's directory).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message, presence, rosterGet } from '@ambrosia/im-service/testing';
import type { CertificateAuthority } from '@ambrosia/pki';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import type { Element } from '@ambrosia/xml';
import { DOMAIN, PASSWORD, addUsers, clusterCA, eventually, instancesRegistered, startGateway, startImInProcess, type RunningGateway, type RunningIm } from '../../support/cluster.js';
import { XmppClient } from '../../support/xmpp-client.js';

let redis: RedisServer;
let ca: CertificateAuthority;
const gateways: RunningGateway[] = [];
let im: RunningIm;
const clients: XmppClient[] = [];

beforeAll(async () => {
  ca = await clusterCA();
  redis = await startRedis();
  gateways.push(await startGateway({ id: 'gw-east', redisUrl: redis.url, ca }));
  gateways.push(await startGateway({ id: 'gw-west', redisUrl: redis.url, ca }));
  im = await startImInProcess({ redisUrl: redis.url, ca, instance: 'im-shared' });
  await instancesRegistered(gateways, 1);
  await addUsers(gateways[0]!.registry, ['alice', 'bob']);
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await im?.stop();
  for (const gateway of gateways) await gateway.stop();
  await stopAll();
});

const bare = (user: string) => `${user}@${DOMAIN}`;
const isPresence = (from: string, type?: string) => (el: Element) => el.name === 'presence' && el.attrs.from === from && el.attrs.type === type;

describe('two gateways on one Redis serving one domain', () => {
  it('a client on each gateway subscribes, sees presence and chats with the other, both ways', async () => {
    const [east, west] = gateways as [RunningGateway, RunningGateway];
    const login = async (user: string, gateway: RunningGateway) => {
      const client = await XmppClient.login({ port: gateway.ports.c2s, ca: ca.certPem, domain: DOMAIN, user, password: PASSWORD, resource: gateway.id, mechanism: 'PLAIN' });
      clients.push(client);
      await client.iq(rosterGet());
      client.send(presence());
      return client;
    };
    const alice = await login('alice', east);
    const bob = await login('bob', west);

    // The directory, read from either gateway's registry node, has each session where it is.
    for (const { registry } of gateways) {
      await eventually(async () => (await registry.sessions.get(bare('alice')))[0]?.gatewayId === 'gw-east' && (await registry.sessions.get(bare('bob')))[0]?.gatewayId === 'gw-west', 5_000, 'directory');
    }

    // Subscription both ways, each step crossing gateways.
    alice.send(presence({ to: bare('bob'), type: 'subscribe' }));
    await bob.take(isPresence(bare('alice'), 'subscribe'), 5_000, 'subscribe east→west');
    bob.send(presence({ to: bare('alice'), type: 'subscribed' }));
    await alice.waitFor(isPresence(`${bare('bob')}/gw-west`), 5_000, 'bob available at alice');
    bob.send(presence({ to: bare('alice'), type: 'subscribe' }));
    await alice.take(isPresence(bare('bob'), 'subscribe'), 5_000, 'subscribe west→east');
    alice.send(presence({ to: bare('bob'), type: 'subscribed' }));
    await bob.waitFor(isPresence(`${bare('alice')}/gw-east`), 5_000, 'alice available at bob');

    // Messages both ways, to the bare JID (the service picks the session) and to the full JID.
    alice.send(message(bare('bob'), 'east to west'));
    alice.send(message(`${bare('bob')}/gw-west`, 'east to west, full'));
    bob.send(message(bare('alice'), 'west to east'));
    const fromAlice = (text: string) => (el: Element) => el.name === 'message' && el.attrs.from === `${bare('alice')}/gw-east` && el.getChildText('body') === text;
    const fromBob = (text: string) => (el: Element) => el.name === 'message' && el.attrs.from === `${bare('bob')}/gw-west` && el.getChildText('body') === text;
    await bob.waitFor(fromAlice('east to west'), 5_000, 'bare');
    await bob.waitFor(fromAlice('east to west, full'), 5_000, 'full');
    await alice.waitFor(fromBob('west to east'), 5_000, 'back');

    // Presence updates cross too, and a logout is seen on the other gateway.
    bob.send(presence({ show: 'away' }));
    await alice.waitFor((el) => isPresence(`${bare('bob')}/gw-west`)(el) && el.getChildText('show') === 'away', 5_000, 'away');
    await bob.close();
    await alice.waitFor(isPresence(`${bare('bob')}/gw-west`, 'unavailable'), 5_000, 'unavailable');

    // Each gateway carried its own client's traffic to the one service instance.
    for (const { gateway } of gateways) expect(gateway.stats().hub!.stanzasIn).toBeGreaterThan(0);
    expect(im.errors).toEqual([]);
  });
});
