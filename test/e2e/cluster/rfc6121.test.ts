// Transcript tests of RFC 6121 scenarios end to end: raw clients over STARTTLS + SCRAM-SHA-1, a
// real Gateway, the real IM service over a real mutual-TLS service channel, the IM store and the
// registry on a real redis-server. "Romeo sends / Juliet receives", each block citing the
// section it pins. Each test uses its own users, so the order of tests does not matter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presence, message, rosterGet } from '@ambrosia/im-service/testing';
import { startRedis, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { serialize, xml, type Element } from '@ambrosia/xml';
import type { CertificateAuthority } from '@ambrosia/pki';
import { DOMAIN, PASSWORD, addUsers, clusterCA, eventually, startGateway, startImInProcess, type RunningGateway, type RunningIm } from '../../support/cluster.js';
import { XmppClient, type XmppLogin } from '../../support/xmpp-client.js';

const NS_ROSTER = 'jabber:iq:roster';
const NS_CARBONS = 'urn:xmpp:carbons:2';
const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
const NS_STREAMS_ERRORS = 'urn:ietf:params:xml:ns:xmpp-streams';

let redis: RedisServer;
let ca: CertificateAuthority;
let gw: RunningGateway;
let im: RunningIm;
const clients: XmppClient[] = [];

beforeAll(async () => {
  ca = await clusterCA();
  redis = await startRedis();
  gw = await startGateway({ id: 'gw-rfc6121', redisUrl: redis.url, ca });
  im = await startImInProcess({ redisUrl: redis.url, ca, instance: 'im-rfc6121' });
  await eventually(() => gw.registry.routing.instances(DOMAIN, 'client').length === 1, 10_000, 'IM registered');
  await addUsers(gw.registry, [
    'romeo', 'juliet', 'mercutio', 'benvolio', 'nurse', 'tybalt', 'paris', 'capulet',
    'friar', 'balthasar', 'rosaline', 'escalus', 'sampson', 'gregory', 'abram', 'peter',
  ]);
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await im?.stop();
  await gw?.stop();
  await stopAll();
});

async function login(user: string, resource: string, options: Partial<XmppLogin> = {}): Promise<XmppClient> {
  const client = await XmppClient.login({ port: gw.ports.c2s, ca: ca.certPem, domain: DOMAIN, user, password: PASSWORD, resource, ...options });
  clients.push(client);
  return client;
}

const bare = (user: string) => `${user}@${DOMAIN}`;
const isPresence = (from: string, type?: string) => (el: Element) => el.name === 'presence' && el.attrs.from === from && el.attrs.type === type;
const rosterPush = (jid: string, subscription: string, ask?: string) => (el: Element) => {
  if (el.name !== 'iq' || el.attrs.type !== 'set') return false;
  const item = el.getChild('query', NS_ROSTER)?.getChild('item');
  return item?.attrs.jid === jid && item.attrs.subscription === subscription && item.attrs.ask === ask;
};
const body = (el: Element) => el.getChildText('body');
const chatFrom = (from: string, text: string) => (el: Element) => el.name === 'message' && el.attrs.from === from && body(el) === text;

/** Online: initial presence (RFC 6121 §4.2) and the roster fetched (§2.1.3), so pushes reach it. */
async function goOnline(client: XmppClient, extra: { priority?: number } = {}): Promise<void> {
  await client.iq(rosterGet());
  client.send(presence(extra));
}

/** A mutual subscription, made the way clients make it (the dance is asserted in its own test). */
async function befriend(a: XmppClient, aUser: string, b: XmppClient, bUser: string): Promise<void> {
  a.send(presence({ to: bare(bUser), type: 'subscribe' }));
  await b.take(isPresence(bare(aUser), 'subscribe'), 5_000, 'subscribe');
  b.send(presence({ to: bare(aUser), type: 'subscribed' }));
  b.send(presence({ to: bare(aUser), type: 'subscribe' }));
  await a.take(isPresence(bare(bUser), 'subscribe'), 5_000, 'subscribe back');
  a.send(presence({ to: bare(bUser), type: 'subscribed' }));
  await a.waitFor(rosterPush(bare(bUser), 'both'), 5_000, 'both on a');
  await b.waitFor(rosterPush(bare(aUser), 'both'), 5_000, 'both on b');
}

describe('RFC 6121 through a real gateway, the IM service and Redis', () => {
  it('the subscription dance (§3.1, §3.4 both ways): pushes with the right states, presence on both sides', async () => {
    const romeo = await login('romeo', 'orchard');
    const juliet = await login('juliet', 'balcony');
    await goOnline(romeo);
    await goOnline(juliet);

    // Romeo asks (§3.1.1): his roster gets juliet none + ask=subscribe (§3.1.2).
    romeo.send(presence({ to: bare('juliet'), type: 'subscribe' }));
    await romeo.waitFor(rosterPush(bare('juliet'), 'none', 'subscribe'), 5_000, 'push none/subscribe');
    // Juliet receives the request from Romeo's bare JID (§3.1.3).
    await juliet.waitFor(isPresence(bare('romeo'), 'subscribe'), 5_000, 'subscribe at juliet');

    // Juliet approves (§3.1.5): her roster gets romeo subscription=from.
    juliet.send(presence({ to: bare('romeo'), type: 'subscribed' }));
    await juliet.waitFor(rosterPush(bare('romeo'), 'from'), 5_000, 'push from');
    // Romeo gets subscribed, his roster becomes `to`, and Juliet's available presence (§3.1.6).
    await romeo.waitFor(isPresence(bare('juliet'), 'subscribed'), 5_000, 'subscribed at romeo');
    await romeo.waitFor(rosterPush(bare('juliet'), 'to'), 5_000, 'push to');
    await romeo.waitFor(isPresence(`${bare('juliet')}/balcony`, undefined), 5_000, 'juliet available at romeo');

    // The other way: Juliet asks, Romeo approves; both rosters end at `both`.
    juliet.send(presence({ to: bare('romeo'), type: 'subscribe' }));
    await juliet.waitFor(rosterPush(bare('romeo'), 'from', 'subscribe'), 5_000, 'push from/subscribe');
    await romeo.waitFor(isPresence(bare('juliet'), 'subscribe'), 5_000, 'subscribe at romeo');
    romeo.send(presence({ to: bare('juliet'), type: 'subscribed' }));
    await romeo.waitFor(rosterPush(bare('juliet'), 'both'), 5_000, 'romeo push both');
    await juliet.waitFor(rosterPush(bare('romeo'), 'both'), 5_000, 'juliet push both');
    await juliet.waitFor(isPresence(`${bare('romeo')}/orchard`, undefined), 5_000, 'romeo available at juliet');

    // The stored rosters agree (§2.1.3 roster get).
    const items = (await romeo.iq(rosterGet())).getChild('query', NS_ROSTER)!.getChildren('item');
    expect(items.map((i) => [i.attrs.jid, i.attrs.subscription, i.attrs.ask])).toEqual([[bare('juliet'), 'both', undefined]]);

    // Presence updates now flow both ways (§4.4).
    romeo.send(presence({ show: 'away', status: 'by the wall' }));
    const seen = await juliet.waitFor((el) => isPresence(`${bare('romeo')}/orchard`, undefined)(el) && el.getChildText('show') === 'away', 5_000, 'away');
    expect(seen.getChildText('status')).toBe('by the wall');
    juliet.send(presence({ show: 'dnd' }));
    await romeo.waitFor((el) => isPresence(`${bare('juliet')}/balcony`, undefined)(el) && el.getChildText('show') === 'dnd', 5_000, 'dnd');
  });

  it('presence probes at login (§4.3): a returning user receives the presence of contacts already online', async () => {
    const mercutio = await login('mercutio', 'street');
    const benvolio = await login('benvolio', 'square');
    await goOnline(mercutio);
    await goOnline(benvolio);
    await befriend(mercutio, 'mercutio', benvolio, 'benvolio');
    await benvolio.close();
    await mercutio.waitFor(isPresence(`${bare('benvolio')}/square`, 'unavailable'), 5_000, 'benvolio unavailable');
    mercutio.send(presence({ status: 'a plague' }));

    // Benvolio comes back: his initial presence makes the server probe his contacts (§4.3.1) and
    // he receives Mercutio's current presence (§4.3.2), while Mercutio sees him arrive (§4.2.2).
    const back = await login('benvolio', 'square');
    back.send(presence());
    const probed = await back.waitFor(isPresence(`${bare('mercutio')}/street`, undefined), 5_000, 'probe answer');
    expect(probed.getChildText('status')).toBe('a plague');
    await mercutio.waitFor((el) => isPresence(`${bare('benvolio')}/square`, undefined)(el), 5_000, 'benvolio back');
  });

  it('an offline message is delivered at initial presence and removed only after the XEP-0198 ack, across a drop and a resumption (XEP-0160, XEP-0198)', async () => {
    const nurse = await login('nurse', 'kitchen');
    await goOnline(nurse);
    nurse.send(message(bare('tybalt'), 'you are wanted', { id: 'offline-1' }));
    await eventually(async () => (await im.store.offline.stats(bare('tybalt'))).count === 1, 5_000, 'stored offline');

    // Tybalt logs in with stream management and does not acknowledge yet.
    const tybalt = await login('tybalt', 'sword', { sm: { resume: true, autoAck: false } });
    tybalt.send(presence());
    const delivered = await tybalt.waitFor(chatFrom(`${bare('nurse')}/kitchen`, 'you are wanted'), 5_000, 'offline message');
    expect(delivered.getChild('delay', 'urn:xmpp:delay')?.attrs.from).toBe(DOMAIN);
    // Delivered but not acknowledged: still stored (a crash of anyone now must redeliver it).
    await new Promise((r) => setTimeout(r, 500));
    expect((await im.store.offline.stats(bare('tybalt'))).count).toBe(1);

    // The connection drops before the ack: the session waits (XEP-0198 §5), the message stays stored.
    const previd = tybalt.smId!;
    tybalt.destroy();
    await new Promise((r) => setTimeout(r, 300));
    expect((await im.store.offline.stats(bare('tybalt'))).count).toBe(1);

    // Resumed with h=0: the gateway retransmits it; only the client's ack removes it.
    const resumed = await login('tybalt', 'sword', { resumeFrom: { previd, h: 0 }, sm: { autoAck: false } });
    await resumed.waitFor(chatFrom(`${bare('nurse')}/kitchen`, 'you are wanted'), 5_000, 'retransmitted after resume');
    expect((await im.store.offline.stats(bare('tybalt'))).count).toBe(1);
    resumed.ack(); // <a h='…'/> counts the message
    await eventually(async () => (await im.store.offline.stats(bare('tybalt'))).count === 0, 5_000, 'removed after ack');
  });

  it('a message to the bare JID goes to the highest-priority resource (§8.5.2.1.1)', async () => {
    const capulet = await login('capulet', 'hall');
    const paris1 = await login('paris', 'palace');
    const paris2 = await login('paris', 'church');
    await goOnline(capulet);
    await goOnline(paris1, { priority: 5 });
    await goOnline(paris2, { priority: 1 });
    await eventually(async () => (await gw.registry.sessions.get(bare('paris'))).filter((s) => s.available).length === 2, 5_000, 'both available');

    capulet.send(message(bare('paris'), 'to the highest'));
    await paris1.waitFor(chatFrom(`${bare('capulet')}/hall`, 'to the highest'), 5_000, 'palace gets it');
    await paris2.expectNone(chatFrom(`${bare('capulet')}/hall`, 'to the highest'), 300);

    // The church resource raises its priority: the next message goes there (§4.7.2.3).
    paris2.send(presence({ priority: 10 }));
    await eventually(async () => (await gw.registry.sessions.get(bare('paris'))).some((s) => s.resource === 'church' && s.priority === 10), 5_000, 'priority 10');
    capulet.send(message(bare('paris'), 'now the church'));
    await paris2.waitFor(chatFrom(`${bare('capulet')}/hall`, 'now the church'), 5_000, 'church gets it');
    await paris1.expectNone(chatFrom(`${bare('capulet')}/hall`, 'now the church'), 300);
  });

  it('carbons (XEP-0280): the second resource gets received and sent copies', async () => {
    const friar = await login('friar', 'cell');
    const balthasar1 = await login('balthasar', 'horse');
    const balthasar2 = await login('balthasar', 'tomb');
    for (const client of [friar, balthasar1, balthasar2]) await goOnline(client);
    for (const client of [balthasar1, balthasar2]) await client.iq(xml('iq', { type: 'set' }, xml('enable', { xmlns: NS_CARBONS })));

    // To one full JID: the other resource gets a <received/> copy (§6).
    friar.send(message(`${bare('balthasar')}/horse`, 'the letter'));
    await balthasar1.waitFor(chatFrom(`${bare('friar')}/cell`, 'the letter'), 5_000, 'direct');
    const received = await balthasar2.waitFor((el) => el.name === 'message' && el.getChild('received', NS_CARBONS) !== undefined, 5_000, 'received carbon');
    expect(received.attrs.from).toBe(bare('balthasar'));
    const forwarded = received.getChild('received', NS_CARBONS)!.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message')!;
    expect([forwarded.attrs.from, body(forwarded)]).toEqual([`${bare('friar')}/cell`, 'the letter']);

    // Sent from one resource: the other gets a <sent/> copy (§7).
    balthasar1.send(message(bare('friar'), 'she is dead'));
    await friar.waitFor(chatFrom(`${bare('balthasar')}/horse`, 'she is dead'), 5_000, 'reply');
    const sent = await balthasar2.waitFor((el) => el.name === 'message' && el.getChild('sent', NS_CARBONS) !== undefined, 5_000, 'sent carbon');
    expect(body(sent.getChild('sent', NS_CARBONS)!.getChild('forwarded', 'urn:xmpp:forward:0')!.getChild('message')!)).toBe('she is dead');
  });

  it('a dropped connection: the contact sees the user unavailable (§4.5.2, RFC 6120 §4.4)', async () => {
    const rosaline = await login('rosaline', 'garden');
    const escalus = await login('escalus', 'throne');
    await goOnline(rosaline);
    await goOnline(escalus);
    await befriend(rosaline, 'rosaline', escalus, 'escalus');
    await escalus.waitFor(isPresence(`${bare('rosaline')}/garden`, undefined), 5_000, 'rosaline available');

    rosaline.destroy(); // no </stream:stream>, no XEP-0198: the socket just ends
    await escalus.waitFor(isPresence(`${bare('rosaline')}/garden`, 'unavailable'), 5_000, 'rosaline unavailable');
    await eventually(async () => (await gw.registry.sessions.get(bare('rosaline'))).length === 0, 5_000, 'unbound');
  });

  it('a message to a remote domain is answered remote-server-not-found (RFC 6120 §10.4.3, no s2s yet)', async () => {
    const sampson = await login('sampson', 'street');
    await goOnline(sampson);
    sampson.send(message('montague@verona.example', 'do you bite your thumb', { id: 'remote-1' }));
    const error = await sampson.waitFor((el) => el.name === 'message' && el.attrs.id === 'remote-1', 5_000, 'error reply');
    expect(error.attrs.type).toBe('error');
    expect(error.attrs.from).toBe('montague@verona.example');
    expect(error.getChild('error')?.getChild('remote-server-not-found', NS_STANZAS), serialize(error)).toBeDefined();
  });

  it('a forged from (RFC 6120 §8.1.2.1): the bare JID is stamped with the full JID, another JID ends the stream with invalid-from', async () => {
    const gregory = await login('gregory', 'street');
    const abram = await login('abram', 'street');
    const peter = await login('peter', 'door');
    for (const client of [gregory, abram, peter]) await goOnline(client);

    // Its own bare JID as `from`: accepted, stamped with the full JID.
    abram.send(xml('message', { from: bare('abram'), to: `${bare('peter')}/door`, type: 'chat', id: 'own' }, xml('body', {}, 'honest')));
    await peter.waitFor(chatFrom(`${bare('abram')}/street`, 'honest'), 5_000, 'stamped');

    // Somebody else's JID: refused with a stream error, and nothing reaches the victim's contact.
    gregory.send(xml('message', { from: `${bare('abram')}/street`, to: `${bare('peter')}/door`, type: 'chat', id: 'forged' }, xml('body', {}, 'forged')));
    await gregory.untilClosed(5_000);
    expect(gregory.streamError?.getChild('invalid-from', NS_STREAMS_ERRORS)).toBeDefined();
    await peter.expectNone((el) => el.name === 'message' && body(el) === 'forged', 300);
  });
});
