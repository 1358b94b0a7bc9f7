// RFC 6121 scenarios against an ImService on the fake SDK seam. The same scenarios run on the
// memory store (memory.test.ts) and on a real Redis (redis.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImServiceOptions } from '../src/index.js';
import { xml, type Element } from '@ambrosia/xml';
import {
  block,
  blocklistGet,
  carbons,
  discoInfo,
  iq,
  mamQuery,
  message,
  ping,
  presence,
  privateGet,
  privateSet,
  rosterGet,
  rosterRemove,
  rosterSet,
  unblock,
  vcardGet,
  vcardSet,
  versionGet,
} from '../src/testing.js';
import { answerTo, describeStanza, DOMAIN, errorCondition, makeHarness, ofKind, pushedItem, pushesIn, type Harness, type StoreFactory } from './harness.js';
import type { ImStore } from '@ambrosia/im-store';

/** The last roster push about `jid` among `stanzas`. */
function item(stanzas: Element[], jid: string): Element | undefined {
  return pushesIn(stanzas)
    .map(pushedItem)
    .filter((it) => it.attrs.jid === jid)
    .at(-1);
}

export function imScenarios(name: string, factory: StoreFactory): void {
  describe(`im-service scenarios: ${name}`, () => {
    let store: ImStore;
    let cleanup: () => Promise<void>;
    beforeAll(async () => {
      ({ store, cleanup } = await factory());
    });
    afterAll(async () => cleanup());
    const harness = (options: Partial<ImServiceOptions> = {}) => makeHarness(store, options);

    /** Juliet and Romeo, online, with a mutual (both) subscription made through the protocol. */
    async function lovers(h: Harness) {
      const julietJid = h.user('juliet');
      const romeoJid = h.user('romeo');
      const juliet = await h.online(`${julietJid}/balcony`);
      const romeo = await h.online(`${romeoJid}/orchard`);
      await juliet.send(presence({ to: romeoJid, type: 'subscribe' }));
      await romeo.send(presence({ to: julietJid, type: 'subscribed' }));
      await romeo.send(presence({ to: julietJid, type: 'subscribe' }));
      await juliet.send(presence({ to: romeoJid, type: 'subscribed' }));
      await h.fake.settle();
      juliet.take();
      romeo.take();
      return { julietJid, romeoJid, juliet, romeo };
    }

    describe('roster (RFC 6121 §2)', () => {
      it('gets an empty roster, sets an item, pushes it, gets it back', async () => {
        const h = await harness();
        const jid = h.user('juliet');
        const balcony = await h.online(`${jid}/balcony`);
        const chamber = await h.fake.connect(`${jid}/chamber`);
        const empty = await chamber.exchange(rosterGet());
        expect(answerTo(empty, empty[0]?.attrs.id).getChild('query', 'jabber:iq:roster')?.children).toEqual([]);

        const set = rosterSet('nurse@example.com', { name: 'Nurse', groups: ['Servants', 'Family'] });
        const out = await balcony.exchange(set);
        expect(answerTo(out, set.attrs.id).attrs.type).toBe('result');
        // §2.1.6: the push goes to every interested resource: the available one and the one that asked for the roster.
        for (const inbox of [out, chamber.take()]) {
          const pushed = item(inbox, 'nurse@example.com');
          expect(pushed?.attrs).toMatchObject({ jid: 'nurse@example.com', name: 'Nurse', subscription: 'none' });
          expect(pushed?.getChildren('group').map((g) => g.getText())).toEqual(['Family', 'Servants']);
        }
        const got = await balcony.exchange(rosterGet());
        const query = answerTo(got, got[0]?.attrs.id).getChild('query', 'jabber:iq:roster');
        expect(query?.getChildren('item').map((i) => i.attrs.jid)).toEqual(['nurse@example.com']);
        expect(query?.attrs.ver).toBeUndefined(); // no versioning asked
      });

      it('versions the roster (§2.6): full with ver, empty result when current, deltas as pushes', async () => {
        const h = await harness();
        const session = await h.online(`${h.user('juliet')}/balcony`);
        await session.exchange(rosterSet('a@example.com'));
        await session.exchange(rosterSet('b@example.com'));
        const first = rosterGet('');
        const full = answerTo(await session.exchange(first), first.attrs.id).getChild('query', 'jabber:iq:roster') as Element;
        const version = full.attrs.ver as string;
        expect(version).toMatch(/.+/);
        expect(full.getChildren('item')).toHaveLength(2);

        const same = rosterGet(version);
        const upToDate = await session.exchange(same);
        expect(answerTo(upToDate, same.attrs.id).children).toEqual([]);
        expect(pushesIn(upToDate)).toEqual([]);

        await session.exchange(rosterSet('c@example.com', { name: 'C' }));
        await session.exchange(rosterRemove('a@example.com'));
        const since = rosterGet(version);
        const delta = await session.exchange(since);
        expect(answerTo(delta, since.attrs.id).children).toEqual([]);
        const pushes = pushesIn(delta);
        expect(pushes.map((p) => [pushedItem(p).attrs.jid, pushedItem(p).attrs.subscription])).toEqual([
          ['c@example.com', 'none'],
          ['a@example.com', 'remove'],
        ]);
        // Only the last push carries the new version.
        expect(pushes.map((p) => p.getChild('query')?.attrs.ver === undefined)).toEqual([true, false]);
        const unknown = rosterGet('nonsense');
        const again = answerTo(await session.exchange(unknown), unknown.attrs.id).getChild('query') as Element;
        expect(again.getChildren('item').map((i) => i.attrs.jid)).toEqual(['b@example.com', 'c@example.com']);
      });

      it('refuses bad roster sets with the RFC conditions (§2.3.3)', async () => {
        const h = await harness();
        const session = await h.online(`${h.user('juliet')}/balcony`);
        const cases: Array<[Element, string]> = [
          [rosterSet('a@example.com', { attrs: { colour: 'red' } }), 'bad-request'],
          [iq('set', xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { jid: 'a@example.com' }), xml('item', { jid: 'b@example.com' }))), 'bad-request'],
          [iq('set', xml('query', { xmlns: 'jabber:iq:roster' })), 'bad-request'],
          [iq('set', xml('query', { xmlns: 'jabber:iq:roster' }, xml('item', { name: 'x' }))), 'bad-request'],
          [rosterSet('not a jid@@'), 'jid-malformed'],
          [rosterSet('a@example.com/resource'), 'bad-request'],
          [rosterSet('a@example.com', { subscription: 'sideways' }), 'bad-request'],
          [rosterSet('a@example.com', { groups: [''] }), 'not-acceptable'],
          [rosterSet('a@example.com', { groups: ['g', 'g'] }), 'bad-request'],
          [rosterSet('a@example.com', { name: 'n'.repeat(2000) }), 'not-acceptable'],
          [rosterSet('a@example.com', { groups: ['g'.repeat(2000)] }), 'not-acceptable'],
          [rosterRemove('nobody@example.com'), 'item-not-found'],
          [iq('set', null), 'bad-request'],
        ];
        for (const [stanza, condition] of cases) {
          const answer = answerTo(await session.exchange(stanza), stanza.attrs.id);
          expect([answer.attrs.type, errorCondition(answer)], describeStanza(stanza)).toEqual(['error', condition]);
        }
        // Nothing was written.
        const get = rosterGet();
        expect(answerTo(await session.exchange(get), get.attrs.id).getChild('query')?.children).toEqual([]);
      });

      it('ignores a client-set subscription, ask or approved (§2.1.2.5): only the server moves them', async () => {
        const h = await harness();
        const session = await h.online(`${h.user('juliet')}/balcony`);
        const out = await session.exchange(rosterSet('a@example.com', { subscription: 'both', attrs: { ask: 'subscribe', approved: 'true' } }));
        expect(item(out, 'a@example.com')?.attrs).toEqual({ jid: 'a@example.com', subscription: 'none' });
      });

      it('never shows or changes another user’s roster, archive, storage or blocklist', async () => {
        const h = await harness();
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const romeo = h.user('romeo');
        for (const payload of [
          xml('query', { xmlns: 'jabber:iq:roster' }),
          xml('query', { xmlns: 'jabber:iq:private' }, xml('storage', { xmlns: 'storage:bookmarks' })),
          xml('query', { xmlns: 'urn:xmpp:mam:2' }),
          xml('blocklist', { xmlns: 'urn:xmpp:blocking' }),
        ]) {
          for (const type of ['get', 'set'] as const) {
            const request = iq(type, payload, { to: romeo });
            const answer = answerTo(await juliet.exchange(request), request.attrs.id);
            expect(errorCondition(answer), `${type} ${payload.attrs.xmlns}`).toBe('forbidden');
          }
        }
        const vcard = iq('set', xml('vCard', { xmlns: 'vcard-temp' }, xml('FN', null, 'Hacked')), { to: romeo });
        expect(errorCondition(answerTo(await juliet.exchange(vcard), vcard.attrs.id))).toBe('forbidden');
        expect(await h.store.vcard.get(romeo)).toBeNull();
      });

      it('takes the sender from the origin, never from the stanza', async () => {
        const h = await harness();
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const romeo = h.user('romeo');
        const forged = rosterSet('evil@example.com');
        forged.attrs.from = `${romeo}/orchard`;
        await juliet.exchange(forged);
        expect((await h.store.roster.get(romeo)).kind === 'full' && (await h.store.roster.get(romeo))).toMatchObject({ items: [] });
        const mine = await h.store.roster.get(juliet.bare);
        expect(mine.kind === 'full' ? mine.items.map((i) => i.jid) : []).toEqual(['evil@example.com']);
      });
    });

    describe('subscriptions (RFC 6121 §3, Appendix A)', () => {
      it('subscribe, approve, mutual: roster pushes and presence on both sides', async () => {
        const h = await harness();
        const julietJid = h.user('juliet');
        const romeoJid = h.user('romeo');
        const juliet = await h.online(`${julietJid}/balcony`);
        const romeo = await h.online(`${romeoJid}/orchard`);

        // §3.1.2: Juliet asks; her roster gets ask=subscribe; Romeo receives the request.
        const asked = await juliet.exchange(presence({ to: romeoJid, type: 'subscribe', status: 'Wherefore art thou?' }));
        expect(item(asked, romeoJid)?.attrs).toMatchObject({ subscription: 'none', ask: 'subscribe' });
        const request = ofKind(romeo.take(), 'presence', 'subscribe');
        expect(request.map(describeStanza)).toEqual([`presence/subscribe ${julietJid}→${romeoJid}`]);
        expect(request[0]?.getChildText('status')).toBe('Wherefore art thou?');

        // §3.1.5: Romeo approves: his item is 'from', Juliet's 'to', and she gets his presence.
        const approved = await romeo.exchange(presence({ to: julietJid, type: 'subscribed' }));
        expect(item(approved, julietJid)?.attrs).toMatchObject({ subscription: 'from' });
        const atJuliet = juliet.take();
        expect(item(atJuliet, romeoJid)?.attrs).toEqual({ jid: romeoJid, subscription: 'to' });
        expect(ofKind(atJuliet, 'presence', 'subscribed').map(describeStanza)).toEqual([`presence/subscribed ${romeoJid}→${julietJid}`]);
        expect(ofKind(atJuliet, 'presence', '').map(describeStanza)).toEqual([`presence ${romeoJid}/orchard→${julietJid}`]);

        // And back: both.
        await romeo.exchange(presence({ to: julietJid, type: 'subscribe' }));
        const back = await juliet.exchange(presence({ to: romeoJid, type: 'subscribed' }));
        expect(item(back, romeoJid)?.attrs.subscription).toBe('both');
        expect(item(romeo.take(), julietJid)?.attrs.subscription).toBe('both');
        const julietRoster = await h.store.roster.getContact(julietJid, romeoJid);
        expect(julietRoster.item).toMatchObject({ subscription: 'both', ask: false, approved: false });
      });

      it('keeps a request for an offline user and delivers it at initial presence (§3.1.3)', async () => {
        const h = await harness();
        const julietJid = h.user('juliet');
        const romeoJid = h.user('romeo');
        const juliet = await h.online(`${julietJid}/balcony`);
        await juliet.exchange(presence({ to: romeoJid, type: 'subscribe', status: 'hello' }));
        expect((await h.store.roster.listPending(romeoJid)).map((p) => [p.jid, p.status])).toEqual([[julietJid, 'hello']]);
        // A duplicate is not a second request.
        await juliet.exchange(presence({ to: romeoJid, type: 'subscribe', status: 'hello' }));
        expect(await h.store.roster.listPending(romeoJid)).toHaveLength(1);

        const romeo = await h.fake.connect(`${romeoJid}/orchard`);
        const login = await romeo.exchange(presence());
        const requests = ofKind(login, 'presence', 'subscribe');
        expect(requests.map(describeStanza)).toEqual([`presence/subscribe ${julietJid}→${romeoJid}`]);
        expect(requests[0]?.getChildText('status')).toBe('hello');

        // Denying (§3.2 unsubscribed) clears the request and Juliet's ask.
        await romeo.exchange(presence({ to: julietJid, type: 'unsubscribed' }));
        expect(await h.store.roster.listPending(romeoJid)).toEqual([]);
        expect(item(juliet.take(), romeoJid)?.attrs).toEqual({ jid: romeoJid, subscription: 'none' });
      });

      it('pre-approval (§3.4): recorded, not routed, and used by the next request', async () => {
        const h = await harness();
        const julietJid = h.user('juliet');
        const romeoJid = h.user('romeo');
        const juliet = await h.online(`${julietJid}/balcony`);
        const romeo = await h.online(`${romeoJid}/orchard`);
        const pre = await romeo.exchange(presence({ to: julietJid, type: 'subscribed' }));
        expect(item(pre, julietJid)?.attrs).toEqual({ jid: julietJid, subscription: 'none', approved: 'true' });
        expect(juliet.take()).toEqual([]);

        // Romeo's server answers for him: Juliet is subscribed at once, Romeo sees no request.
        const atJuliet = await juliet.exchange(presence({ to: romeoJid, type: 'subscribe' }));
        expect(item(atJuliet, romeoJid)?.attrs.subscription).toBe('to');
        expect(ofKind(atJuliet, 'presence', '').map(describeStanza)).toEqual([`presence ${romeoJid}/orchard→${julietJid}`]);
        const atRomeo = romeo.take();
        expect(ofKind(atRomeo, 'presence', 'subscribe')).toEqual([]);
        expect(item(atRomeo, julietJid)?.attrs).toEqual({ jid: julietJid, subscription: 'from' });
      });

      it('cancelling and unsubscribing (§3.2, §3.3) take presence back', async () => {
        const h = await harness();
        const { julietJid, romeoJid, juliet, romeo } = await lovers(h);
        // Romeo cancels Juliet's subscription to him: she gets unavailable from his resource.
        const cancelled = await romeo.exchange(presence({ to: julietJid, type: 'unsubscribed' }));
        const atJuliet = juliet.take();
        expect(item(atJuliet, romeoJid)?.attrs.subscription).toBe('from');
        expect(ofKind(atJuliet, 'presence', 'unavailable').map(describeStanza)).toEqual([`presence/unavailable ${romeoJid}/orchard→${julietJid}`]);
        expect(item(cancelled, julietJid)?.attrs.subscription).toBe('to');

        // Romeo unsubscribes from Juliet's presence: nothing is left.
        const unsubscribed = await romeo.exchange(presence({ to: julietJid, type: 'unsubscribe' }));
        expect(item(unsubscribed, julietJid)?.attrs.subscription).toBe('none');
        const last = juliet.take();
        expect(item(last, romeoJid)?.attrs.subscription).toBe('none');
        expect(ofKind(last, 'presence', 'unsubscribe')).toHaveLength(1);
        // Romeo no longer gets Juliet's presence.
        romeo.take();
        await juliet.exchange(presence({ show: 'away' }));
        expect(ofKind(romeo.take(), 'presence')).toEqual([]);
      });

      it('removing an item (§2.5) unsubscribes both ways', async () => {
        const h = await harness();
        const { julietJid, romeoJid, juliet, romeo } = await lovers(h);
        const out = await juliet.exchange(rosterRemove(romeoJid));
        expect(item(out, romeoJid)?.attrs.subscription).toBe('remove');
        const atRomeo = romeo.take();
        expect(item(atRomeo, julietJid)?.attrs.subscription).toBe('none');
        expect(ofKind(atRomeo, 'presence', 'unavailable').map(describeStanza)).toEqual([`presence/unavailable ${julietJid}/balcony→${romeoJid}`]);
        expect((await h.store.roster.getContact(romeoJid, julietJid)).item?.subscription).toBe('none');
      });

      it('refuses subscribing to oneself, and answers a request to a user that does not exist', async () => {
        const h = await harness({ accounts: { exists: async (jid) => !jid.startsWith('ghost') } });
        const julietJid = h.user('juliet');
        const juliet = await h.online(`${julietJid}/balcony`);
        const self = presence({ to: julietJid, type: 'subscribe' });
        self.attrs.id = 'self-sub';
        const answer = (await juliet.exchange(self)).find((s) => s.attrs.id === 'self-sub');
        expect(errorCondition(answer)).toBe('not-allowed');
        const ghost = `ghost@${DOMAIN}`;
        const out = await juliet.exchange(presence({ to: ghost, type: 'subscribe' }));
        // ask='subscribe' first; then the ghost's server refuses with unsubscribed, which clears the ask.
        expect(pushesIn(out).map((p) => pushedItem(p).attrs)).toEqual([
          { jid: ghost, subscription: 'none', ask: 'subscribe' },
          { jid: ghost, subscription: 'none' },
        ]);
        const state = await h.store.roster.getContact(julietJid, ghost);
        expect(state.item).toMatchObject({ subscription: 'none', ask: false });
        expect(await h.store.roster.listPending(ghost)).toEqual([]);
      });

      it('routes subscriptions for remote contacts, stamped with bare JIDs, and takes their answers from s2s', async () => {
        const h = await harness();
        const julietJid = h.user('juliet');
        const juliet = await h.online(`${julietJid}/balcony`);
        await juliet.exchange(presence({ to: 'mercutio@verona.example/ignored', type: 'subscribe' }));
        expect(h.fake.routed.map((r) => [describeStanza(r.stanza), r.via])).toEqual([[`presence/subscribe ${julietJid}→mercutio@verona.example`, 'routed']]);
        await h.fake.fromServer('verona.example', xml('presence', { type: 'subscribed', from: 'mercutio@verona.example', to: julietJid }));
        await h.fake.settle();
        expect(item(juliet.take(), 'mercutio@verona.example')?.attrs.subscription).toBe('to');
        // A forged from (not the verified domain) is dropped.
        await h.fake.fromServer('evil.example', xml('presence', { type: 'unsubscribed', from: 'mercutio@verona.example', to: julietJid }));
        expect((await h.store.roster.getContact(julietJid, 'mercutio@verona.example')).item?.subscription).toBe('to');
        expect(h.errors.map((e) => e.message).join()).toMatch(/does not belong/);
        // Remote probes are answered for subscribers only.
        await h.fake.fromServer('verona.example', xml('presence', { type: 'subscribe', from: 'mercutio@verona.example', to: julietJid }));
        await juliet.exchange(presence({ to: 'mercutio@verona.example', type: 'subscribed' }));
        h.fake.routed.length = 0;
        await h.fake.fromServer('verona.example', xml('presence', { type: 'probe', from: 'mercutio@verona.example', to: julietJid }));
        expect(h.fake.routed.map((r) => describeStanza(r.stanza))).toEqual([`presence ${julietJid}/balcony→mercutio@verona.example`]);
        h.fake.routed.length = 0;
        await h.fake.fromServer('verona.example', xml('presence', { type: 'probe', from: 'tybalt@verona.example', to: julietJid }));
        expect(h.fake.routed).toEqual([]);
      });
    });

    describe('presence (RFC 6121 §4)', () => {
      it('initial presence: broadcast to subscribers and own resources, probes answered, other resources shown', async () => {
        const h = await harness();
        const { julietJid, romeoJid, juliet, romeo } = await lovers(h);
        const chamber = await h.fake.connect(`${julietJid}/chamber`);
        const login = await chamber.exchange(presence({ show: 'chat', priority: 5 }));
        // Romeo and Juliet's balcony see the new resource.
        expect(ofKind(romeo.take(), 'presence').map(describeStanza)).toEqual([`presence ${julietJid}/chamber→${romeoJid}`]);
        expect(ofKind(juliet.take(), 'presence').map(describeStanza)).toEqual([`presence ${julietJid}/chamber→${julietJid}/balcony`]);
        // The new resource gets its own presence, the balcony's, and Romeo's (the probe's answer).
        expect(ofKind(login, 'presence').map(describeStanza).sort()).toEqual(
          [`presence ${julietJid}/chamber→${julietJid}/chamber`, `presence ${julietJid}/balcony→${julietJid}/chamber`, `presence ${romeoJid}/orchard→${julietJid}/chamber`].sort(),
        );
        // An update is broadcast but does not probe again.
        const update = await chamber.exchange(presence({ show: 'away', priority: 5 }));
        expect(ofKind(update, 'presence').map(describeStanza)).toEqual([`presence ${julietJid}/chamber→${julietJid}/chamber`]);
        expect(ofKind(romeo.take(), 'presence')[0]?.getChildText('show')).toBe('away');
      });

      it('unavailable presence, and the unavailable presence a closed session implies', async () => {
        const h = await harness();
        const { julietJid, romeoJid, juliet, romeo } = await lovers(h);
        await juliet.exchange(presence({ type: 'unavailable', status: 'bye' }));
        const seen = ofKind(romeo.take(), 'presence', 'unavailable');
        expect(seen.map(describeStanza)).toEqual([`presence/unavailable ${julietJid}/balcony→${romeoJid}`]);
        expect(seen[0]?.getChildText('status')).toBe('bye');
        expect(await h.store.presence.list(julietJid)).toEqual([]);

        await h.fake.disconnect(romeo, 'timeout');
        expect(ofKind(juliet.take(), 'presence', 'unavailable')).toEqual([]); // Juliet is unavailable: nothing to her
        const again = await h.online(`${romeoJid}/orchard`);
        await juliet.exchange(presence());
        again.take();
        await h.fake.disconnect(again, 'timeout');
        await h.fake.settle();
        expect(ofKind(juliet.take(), 'presence', 'unavailable').map(describeStanza)).toEqual([`presence/unavailable ${romeoJid}/orchard→${julietJid}`]);
        expect(await h.store.presence.list(romeoJid)).toEqual([]);
        // A session that never was available leaves without a word.
        const quiet = await h.fake.connect(`${romeoJid}/quiet`);
        await h.fake.disconnect(quiet);
        expect(juliet.take()).toEqual([]);
      });

      it('a probe sees no presence from a session whose gateway vanished once the resource binds again', async () => {
        const h = await harness();
        const { julietJid, romeoJid, juliet } = await lovers(h);
        h.fake.vanish(juliet);
        expect((await h.store.presence.list(julietJid)).map((p) => p.resource)).toEqual(['balcony']);
        await h.fake.connect(`${julietJid}/balcony`); // bound again: the stale presence goes
        expect(await h.store.presence.list(julietJid)).toEqual([]);
        const romeo2 = await h.fake.connect(`${romeoJid}/garden`);
        const login = await romeo2.exchange(presence());
        expect(ofKind(login, 'presence').map((p) => p.attrs.from)).not.toContain(`${julietJid}/balcony`);
      });

      it('directed presence reaches a non-contact; blocked contacts get nothing', async () => {
        const h = await harness();
        const julietJid = h.user('juliet');
        const nurseJid = h.user('nurse');
        const juliet = await h.online(`${julietJid}/balcony`);
        const nurse = await h.online(`${nurseJid}/kitchen`);
        await juliet.exchange(presence({ to: nurseJid, show: 'dnd' }));
        expect(ofKind(nurse.take(), 'presence').map(describeStanza)).toEqual([`presence ${julietJid}/balcony→${nurseJid}`]);
        await juliet.exchange(presence({ to: `${nurseJid}/kitchen`, type: 'unavailable' }));
        expect(ofKind(nurse.take(), 'presence', 'unavailable').map(describeStanza)).toEqual([`presence/unavailable ${julietJid}/balcony→${nurseJid}/kitchen`]);
        // §4.6.3: directed presence is remembered, and her unavailable presence goes there too.
        await juliet.exchange(presence({ to: nurseJid }));
        nurse.take();
        await juliet.exchange(presence({ type: 'unavailable' }));
        expect(ofKind(nurse.take(), 'presence', 'unavailable').map(describeStanza)).toEqual([`presence/unavailable ${julietJid}/balcony→${nurseJid}`]);
        await juliet.exchange(presence());
        await juliet.exchange(presence({ to: `${nurseJid}/kitchen` }));
        nurse.take();
        await h.fake.disconnect(juliet);
        expect(ofKind(nurse.take(), 'presence', 'unavailable').map(describeStanza)).toEqual([`presence/unavailable ${julietJid}/balcony→${nurseJid}/kitchen`]);
        const back = await h.online(`${julietJid}/balcony`);
        // Juliet blocks the nurse: her directed presence is refused, the nurse's is dropped.
        await back.exchange(block([nurseJid]));
        const refused = presence({ to: nurseJid });
        refused.attrs.id = 'p1';
        const answer = (await back.exchange(refused)).find((s) => s.attrs.id === 'p1');
        expect(errorCondition(answer)).toBe('not-acceptable');
        expect(answer?.getChild('error')?.getChild('blocked', 'urn:xmpp:blocking:errors')).toBeDefined();
        await nurse.exchange(presence({ to: julietJid }));
        expect(ofKind(back.take(), 'presence')).toEqual([]);
      });
    });

    describe('messages (RFC 6121 §5, §8.5)', () => {
      it('to a bare JID: the highest non-negative priority, all on a tie; headlines to all; none negative', async () => {
        const h = await harness();
        const romeoJid = h.user('romeo');
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const a = await h.online(`${romeoJid}/a`, 5);
        const b = await h.online(`${romeoJid}/b`, 5);
        const c = await h.online(`${romeoJid}/c`, 1);
        const d = await h.online(`${romeoJid}/d`, -1);
        for (const s of [a, b, c, d]) s.take();
        await juliet.exchange(message(romeoJid, 'to the best'));
        expect([a, b, c, d].map((s) => s.take().length)).toEqual([1, 1, 0, 0]);
        await juliet.exchange(message(romeoJid, 'news', { type: 'headline' }));
        expect([a, b, c, d].map((s) => s.take().length)).toEqual([1, 1, 1, 0]);
        await juliet.exchange(message(romeoJid, 'normal', { type: 'normal' }));
        expect([a, b, c, d].map((s) => s.take().length)).toEqual([1, 1, 0, 0]);
        const gc = message(romeoJid, 'x', { type: 'groupchat' });
        expect(errorCondition(ofKind(await juliet.exchange(gc), 'message', 'error')[0])).toBe('service-unavailable');
        // Only negative priorities: treated as offline (§8.5.2.2): stored.
        for (const s of [a, b, c]) await h.fake.disconnect(s);
        d.take();
        await juliet.exchange(message(romeoJid, 'later'));
        expect(d.take()).toEqual([]);
        expect((await h.store.offline.stats(romeoJid)).count).toBe(1);
      });

      it('to a full JID: that session even if unavailable; a missing one falls back by type (§8.5.3.2)', async () => {
        const h = await harness();
        const romeoJid = h.user('romeo');
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const hidden = await h.fake.connect(`${romeoJid}/hidden`);
        const open = await h.online(`${romeoJid}/open`);
        await juliet.exchange(message(`${romeoJid}/hidden`, 'psst'));
        expect(hidden.take().map((m) => m.getChildText('body'))).toEqual(['psst']);
        expect(open.take()).toEqual([]);
        await juliet.exchange(message(`${romeoJid}/gone`, 'fallback'));
        expect(open.take().map((m) => m.getChildText('body'))).toEqual(['fallback']);
        const gc = message(`${romeoJid}/gone`, 'x', { type: 'groupchat' });
        expect(errorCondition(ofKind(await juliet.exchange(gc), 'message', 'error')[0])).toBe('service-unavailable');
        // iq to a resource that is not there: service-unavailable; to one that is: delivered.
        const q = iq('get', xml('query', { xmlns: 'jabber:iq:version' }), { to: `${romeoJid}/gone` });
        expect(errorCondition(answerTo(await juliet.exchange(q), q.attrs.id))).toBe('service-unavailable');
        const q2 = iq('get', xml('query', { xmlns: 'jabber:iq:version' }), { to: `${romeoJid}/open` });
        await juliet.exchange(q2);
        expect(open.take().map(describeStanza)).toEqual([`iq/get ${juliet.jid}→${romeoJid}/open`]);
        // §8.5.1: an iq to a bare JID is the server's to answer.
        const q3 = iq('get', xml('query', { xmlns: 'jabber:iq:version' }), { to: romeoJid });
        expect(errorCondition(answerTo(await juliet.exchange(q3), q3.attrs.id))).toBe('service-unavailable');
      });

      it('offline messages (XEP-0160): stored, delivered at initial presence with delay, removed once delivered', async () => {
        const h = await harness();
        const romeoJid = h.user('romeo');
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        await juliet.exchange(message(romeoJid, 'one'));
        await juliet.exchange(message(romeoJid, 'two', { type: 'normal' }));
        await juliet.exchange(message(romeoJid, undefined, { children: [xml('composing', { xmlns: 'http://jabber.org/protocol/chatstates' })] }));
        await juliet.exchange(message(romeoJid, 'news', { type: 'headline' }));
        expect((await h.store.offline.stats(romeoJid)).count).toBe(2); // chat states and headlines are not kept

        // The client acknowledges the first only: the second stays for next time.
        let reports = 0;
        h.fake.deliveryOutcome = () => (++reports === 1 ? 'delivered' : 'undelivered');
        const romeo = await h.fake.connect(`${romeoJid}/orchard`);
        const first = ofKind(await romeo.exchange(presence()), 'message');
        expect(first.map((m) => m.getChildText('body'))).toEqual(['one', 'two']);
        expect(first[0]?.getChild('delay', 'urn:xmpp:delay')?.attrs.from).toBe(DOMAIN);
        expect(h.fake.sent.filter((s) => s.stanza.name === 'message').every((s) => s.options?.deliveryReport === true)).toBe(true);
        expect((await h.store.offline.peek(romeoJid)).map((m) => m.xml)).toEqual([expect.stringContaining('two')]);

        h.fake.deliveryOutcome = () => 'delivered';
        await romeo.exchange(presence({ type: 'unavailable' }));
        const second = ofKind(await romeo.exchange(presence()), 'message');
        expect(second.map((m) => m.getChildText('body'))).toEqual(['two']);
        expect(await h.store.offline.stats(romeoJid)).toEqual({ count: 0, bytes: 0 });
      });

      it('a full offline queue answers service-unavailable; offline storage switched off too', async () => {
        const h = await harness({ features: { offline: false } });
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const m = message(h.user('romeo'), 'hello?');
        expect(errorCondition(ofKind(await juliet.exchange(m), 'message', 'error')[0])).toBe('service-unavailable');
      });

      it('carbons (XEP-0280): sent and received copies to the other resources that enabled them', async () => {
        const h = await harness();
        const { julietJid, romeoJid, juliet, romeo } = await lovers(h);
        const phone = await h.online(`${julietJid}/phone`);
        const tablet = await h.online(`${julietJid}/tablet`, -1);
        const enable = carbons(true);
        expect(answerTo(await phone.exchange(enable), enable.attrs.id).attrs.type).toBe('result');
        await tablet.exchange(carbons(true));
        juliet.take();
        await juliet.exchange(message(romeoJid, 'sent from the balcony'));
        const sent = phone.take().find((m) => m.getChild('sent', 'urn:xmpp:carbons:2') !== undefined);
        expect(sent?.attrs.from).toBe(julietJid);
        expect(sent?.getChild('sent')?.getChild('forwarded', 'urn:xmpp:forward:0')?.getChild('message')?.getChildText('body')).toBe('sent from the balcony');
        expect(tablet.take()).toHaveLength(1);
        expect(ofKind(romeo.take(), 'message')).toHaveLength(1);

        await romeo.exchange(message(julietJid, 'received'));
        // Delivered to the top priority (balcony and phone, both 0); the tablet gets the carbon.
        expect(juliet.take().map((m) => m.getChildText('body'))).toEqual(['received']);
        expect(phone.take().map((m) => m.getChildText('body'))).toEqual(['received']);
        const copy = tablet.take()[0];
        expect(copy?.getChild('received', 'urn:xmpp:carbons:2')?.getChild('forwarded')?.getChild('message')?.getChildText('body')).toBe('received');
        // <private/> is never copied; disabling stops copies.
        await juliet.exchange(message(romeoJid, 'secret', { children: [xml('private', { xmlns: 'urn:xmpp:carbons:2' })] }));
        expect(phone.take()).toEqual([]);
        await phone.exchange(carbons(false));
        await juliet.exchange(message(romeoJid, 'again'));
        expect(phone.take()).toEqual([]);
        expect(tablet.take()).toHaveLength(1);
      });

      it('the archive (XEP-0313): both sides archive, stanza-id added, paged with RSM', async () => {
        const h = await harness();
        const { julietJid, romeoJid, juliet, romeo } = await lovers(h);
        for (let i = 1; i <= 5; i++) await juliet.exchange(message(romeoJid, `m${i}`));
        const delivered = romeo.take().filter((m) => m.name === 'message');
        expect(delivered.map((m) => m.getChild('stanza-id', 'urn:xmpp:sid:0')?.attrs.by)).toEqual(Array(5).fill(romeoJid));
        await romeo.exchange(message(julietJid, 'reply'));
        await juliet.exchange(message(romeoJid, undefined, { children: [xml('active', { xmlns: 'http://jabber.org/protocol/chatstates' })] })); // not archived

        const q1 = mamQuery({ with: romeoJid, max: 2, queryid: 'q1' });
        const page1 = await juliet.exchange(q1);
        const results = page1.filter((m) => m.name === 'message');
        expect(results.map((m) => m.getChild('result', 'urn:xmpp:mam:2')?.getChild('forwarded')?.getChild('message')?.getChildText('body'))).toEqual(['m1', 'm2']);
        expect(results.every((m) => m.getChild('result')?.attrs.queryid === 'q1')).toBe(true);
        // Results come before the iq result.
        expect(page1.at(-1)?.name).toBe('iq');
        const fin = answerTo(page1, q1.attrs.id).getChild('fin', 'urn:xmpp:mam:2') as Element;
        expect(fin.attrs.complete).toBeUndefined();
        const set = fin.getChild('set', 'http://jabber.org/protocol/rsm') as Element;
        expect(set.getChildText('count')).toBe('6');
        const last = set.getChildText('last') as string;

        const q2 = mamQuery({ with: romeoJid, max: 10, after: last });
        const page2 = await juliet.exchange(q2);
        expect(
          page2.filter((m) => m.name === 'message').map((m) => m.getChild('result')?.getChild('forwarded')?.getChild('message')?.getChildText('body')),
        ).toEqual(['m3', 'm4', 'm5', 'reply']);
        expect(answerTo(page2, q2.attrs.id).getChild('fin')?.attrs.complete).toBe('true');
        // The last page (§2.5: before empty), count only (max 0).
        const q3 = mamQuery({ max: 1, before: '' });
        const page3 = await juliet.exchange(q3);
        expect(page3.filter((m) => m.name === 'message').map((m) => m.getChild('result')?.getChild('forwarded')?.getChild('message')?.getChildText('body'))).toEqual(['reply']);
        const q4 = mamQuery({ max: 0 });
        const page4 = await juliet.exchange(q4);
        expect(page4.filter((m) => m.name === 'message')).toEqual([]);
        expect(answerTo(page4, q4.attrs.id).getChild('fin')?.getChild('set')?.getChildText('count')).toBe('6');
        // Romeo's archive has the other side.
        const r = mamQuery({ with: julietJid, max: 100 });
        const romeoPage = await romeo.exchange(r);
        expect(romeoPage.filter((m) => m.name === 'message')).toHaveLength(6);
      });

      it('refuses broken archive queries: unknown ids, bad max, index, unknown fields, bad dates, bad JIDs', async () => {
        const h = await harness();
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const cases: Array<[Element, string]> = [
          [mamQuery({ after: '0000000000000001' }), 'item-not-found'],
          [mamQuery({ before: 'garbage' }), 'item-not-found'],
          [mamQuery({ max: 'ten' }), 'bad-request'],
          [mamQuery({ max: -1 }), 'bad-request'],
          [mamQuery({ index: 3 }), 'feature-not-implemented'],
          [mamQuery({ extraField: 'colour' }), 'bad-request'],
          [mamQuery({ start: 'yesterday' }), 'bad-request'],
          [mamQuery({ with: 'not a jid@@' }), 'jid-malformed'],
          [mamQuery({ after: '' }), 'bad-request'],
        ];
        for (const [stanza, condition] of cases) {
          expect(errorCondition(answerTo(await juliet.exchange(stanza), stanza.attrs.id)), describeStanza(stanza)).toBe(condition);
        }
        const form = iq('get', xml('query', { xmlns: 'urn:xmpp:mam:2' }));
        const answer = answerTo(await juliet.exchange(form), form.attrs.id);
        expect(answer.getChild('query')?.getChild('x', 'jabber:x:data')?.getChildren('field').map((f) => f.attrs.var)).toEqual(['FORM_TYPE', 'with', 'start', 'end']);
      });

      it('filters the archive by time (XEP-0313 start, end)', async () => {
        const h = await harness();
        const { romeoJid, juliet } = await lovers(h);
        await juliet.exchange(message(romeoJid, 'now'));
        const past = new Date(Date.now() - 3_600_000).toISOString();
        const future = new Date(Date.now() + 3_600_000).toISOString();
        const count = async (input: Parameters<typeof mamQuery>[0]) => {
          const q = mamQuery(input);
          return (await juliet.exchange(q)).filter((m) => m.name === 'message').length;
        };
        expect(await count({ start: past })).toBe(1);
        expect(await count({ start: future })).toBe(0);
        expect(await count({ end: past })).toBe(0);
        expect(await count({ start: past, end: future, with: `${romeoJid}/orchard` })).toBe(1);
      });

      it('a message without to goes to the sender’s own account (RFC 6120 §10.3.1)', async () => {
        const h = await harness();
        const julietJid = h.user('juliet');
        const balcony = await h.online(`${julietJid}/balcony`);
        const phone = await h.online(`${julietJid}/phone`);
        await balcony.exchange(message(undefined, 'note to self'));
        expect(ofKind(phone.take(), 'message').map((m) => m.getChildText('body'))).toEqual(['note to self']);
      });

      it('answers a remote server’s iqs for an account and the domain through the gateways', async () => {
        const h = await harness();
        const julietJid = h.user('juliet');
        await h.online(`${julietJid}/balcony`);
        await h.fake.fromServer('verona.example', xml('iq', { type: 'get', id: 'v1', from: 'mercutio@verona.example/x', to: julietJid }, xml('vCard', { xmlns: 'vcard-temp' })));
        await h.fake.fromServer('verona.example', xml('iq', { type: 'get', id: 'd1', from: 'verona.example', to: DOMAIN }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })));
        await h.fake.fromServer('verona.example', xml('iq', { type: 'set', id: 'r1', from: 'mercutio@verona.example/x', to: julietJid }, xml('query', { xmlns: 'jabber:iq:roster' })));
        expect(h.fake.routed.map((r) => [r.stanza.attrs.id, r.stanza.attrs.type, r.stanza.attrs.from, r.stanza.attrs.to, errorCondition(r.stanza)])).toEqual([
          ['v1', 'result', julietJid, 'mercutio@verona.example/x', undefined],
          ['d1', 'result', DOMAIN, 'verona.example', undefined],
          ['r1', 'error', julietJid, 'mercutio@verona.example/x', 'forbidden'],
        ]);
      });

      it('routes messages for other domains to the gateways', async () => {
        const h = await harness();
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        await juliet.exchange(message('mercutio@verona.example/street', 'remote'));
        expect(h.fake.routed.map((r) => [describeStanza(r.stanza), r.via])).toEqual([[`message/chat ${juliet.jid}→mercutio@verona.example/street`, 'routed']]);
        // And takes messages from them.
        await h.fake.fromServer('verona.example', message(juliet.bare, 'from afar'));
        const m = xml('message', { from: 'mercutio@verona.example/street', to: juliet.bare, type: 'chat' }, xml('body', null, 'from afar'));
        await h.fake.fromServer('verona.example', m);
        expect(juliet.take().map((x) => x.getChildText('body'))).toEqual(['from afar']);
      });
    });

    describe('blocking (XEP-0191)', () => {
      it('blocks and unblocks with pushes; nothing passes either way while blocked', async () => {
        const h = await harness();
        const { julietJid, romeoJid, juliet, romeo } = await lovers(h);
        const phone = await h.online(`${julietJid}/phone`);
        const get = blocklistGet();
        expect(answerTo(await juliet.exchange(get), get.attrs.id).getChild('blocklist')?.children).toEqual([]);
        const b = block([romeoJid, 'spam.example']);
        const out = await juliet.exchange(b);
        expect(answerTo(out, b.attrs.id).attrs.type).toBe('result');
        const push = phone.take().find((s) => s.getChild('block', 'urn:xmpp:blocking') !== undefined);
        expect(push?.getChild('block')?.getChildren('item').map((i) => i.attrs.jid)).toEqual([romeoJid, 'spam.example']);
        // Romeo sees Juliet go unavailable (both resources).
        expect(ofKind(romeo.take(), 'presence', 'unavailable').map((p) => p.attrs.from).sort()).toEqual([`${julietJid}/balcony`, `${julietJid}/phone`]);

        const m = message(romeoJid, 'hi');
        const refused = ofKind(await juliet.exchange(m), 'message', 'error')[0];
        expect(errorCondition(refused)).toBe('not-acceptable');
        expect(refused?.getChild('error')?.getChild('blocked', 'urn:xmpp:blocking:errors')).toBeDefined();
        const fromRomeo = ofKind(await romeo.exchange(message(julietJid, 'let me in')), 'message', 'error')[0];
        expect(errorCondition(fromRomeo)).toBe('service-unavailable');
        expect(juliet.take()).toEqual([]);
        const ping1 = iq('get', xml('ping', { xmlns: 'urn:xmpp:ping' }), { to: julietJid });
        expect(errorCondition(answerTo(await romeo.exchange(ping1), ping1.attrs.id))).toBe('service-unavailable');
        // A domain block covers every user there.
        await h.fake.fromServer('spam.example', xml('message', { from: 'bot@spam.example', to: julietJid, type: 'chat' }, xml('body', null, 'buy')));
        expect(juliet.take().filter((s) => s.name === 'message')).toEqual([]);

        const u = unblock([romeoJid]);
        await juliet.exchange(u);
        expect(phone.take().find((s) => s.getChild('unblock') !== undefined)?.getChild('unblock')?.getChildren('item').map((i) => i.attrs.jid)).toEqual([romeoJid]);
        expect(ofKind(romeo.take(), 'presence', '').length).toBe(2); // her presence again
        await romeo.exchange(message(julietJid, 'at last'));
        expect(juliet.take().map((s) => s.getChildText('body'))).toEqual(['at last']);
        // Unblock all (§3.5).
        await juliet.exchange(unblock());
        expect(await h.store.blocking.list(julietJid)).toEqual([]);
      });

      it('refuses bad block requests', async () => {
        const h = await harness({ limits: { maxBlockItemsPerRequest: 2 } });
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const cases: Array<[Element, string]> = [
          [block([]), 'bad-request'],
          [block(['a@@b']), 'jid-malformed'],
          [block(['a@x', 'b@x', 'c@x']), 'bad-request'],
          [iq('get', xml('block', { xmlns: 'urn:xmpp:blocking' })), 'bad-request'],
        ];
        for (const [stanza, condition] of cases) expect(errorCondition(answerTo(await juliet.exchange(stanza), stanza.attrs.id))).toBe(condition);
      });
    });

    describe('iq services (XEP-0030, -0199, -0092, -0054, -0049, -0077)', () => {
      it('disco#info of the domain and of the account; ping; version', async () => {
        const h = await harness({ version: { name: 'Ambrosia', version: '9.9' } });
        const { julietJid, romeo } = await lovers(h);
        const juliet2 = await h.online(`${julietJid}/x`);
        const d = discoInfo(DOMAIN);
        const info = answerTo(await juliet2.exchange(d), d.attrs.id).getChild('query') as Element;
        expect(info.getChild('identity')?.attrs).toMatchObject({ category: 'server', type: 'im' });
        const features = info.getChildren('feature').map((f) => f.attrs.var);
        for (const f of ['urn:xmpp:blocking', 'urn:xmpp:carbons:2', 'vcard-temp', 'jabber:iq:private', 'urn:xmpp:ping', 'msgoffline']) expect(features).toContain(f);
        const own = discoInfo();
        const mine = answerTo(await juliet2.exchange(own), own.attrs.id).getChild('query') as Element;
        expect(mine.getChild('identity')?.attrs).toMatchObject({ category: 'account', type: 'registered' });
        expect(mine.getChildren('feature').map((f) => f.attrs.var)).toContain('urn:xmpp:mam:2');
        // A subscriber may ask about the account; a stranger may not.
        const fromRomeo = discoInfo(julietJid);
        expect(answerTo(await romeo.exchange(fromRomeo), fromRomeo.attrs.id).attrs.type).toBe('result');
        const stranger = await h.online(`${h.user('tybalt')}/street`);
        const fromStranger = discoInfo(julietJid);
        expect(errorCondition(answerTo(await stranger.exchange(fromStranger), fromStranger.attrs.id))).toBe('service-unavailable');
        for (const p of [ping(DOMAIN), ping(julietJid), ping()]) expect(answerTo(await stranger.exchange(p), p.attrs.id).attrs.type).toBe('result');
        const v = versionGet(DOMAIN);
        const version = answerTo(await stranger.exchange(v), v.attrs.id).getChild('query', 'jabber:iq:version');
        expect([version?.getChildText('name'), version?.getChildText('version')]).toEqual(['Ambrosia', '9.9']);
        const reg = iq('get', xml('query', { xmlns: 'jabber:iq:register' }), { to: DOMAIN });
        expect(errorCondition(answerTo(await stranger.exchange(reg), reg.attrs.id))).toBe('service-unavailable');
        const unknown = iq('get', xml('query', { xmlns: 'urn:example:unknown' }));
        expect(errorCondition(answerTo(await stranger.exchange(unknown), unknown.attrs.id))).toBe('service-unavailable');
      });

      it('vCard-temp: set, get own and another user’s, refuse an oversized one', async () => {
        const h = await harness();
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const romeo = await h.online(`${h.user('romeo')}/orchard`);
        const none = vcardGet();
        expect(answerTo(await juliet.exchange(none), none.attrs.id).getChild('vCard', 'vcard-temp')?.children).toEqual([]);
        const set = vcardSet(xml('FN', null, 'Juliet Capulet'));
        expect(answerTo(await juliet.exchange(set), set.attrs.id).attrs.type).toBe('result');
        const get = vcardGet(juliet.bare);
        expect(answerTo(await romeo.exchange(get), get.attrs.id).getChild('vCard')?.getChildText('FN')).toBe('Juliet Capulet');
        const big = vcardSet(xml('PHOTO', null, xml('BINVAL', null, 'A'.repeat(70 * 1024))));
        expect(errorCondition(answerTo(await juliet.exchange(big), big.attrs.id))).toBe('not-acceptable');
        const again = vcardGet();
        expect(answerTo(await juliet.exchange(again), again.attrs.id).getChild('vCard')?.getChildText('FN')).toBe('Juliet Capulet');
      });

      it('private XML storage: per namespace, reserved namespaces refused', async () => {
        const h = await harness();
        const juliet = await h.online(`${h.user('juliet')}/balcony`);
        const empty = privateGet('storage', 'storage:bookmarks');
        const emptyAnswer = answerTo(await juliet.exchange(empty), empty.attrs.id);
        expect(emptyAnswer.getChild('query')?.getChild('storage', 'storage:bookmarks')?.children).toEqual([]);
        const set = privateSet(xml('storage', { xmlns: 'storage:bookmarks' }, xml('conference', { jid: 'room@conference.example.com' })));
        expect(answerTo(await juliet.exchange(set), set.attrs.id).attrs.type).toBe('result');
        const get = privateGet('storage', 'storage:bookmarks');
        expect(answerTo(await juliet.exchange(get), get.attrs.id).getChild('query')?.getChild('storage')?.getChild('conference')?.attrs.jid).toBe('room@conference.example.com');
        for (const [stanza, condition] of [
          [privateGet('query', 'jabber:iq:roster'), 'not-acceptable'],
          [privateGet(juliet.jid.split('/')[1] as string, 'urn:ambrosia:im:session'), 'not-acceptable'],
          [iq('get', xml('query', { xmlns: 'jabber:iq:private' }, xml('a', { xmlns: 'x' }), xml('b', { xmlns: 'x' }))), 'not-acceptable'],
          [iq('get', xml('query', { xmlns: 'jabber:iq:private' }, xml('nons'))), 'bad-request'],
        ] as Array<[Element, string]>) {
          expect(errorCondition(answerTo(await juliet.exchange(stanza), stanza.attrs.id))).toBe(condition);
        }
      });
    });
  });
}
