// What happens at the edges: a store that fails, full bounds, an instance taking over another's
// users, gateways and remote servers that send nonsense, a client that never acknowledges.
import { createMemoryImStore, ImStoreError, MemoryImStoreData, type ImStore } from '@ambrosia/im-store';
import { xml } from '@ambrosia/xml';
import { describe, expect, it } from 'vitest';
import { ImService } from '../src/index.js';
import { carbons, FakeDomainService, iq, message, ping, presence, rosterGet, rosterSet } from '../src/testing.js';
import { answerTo, DOMAIN, errorCondition, makeHarness, ofKind } from './harness.js';

describe('im-service at the edges', () => {
  it('answers internal-server-error (type wait) when the store is unreachable, and reports it', async () => {
    const store = createMemoryImStore();
    const failing: ImStore = Object.create(store, {
      roster: { value: { ...store.roster, get: async () => Promise.reject(new ImStoreError('IM_STORE_UNAVAILABLE', 'down')) } },
    });
    const h = await makeHarness(failing);
    const session = await h.fake.connect(`${h.user('juliet')}/balcony`);
    const get = rosterGet();
    const answer = answerTo(await session.exchange(get), get.attrs.id);
    expect(errorCondition(answer)).toBe('internal-server-error');
    expect(answer.getChild('error')?.attrs.type).toBe('wait');
    expect(h.errors.map((e) => e.message)).toEqual([expect.stringContaining('IM_STORE_UNAVAILABLE')]);
  });

  it('refuses a message when the offline queue is full (service-unavailable)', async () => {
    const h = await makeHarness(createMemoryImStore({ maxOfflineMessages: 1 }));
    const juliet = await h.online(`${h.user('juliet')}/balcony`);
    const romeo = h.user('romeo');
    expect(ofKind(await juliet.exchange(message(romeo, 'one')), 'message', 'error')).toEqual([]);
    const refused = ofKind(await juliet.exchange(message(romeo, 'two')), 'message', 'error')[0];
    expect(errorCondition(refused)).toBe('service-unavailable');
    expect(refused?.getChild('error')?.getChildText('text')).toMatch(/offline storage full/);
  });

  it('refuses a subscription request beyond the pending bound with unsubscribed', async () => {
    const h = await makeHarness(createMemoryImStore({ maxPendingSubscriptions: 1 }));
    const romeo = h.user('romeo');
    const a = await h.online(`${h.user('a')}/x`);
    const b = await h.online(`${h.user('b')}/x`);
    await a.exchange(presence({ to: romeo, type: 'subscribe' }));
    const refused = await b.exchange(presence({ to: romeo, type: 'subscribe' }));
    expect(ofKind(refused, 'presence', 'unsubscribed').map((p) => p.attrs.from)).toEqual([romeo]);
    expect((await h.store.roster.getContact(b.bare, romeo)).item?.ask).toBe(false);
  });

  it('answers roster-full with resource-constraint', async () => {
    const h = await makeHarness(createMemoryImStore({ maxRosterItems: 1 }));
    const juliet = await h.online(`${h.user('juliet')}/balcony`);
    await juliet.exchange(rosterSet('a@example.net'));
    const second = rosterSet('b@example.net');
    expect(errorCondition(answerTo(await juliet.exchange(second), second.attrs.id))).toBe('resource-constraint');
  });

  it('is stateless: a new instance on the same store takes over the users of one that left', async () => {
    const data = new MemoryImStoreData();
    const fake = new FakeDomainService();
    const first = new ImService({ service: fake, store: createMemoryImStore({ data }), domains: DOMAIN });
    first.start();
    const juliet = await fake.connect(`juliet@${DOMAIN}/balcony`);
    await juliet.send(presence());
    await juliet.send(presence({ to: `romeo@${DOMAIN}`, type: 'subscribe' }));
    await juliet.send(message(`romeo@${DOMAIN}`, 'kept for you'));
    await juliet.send(carbons(true));
    await fake.settle();

    // The first instance is gone; the second installs its handlers on the same channel.
    const second = new ImService({ service: fake, store: createMemoryImStore({ data }), domains: DOMAIN });
    second.start();
    fake.settleHook = () => second.idle();
    const romeo = await fake.connect(`romeo@${DOMAIN}/orchard`);
    const login = await romeo.exchange(presence());
    expect(ofKind(login, 'presence', 'subscribe').map((p) => p.attrs.from)).toEqual([`juliet@${DOMAIN}`]);
    expect(ofKind(login, 'message').map((m) => m.getChildText('body'))).toEqual(['kept for you']);
    // Per-session flags survive too (carbons enabled through the first instance).
    const phone = await fake.connect(`juliet@${DOMAIN}/phone`);
    await phone.exchange(presence());
    juliet.take();
    await phone.exchange(message(`romeo@${DOMAIN}`, 'from the phone'));
    expect(juliet.take().some((m) => m.getChild('sent', 'urn:xmpp:carbons:2') !== undefined)).toBe(true);
  });

  it('starts every new session with carbons off, even on a resource a dead session used', async () => {
    const h = await makeHarness(createMemoryImStore());
    const julietJid = h.user('juliet');
    const romeoJid = h.user('romeo');
    const old = await h.online(`${julietJid}/phone`);
    await old.exchange(carbons(true));
    h.fake.vanish(old);
    const phone = await h.online(`${julietJid}/phone`);
    await h.online(`${julietJid}/balcony`);
    const romeo = await h.online(`${romeoJid}/orchard`);
    phone.take();
    await romeo.exchange(message(`${julietJid}/balcony`, 'to the balcony only'));
    expect(ofKind(phone.take(), 'message')).toEqual([]);
  });

  it('a session replaced on its resource (conflict) takes nothing from its successor when its closed event comes late', async () => {
    const h = await makeHarness(createMemoryImStore());
    const julietJid = h.user('juliet');
    const romeoJid = h.user('romeo');
    const romeo = await h.online(`${romeoJid}/orchard`);
    await romeo.exchange(presence({ to: julietJid, type: 'subscribe' }));
    const old = await h.online(`${julietJid}/balcony`);
    await old.exchange(presence({ to: romeoJid, type: 'subscribed' }));
    h.fake.vanish(old); // the gateway replaced it: unbound, its closed event still on the way
    const next = await h.online(`${julietJid}/balcony`);
    await next.exchange(carbons(true));
    romeo.take();
    await h.fake.event({ event: 'closed', gateway: old.gateway, session: old.session, jid: old.jid, reason: 'conflict' });
    expect(ofKind(romeo.take(), 'presence', 'unavailable')).toEqual([]);
    expect((await h.store.presence.list(julietJid)).map((p) => p.resource)).toEqual(['balcony']);
    // The real end of the new session is still announced.
    await h.fake.disconnect(next);
    expect(ofKind(romeo.take(), 'presence', 'unavailable').map((p) => p.attrs.from)).toEqual([`${julietJid}/balcony`]);
  });

  it('keeps offline messages whose delivery is never confirmed (bounded wait)', async () => {
    const h = await makeHarness(createMemoryImStore(), { limits: { offlineReportTimeoutMs: 20 } });
    const juliet = await h.online(`${h.user('juliet')}/balcony`);
    const romeoJid = h.user('romeo');
    await juliet.exchange(message(romeoJid, 'are you there?'));
    h.fake.deliveryOutcome = () => new Promise(() => {}); // the client never acks
    const romeo = await h.fake.connect(`${romeoJid}/orchard`);
    const login = await romeo.exchange(presence());
    expect(ofKind(login, 'message')).toHaveLength(1);
    expect((await h.store.offline.stats(romeoJid)).count).toBe(1);
  });

  it('drops what gateways and remote servers must never send, and says why', async () => {
    const h = await makeHarness(createMemoryImStore());
    const juliet = h.user('juliet');
    // s2s stanza for a domain this service does not serve
    await h.fake.fromServer('verona.example', xml('message', { from: 'a@verona.example', to: 'b@elsewhere.example', type: 'chat' }, xml('body', null, 'x')));
    // s2s stanza without from
    await h.fake.fromServer('verona.example', xml('message', { to: juliet, type: 'chat' }, xml('body', null, 'x')));
    // c2s stanza whose origin is not a full JID of a served domain
    const stranger = await h.fake.connect(`someone@elsewhere.example/x`);
    await stranger.send(ping());
    expect(h.fake.sent.filter((s) => s.stanza.name !== 'presence')).toEqual([]);
    expect(h.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/does not serve/),
      expect.stringMatching(/does not belong/),
      expect.stringMatching(/origin is not a full JID/),
    ]);
  });

  it('answers malformed iqs and addresses with the RFC 6120 conditions', async () => {
    const h = await makeHarness(createMemoryImStore());
    const juliet = await h.online(`${h.user('juliet')}/balcony`);
    const noId = xml('iq', { type: 'get' }, xml('ping', { xmlns: 'urn:xmpp:ping' }));
    const out = await juliet.exchange(noId);
    expect(errorCondition(out[0])).toBe('bad-request');
    const twoPayloads = iq('get', null);
    twoPayloads.append(xml('ping', { xmlns: 'urn:xmpp:ping' }));
    twoPayloads.append(xml('ping', { xmlns: 'urn:xmpp:ping' }));
    expect(errorCondition(answerTo(await juliet.exchange(twoPayloads), twoPayloads.attrs.id))).toBe('bad-request');
    const badTo = ping('@@@');
    expect(errorCondition(answerTo(await juliet.exchange(badTo), badTo.attrs.id))).toBe('jid-malformed');
    const badMessage = message('a@b@c', 'x');
    expect(errorCondition(ofKind(await juliet.exchange(badMessage), 'message', 'error')[0])).toBe('jid-malformed');
    const domainResource = ping(`${DOMAIN}/admin`);
    expect(errorCondition(answerTo(await juliet.exchange(domainResource), domainResource.attrs.id))).toBe('service-unavailable');
    const toServer = message(DOMAIN, 'hello server');
    expect(errorCondition(ofKind(await juliet.exchange(toServer), 'message', 'error')[0])).toBe('service-unavailable');
  });

  it('serves several domains: traffic between them stays local', async () => {
    const h = await makeHarness(createMemoryImStore(), { domains: [DOMAIN, 'Example.ORG'] });
    const juliet = await h.online(`${h.user('juliet')}/balcony`);
    const romeo = await h.online('romeo@example.org/orchard');
    await juliet.exchange(message('romeo@example.org', 'across domains'));
    expect(ofKind(romeo.take(), 'message').map((m) => m.getChildText('body'))).toEqual(['across domains']);
    expect(h.fake.routed).toEqual([]);
    const info = iq('get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), { to: 'example.org' });
    expect(answerTo(await juliet.exchange(info), info.attrs.id).attrs.type).toBe('result');
  });

  it('XEP-0077 for a logged-in user: registered, password change, cancellation through the registrar', async () => {
    const calls: string[] = [];
    const registrar = {
      changePassword: async (jid: string, password: string) => {
        if (password === 'short') throw Object.assign(new Error('too short'), { code: 'ERR_AUTH_INVALID_PASSWORD' });
        calls.push(`password ${jid} ${password}`);
      },
      remove: async (jid: string) => void calls.push(`remove ${jid}`),
    };
    const h = await makeHarness(createMemoryImStore(), { registration: registrar });
    const julietJid = h.user('juliet');
    const juliet = await h.online(`${julietJid}/balcony`);
    const register = (...children: ReturnType<typeof xml>[]) => iq('set', xml('query', { xmlns: 'jabber:iq:register' }, children), { to: DOMAIN });
    const get = iq('get', xml('query', { xmlns: 'jabber:iq:register' }), { to: DOMAIN });
    const info = answerTo(await juliet.exchange(get), get.attrs.id).getChild('query');
    expect(info?.getChild('registered')).toBeDefined();
    expect(info?.getChildText('username')).toBe(julietJid.split('@')[0]);

    const change = register(xml('username', null, julietJid.split('@')[0]?.toUpperCase()), xml('password', null, 'n3w-s3cret'));
    expect(answerTo(await juliet.exchange(change), change.attrs.id).attrs.type).toBe('result');
    const other = register(xml('username', null, 'romeo'), xml('password', null, 'x'));
    expect(errorCondition(answerTo(await juliet.exchange(other), other.attrs.id))).toBe('not-authorized');
    const weak = register(xml('username', null, julietJid.split('@')[0]), xml('password', null, 'short'));
    expect(errorCondition(answerTo(await juliet.exchange(weak), weak.attrs.id))).toBe('not-acceptable');
    const neither = register();
    expect(errorCondition(answerTo(await juliet.exchange(neither), neither.attrs.id))).toBe('bad-request');

    await juliet.exchange(rosterSet('nurse@example.com'));
    const cancel = register(xml('remove'));
    expect(answerTo(await juliet.exchange(cancel), cancel.attrs.id).attrs.type).toBe('result');
    expect(calls).toEqual([`password ${julietJid} n3w-s3cret`, `remove ${julietJid}`]);
    const roster = await h.store.roster.get(julietJid);
    expect(roster.kind === 'full' ? roster.items : ['not full']).toEqual([]);
    const disco = iq('get', xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }), { to: DOMAIN });
    const features = answerTo(await juliet.exchange(disco), disco.attrs.id).getChild('query')?.getChildren('feature').map((f) => f.attrs.var);
    expect(features).toContain('jabber:iq:register');
  });

  it('validates its options', () => {
    const fake = new FakeDomainService();
    const store = createMemoryImStore();
    expect(() => new ImService({ service: fake, store, domains: [] })).toThrow(/at least one domain/);
    expect(() => new ImService({ service: fake, store, domains: DOMAIN, registration: true as unknown as false })).toThrow(/registration/);
    expect(() => new ImService({ service: fake, store, domains: DOMAIN, registration: {} as never })).toThrow(/registration/);
    expect(() => new ImService({ service: fake, store, domains: DOMAIN, limits: { offlineBatch: 0 } })).toThrow(/positive integer/);
    expect(() => new ImService({ service: fake, store, domains: DOMAIN, limits: { nonsense: 1 } as never })).toThrow(/unknown/);
  });
});
