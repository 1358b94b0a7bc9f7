// The behaviour every IM store implementation must have, as vitest blocks. Run by the memory
// store's tests and by the Redis adapter's (standalone and Cluster). Import it from
// "@ambrosia/im-store/compliance" inside a test file.
//
// The factory contract: every call returns a NEW store handle on the SAME backing data (two calls
// model two IM service instances of one domain), honouring the limits it is given (the bound
// tests pass small ones). Tests use unique accounts, so the data need not be emptied between
// tests. `cleanup` closes what that call created.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isImStoreError, type ImStoreErrorCode } from './errors.js';
import { DEFAULT_IM_STORE_LIMITS, type ImStoreLimits } from './limits.js';
import { EMPTY_ROSTER_VERSION, MAX_JID_BYTES, parseRosterVersion } from './model.js';
import type { ArchivedMessage, ArchiveQueryResult, ImStore, RosterView } from './types.js';

export interface ImStoreComplianceHandle {
  store: ImStore;
  cleanup(): Promise<void>;
}

export type ImStoreComplianceFactory = (limits?: ImStoreLimits) => Promise<ImStoreComplianceHandle>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function account(tag = 'user'): string {
  return `${tag}-${randomUUID().slice(0, 8)}@example.com`;
}

/** Account and contact names that must survive as opaque strings in any key layout. */
const AWKWARD = ['a:b@x', '{tag}@x', 'x}y{z@x', '100%@x', 'slash/part@x', 'pipe|bar@x', 'ünï©ødé@例え.jp', '😀@x', '*?[]@x', 'a\\b@x'];

async function expectCode(promise: Promise<unknown>, code: ImStoreErrorCode): Promise<void> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  expect(error, `expected ${code}`).toBeDefined();
  expect(isImStoreError(error), `expected an ImStoreError, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
}

function counterOf(version: string): number {
  const parsed = parseRosterVersion(version);
  expect(parsed, `version ${version}`).toBeDefined();
  return parsed?.counter ?? -1;
}

function ok<T extends { ok: boolean }>(result: T): Extract<T, { ok: true }> {
  expect(result, JSON.stringify(result)).toMatchObject({ ok: true });
  return result as Extract<T, { ok: true }>;
}

function page(result: ArchiveQueryResult): Extract<ArchiveQueryResult, { ok: true }> {
  return ok(result);
}

function full(view: RosterView): Extract<RosterView, { kind: 'full' }> {
  expect(view.kind).toBe('full');
  return view as Extract<RosterView, { kind: 'full' }>;
}

function delta(view: RosterView): Extract<RosterView, { kind: 'delta' }> {
  expect(view.kind).toBe('delta');
  return view as Extract<RosterView, { kind: 'delta' }>;
}

export function imStoreComplianceSuite(name: string, factory: ImStoreComplianceFactory): void {
  describe(`im-store compliance: ${name}`, () => {
    let main: ImStoreComplianceHandle;
    let store: ImStore;
    const extras: ImStoreComplianceHandle[] = [];

    beforeAll(async () => {
      main = await factory();
      store = main.store;
    });
    afterAll(async () => {
      await Promise.all(extras.map((h) => h.cleanup()));
      await main?.cleanup();
    });

    /** Another store on the same data, with other limits. */
    async function storeWith(limits?: ImStoreLimits): Promise<ImStore> {
      const handle = await factory(limits);
      extras.push(handle);
      return handle.store;
    }

    describe('general', () => {
      it('reports its kind and its limits (defaults unless given)', async () => {
        expect(typeof store.kind).toBe('string');
        expect(store.limits).toEqual(DEFAULT_IM_STORE_LIMITS);
        const small = await storeWith({ maxOfflineMessages: 7, rosterChangeLogSize: 0 });
        expect(small.limits.maxOfflineMessages).toBe(7);
        expect(small.limits.rosterChangeLogSize).toBe(0);
        expect(small.limits.maxArchiveMessages).toBe(DEFAULT_IM_STORE_LIMITS.maxArchiveMessages);
      });

      it('rejects malformed accounts with IM_STORE_INVALID_ARGUMENT', async () => {
        const bad: unknown[] = ['', 'a\nb@x', 'tab\t@x', 'x'.repeat(MAX_JID_BYTES + 1), 'lone\uD800@x', 42, undefined];
        for (const acct of bad) {
          const a = acct as string;
          await expectCode(store.roster.get(a), 'IM_STORE_INVALID_ARGUMENT');
          await expectCode(store.offline.push(a, '<message/>'), 'IM_STORE_INVALID_ARGUMENT');
          await expectCode(store.archive.query(a), 'IM_STORE_INVALID_ARGUMENT');
          await expectCode(store.blocking.list(a), 'IM_STORE_INVALID_ARGUMENT');
          await expectCode(store.vcard.get(a), 'IM_STORE_INVALID_ARGUMENT');
          await expectCode(store.privateXml.get(a, 'q', 'urn:x'), 'IM_STORE_INVALID_ARGUMENT');
          await expectCode(store.deleteAccount(a), 'IM_STORE_INVALID_ARGUMENT');
        }
        // The longest allowed JID works.
        const longest = `${'l'.repeat(MAX_JID_BYTES - 2)}@x`;
        expect(ok(await store.vcard.set(longest, '<vCard/>'))).toEqual({ ok: true });
        expect(await store.vcard.get(longest)).toBe('<vCard/>');
        await store.deleteAccount(longest);
      });

      it('keeps awkward account and contact names apart, byte for byte', async () => {
        const suffix = randomUUID().slice(0, 6);
        const accounts = AWKWARD.map((a) => a.replace('@', `-${suffix}@`));
        for (const [i, acct] of accounts.entries()) {
          const contact = AWKWARD[(i + 1) % AWKWARD.length] as string;
          ok(await store.roster.update(acct, contact, () => ({ item: { name: acct, groups: [contact] } })));
          ok(await store.offline.push(acct, `<message id='${i}'/>`));
          ok(await store.archive.append(acct, { with: contact, direction: 'in', xml: `<message id='${i}'/>` }));
          ok(await store.blocking.add(acct, [contact]));
          ok(await store.vcard.set(acct, `<vCard>${acct}</vCard>`));
          ok(await store.privateXml.set(acct, 'q', contact, `<q xmlns='${contact}'/>`));
        }
        for (const [i, acct] of accounts.entries()) {
          const contact = AWKWARD[(i + 1) % AWKWARD.length] as string;
          expect(full(await store.roster.get(acct)).items).toEqual([{ jid: contact, name: acct, groups: [contact], subscription: 'none', ask: false, approved: false }]);
          expect((await store.offline.peek(acct)).map((m) => m.xml)).toEqual([`<message id='${i}'/>`]);
          const archived = page(await store.archive.query(acct, { with: contact }));
          expect(archived.messages.map((m) => [m.with, m.xml])).toEqual([[contact, `<message id='${i}'/>`]]);
          expect(await store.blocking.list(acct)).toEqual([contact]);
          expect(await store.vcard.get(acct)).toBe(`<vCard>${acct}</vCard>`);
          expect(await store.privateXml.get(acct, 'q', contact)).toBe(`<q xmlns='${contact}'/>`);
        }
        // Names that differ only by a character with meaning in key layouts do not collide.
        expect(await store.vcard.get(`a-${suffix}@x`)).toBeNull();
        expect(await store.vcard.get(`a%3Ab-${suffix}@x`)).toBeNull();
        for (const acct of accounts) await store.deleteAccount(acct);
      });

      it('deleteAccount removes everything of that account and nothing else', async () => {
        const doomed = account('doomed');
        const bystander = account('bystander');
        for (const acct of [doomed, bystander]) {
          ok(await store.roster.update(acct, 'c@x', () => ({ item: { groups: ['g'] }, pendingIn: { status: 'hi' } })));
          ok(await store.roster.update(acct, 'p@x', () => ({ pendingIn: {} })));
          ok(await store.offline.push(acct, '<message/>'));
          ok(await store.archive.append(acct, { with: 'c@x', direction: 'out', xml: '<message/>' }));
          ok(await store.blocking.add(acct, ['spam@x']));
          ok(await store.vcard.set(acct, '<vCard/>'));
          ok(await store.privateXml.set(acct, 'q', 'urn:x', '<q/>'));
          ok(await store.presence.set(acct, 'phone', '<presence/>'));
        }
        const oldVersion = await store.roster.version(doomed);
        await store.deleteAccount(doomed);

        expect(full(await store.roster.get(doomed))).toEqual({ kind: 'full', version: EMPTY_ROSTER_VERSION, items: [] });
        expect(await store.roster.listPending(doomed)).toEqual([]);
        expect(await store.offline.stats(doomed)).toEqual({ count: 0, bytes: 0 });
        expect(page(await store.archive.query(doomed)).count).toBe(0);
        expect(await store.blocking.list(doomed)).toEqual([]);
        expect(await store.vcard.get(doomed)).toBeNull();
        expect(await store.privateXml.get(doomed, 'q', 'urn:x')).toBeNull();
        expect(await store.presence.list(doomed)).toEqual([]);
        expect((await store.presence.list(bystander)).map((p) => p.resource)).toEqual(['phone']);

        expect(full(await store.roster.get(bystander)).items).toHaveLength(1);
        expect(await store.roster.listPending(bystander)).toHaveLength(2);
        expect((await store.offline.stats(bystander)).count).toBe(1);
        expect(page(await store.archive.query(bystander)).count).toBe(1);
        expect(await store.blocking.list(bystander)).toEqual(['spam@x']);
        expect(await store.vcard.get(bystander)).toBe('<vCard/>');
        expect(await store.privateXml.get(bystander, 'q', 'urn:x')).toBe('<q/>');

        // Recreated, the roster never reuses a version of the deleted one: the old version gets the full roster.
        ok(await store.roster.update(doomed, 'c@x', () => ({ item: {} })));
        const recreated = await store.roster.version(doomed);
        expect(recreated).not.toBe(oldVersion);
        expect((await store.roster.get(doomed, oldVersion)).kind).toBe('full');
        await store.deleteAccount(doomed);
        await store.deleteAccount(bystander);
        await store.deleteAccount(doomed); // idempotent
      });

      it('fails every call with IM_STORE_CLOSED after close(), which is idempotent', async () => {
        const handle = await factory();
        const closing = handle.store;
        const acct = account();
        ok(await closing.vcard.set(acct, '<vCard/>'));
        await closing.close();
        await closing.close();
        await expectCode(closing.vcard.get(acct), 'IM_STORE_CLOSED');
        await expectCode(closing.roster.get(acct), 'IM_STORE_CLOSED');
        await expectCode(closing.offline.push(acct, '<m/>'), 'IM_STORE_CLOSED');
        await expectCode(closing.archive.append(acct, { with: 'c@x', direction: 'in', xml: '<m/>' }), 'IM_STORE_CLOSED');
        await expectCode(closing.blocking.add(acct, ['x@y']), 'IM_STORE_CLOSED');
        await expectCode(closing.privateXml.set(acct, 'q', 'urn:x', '<q/>'), 'IM_STORE_CLOSED');
        await expectCode(closing.deleteAccount(acct), 'IM_STORE_CLOSED');
        await handle.cleanup();
        // The data outlives the handle.
        expect(await store.vcard.get(acct)).toBe('<vCard/>');
        await store.deleteAccount(acct);
      });
    });

    describe('roster (RFC 6121 §2, XEP-0237)', () => {
      it('an account never written has an empty roster at version "0"', async () => {
        const acct = account();
        expect(await store.roster.get(acct)).toEqual({ kind: 'full', version: EMPTY_ROSTER_VERSION, items: [] });
        expect(await store.roster.get(acct, EMPTY_ROSTER_VERSION)).toEqual({ kind: 'full', version: EMPTY_ROSTER_VERSION, items: [] });
        expect(await store.roster.version(acct)).toBe(EMPTY_ROSTER_VERSION);
        expect(await store.roster.getContact(acct, 'c@x')).toEqual({ jid: 'c@x', item: null, pendingIn: null, revision: '0', rosterVersion: EMPTY_ROSTER_VERSION });
        expect(await store.roster.listPending(acct)).toEqual([]);
      });

      it('adds an item with defaults, deduplicated sorted groups, no empty name, and a new version', async () => {
        const acct = account();
        const result = ok(await store.roster.update(acct, 'nurse@example.com', () => ({ item: { name: '', groups: ['Servants', 'Family', 'Servants'] } })));
        expect(result.itemChanged).toBe(true);
        expect(result.previous.item).toBeNull();
        const expected = { jid: 'nurse@example.com', groups: ['Family', 'Servants'], subscription: 'none', ask: false, approved: false };
        expect(result.contact.item).toEqual(expected);
        expect(result.version).not.toBe(EMPTY_ROSTER_VERSION);
        expect(result.contact.rosterVersion).toBe(result.version);
        expect(counterOf(result.version)).toBe(1);
        expect(await store.roster.get(acct)).toEqual({ kind: 'full', version: result.version, items: [expected] });
        expect(await store.roster.version(acct)).toBe(result.version);

        const named = ok(
          await store.roster.update(acct, 'romeo@example.net', () => ({
            item: { jid: 'romeo@example.net', name: 'Romeo', groups: [], subscription: 'both', ask: true, approved: true },
          })),
        );
        expect(named.contact.item).toEqual({ jid: 'romeo@example.net', name: 'Romeo', groups: [], subscription: 'both', ask: true, approved: true });
        expect(counterOf(named.version)).toBe(2);
        expect(full(await store.roster.get(acct)).items.map((i) => i.jid)).toEqual(['nurse@example.com', 'romeo@example.net']);
        await store.deleteAccount(acct);
      });

      it('answers deltas since a version: each changed contact once, latest state, removals, in change order', async () => {
        const acct = account();
        const v1 = ok(await store.roster.update(acct, 'a@x', () => ({ item: { name: 'A' } }))).version;
        const v2 = ok(await store.roster.update(acct, 'b@x', () => ({ item: { name: 'B' } }))).version;
        const v3 = ok(await store.roster.update(acct, 'c@x', () => ({ item: { name: 'C' } }))).version;
        ok(await store.roster.update(acct, 'a@x', (c) => ({ item: { ...c.item, name: 'A2' } })));
        const removed = ok(await store.roster.update(acct, 'b@x', () => ({ item: null })));
        expect(removed.itemChanged).toBe(true);
        expect(removed.contact.item).toBeNull();
        const v5 = removed.version;
        expect(new Set([v1, v2, v3, v5]).size).toBe(4);
        expect(counterOf(v5)).toBe(5);

        expect(delta(await store.roster.get(acct, v1)).changes).toEqual([
          { jid: 'c@x', item: { jid: 'c@x', name: 'C', groups: [], subscription: 'none', ask: false, approved: false } },
          { jid: 'a@x', item: { jid: 'a@x', name: 'A2', groups: [], subscription: 'none', ask: false, approved: false } },
          { jid: 'b@x', removed: true },
        ]);
        expect(delta(await store.roster.get(acct, v3)).changes.map((c) => c.jid)).toEqual(['a@x', 'b@x']);
        // Up to date: an empty delta at the same version (RFC 6121 §2.6: then only pushes follow).
        expect(await store.roster.get(acct, v5)).toEqual({ kind: 'delta', version: v5, changes: [] });
        // Deltas never include a contact that was added then removed as an item.
        expect(full(await store.roster.get(acct)).items.map((i) => i.jid)).toEqual(['a@x', 'c@x']);
        await store.deleteAccount(acct);
      });

      it('gives the full roster for versions it cannot answer for', async () => {
        const acct = account();
        const v1 = ok(await store.roster.update(acct, 'a@x', () => ({ item: {} }))).version;
        const v2 = ok(await store.roster.update(acct, 'b@x', () => ({ item: {} }))).version;
        const epoch = v2.slice(0, v2.indexOf('-'));
        for (const unknown of ['', 'garbage', '0', '-1', `${epoch}-99`, `${epoch}x-1`, `zzzzz-1`, `${epoch}-1.5`, `${v1} `]) {
          const view = await store.roster.get(acct, unknown);
          expect(view.kind, `since ${JSON.stringify(unknown)}`).toBe('full');
          expect(view.version).toBe(v2);
        }
        await expectCode(store.roster.get(acct, 5 as unknown as string), 'IM_STORE_INVALID_ARGUMENT');
        await store.deleteAccount(acct);
      });

      it('forgets changes beyond rosterChangeLogSize: older versions get the full roster', async () => {
        const small = await storeWith({ rosterChangeLogSize: 3 });
        const acct = account();
        const versions: string[] = [];
        for (const contact of ['a@x', 'b@x', 'c@x', 'd@x', 'e@x']) versions.push(ok(await small.roster.update(acct, contact, () => ({ item: {} }))).version);
        // Changes 3, 4, 5 are remembered: deltas since version 2 or later, full before.
        expect((await small.roster.get(acct, versions[0])).kind).toBe('full');
        expect(delta(await small.roster.get(acct, versions[1])).changes.map((c) => c.jid)).toEqual(['c@x', 'd@x', 'e@x']);
        expect(delta(await small.roster.get(acct, versions[3])).changes.map((c) => c.jid)).toEqual(['e@x']);
        // One contact changing again occupies one entry, not two.
        ok(await small.roster.update(acct, 'e@x', () => ({ item: { name: 'E' } })));
        expect(delta(await small.roster.get(acct, versions[1])).changes.map((c) => c.jid)).toEqual(['c@x', 'd@x', 'e@x']);

        const none = await storeWith({ rosterChangeLogSize: 0 });
        const other = account();
        const only = ok(await none.roster.update(other, 'a@x', () => ({ item: {} }))).version;
        const later = ok(await none.roster.update(other, 'b@x', () => ({ item: {} }))).version;
        expect((await none.roster.get(other, only)).kind).toBe('full');
        expect(await none.roster.get(other, later)).toEqual({ kind: 'delta', version: later, changes: [] });
        await store.deleteAccount(acct);
        await store.deleteAccount(other);
      });

      it('a change that changes nothing writes nothing: same version, same revision', async () => {
        const acct = account();
        const first = ok(await store.roster.update(acct, 'a@x', () => ({ item: { name: 'A', groups: ['x', 'y'] } })));
        const same = ok(await store.roster.update(acct, 'a@x', () => ({ item: { name: 'A', groups: ['y', 'x', 'y'] } })));
        expect(same.itemChanged).toBe(false);
        expect(same.version).toBe(first.version);
        expect(same.contact.revision).toBe(first.contact.revision);
        const untouched = ok(await store.roster.update(acct, 'a@x', () => undefined));
        expect(untouched.itemChanged).toBe(false);
        expect(untouched.contact).toEqual(first.contact);
        const removeAbsent = ok(await store.roster.update(acct, 'nobody@x', () => ({ item: null, pendingIn: null })));
        expect(removeAbsent.itemChanged).toBe(false);
        expect(removeAbsent.version).toBe(first.version);
        await store.deleteAccount(acct);
      });

      it('compareAndSet refuses a stale revision and writes nothing', async () => {
        const acct = account();
        const read = await store.roster.getContact(acct, 'a@x');
        ok(await store.roster.compareAndSet(acct, 'a@x', read.revision, { item: { name: 'first' } }));
        expect(await store.roster.compareAndSet(acct, 'a@x', read.revision, { item: { name: 'stale' } })).toEqual({ ok: false, reason: 'conflict' });
        expect(await store.roster.compareAndSet(acct, 'a@x', 'not-a-revision', { item: { name: 'stale' } })).toEqual({ ok: false, reason: 'conflict' });
        const now = await store.roster.getContact(acct, 'a@x');
        expect(now.item?.name).toBe('first');
        expect(counterOf(now.rosterVersion)).toBe(1);
        const next = ok(await store.roster.compareAndSet(acct, 'a@x', now.revision, { item: { ...now.item, name: 'second' } }));
        expect(next.contact.item?.name).toBe('second');
        expect(next.contact.revision).not.toBe(now.revision);
        await store.deleteAccount(acct);
      });

      it('of many compare-and-sets from one read exactly one wins', async () => {
        const acct = account();
        const read = await store.roster.getContact(acct, 'a@x');
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.roster.compareAndSet(acct, 'a@x', read.revision, { item: { name: `n${i}` } })));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok && r.reason === 'conflict')).toHaveLength(9);
        expect(counterOf(await store.roster.version(acct))).toBe(1);
        await store.deleteAccount(acct);
      });

      it('concurrent updates of different contacts: every one lands, each with its own version', async () => {
        const acct = account();
        const base = ok(await store.roster.update(acct, 'base@x', () => ({ item: {} }))).version;
        const contacts = Array.from({ length: 20 }, (_, i) => `c${i}@x`);
        const results = await Promise.all(contacts.map((c) => store.roster.update(acct, c, () => ({ item: { name: c } }))));
        const versions = results.map((r) => ok(r).version);
        expect(new Set(versions).size).toBe(20);
        expect(versions.map(counterOf).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
        expect(counterOf(await store.roster.version(acct))).toBe(21);
        const changes = delta(await store.roster.get(acct, base)).changes;
        expect(changes.map((c) => c.jid).sort()).toEqual([...contacts].sort());
        expect(full(await store.roster.get(acct)).items).toHaveLength(21);
        await store.deleteAccount(acct);
      });

      it('concurrent read-modify-writes of one contact lose no update', async () => {
        const acct = account();
        const groups = Array.from({ length: 12 }, (_, i) => `g${String(i).padStart(2, '0')}`);
        const results = await Promise.all(
          groups.map((g) => store.roster.update(acct, 'hot@x', (c) => ({ item: { ...c.item, groups: [...(c.item?.groups ?? []), g] } }))),
        );
        for (const r of results) expect(ok(r).itemChanged).toBe(true);
        const item = (await store.roster.getContact(acct, 'hot@x')).item;
        expect(item?.groups).toEqual(groups);
        expect(counterOf(await store.roster.version(acct))).toBe(12);
        // Every write saw the one before it: the versions are 1..12 and each previous state had one group fewer.
        expect(results.map((r) => counterOf(ok(r).version)).sort((a, b) => a - b)).toEqual(groups.map((_, i) => i + 1));
        expect(results.map((r) => ok(r).previous.item?.groups.length ?? 0).sort((a, b) => a - b)).toEqual(groups.map((_, i) => i));
        await store.deleteAccount(acct);
      });

      it('two store handles racing on one contact lose no update', async () => {
        const other = await storeWith();
        const acct = account();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 === 0 ? store : other).roster.update(acct, 'hot@x', (c) => ({ item: { ...c.item, groups: [...(c.item?.groups ?? []), `g${i}`] } })),
          ),
        );
        for (const r of results) ok(r);
        expect((await store.roster.getContact(acct, 'hot@x')).item?.groups).toHaveLength(10);
        expect(await other.roster.getContact(acct, 'hot@x')).toEqual(await store.roster.getContact(acct, 'hot@x'));
        expect(counterOf(await other.roster.version(acct))).toBe(10);
        await store.deleteAccount(acct);
      });

      it('keeps pending inbound requests apart from the roster (RFC 6121 §3.1.3)', async () => {
        const acct = account();
        const before = await store.roster.version(acct);
        const stored = ok(await store.roster.update(acct, 'romeo@x', () => ({ pendingIn: { status: 'Wherefore?' } })));
        expect(stored.itemChanged).toBe(false);
        expect(stored.version).toBe(before);
        expect(stored.contact.item).toBeNull();
        expect(stored.contact.pendingIn).toMatchObject({ jid: 'romeo@x', status: 'Wherefore?' });
        const stamp = stored.contact.pendingIn?.stamp ?? 0;
        expect(Math.abs(stamp - Date.now())).toBeLessThan(60_000);
        expect(full(await store.roster.get(acct)).items).toEqual([]);
        expect(await store.roster.version(acct)).toBe(before);

        await sleep(5);
        ok(await store.roster.update(acct, 'tybalt@x', () => ({ pendingIn: {} })));
        const listed = await store.roster.listPending(acct);
        expect(listed.map((p) => p.jid)).toEqual(['romeo@x', 'tybalt@x']);
        expect(listed[0]).toEqual({ jid: 'romeo@x', status: 'Wherefore?', stamp });
        expect(listed[1]).not.toHaveProperty('status');

        // The same request again keeps its first stamp; another status replaces it.
        const again = ok(await store.roster.update(acct, 'romeo@x', () => ({ pendingIn: { status: 'Wherefore?' } })));
        expect(again.contact.pendingIn?.stamp).toBe(stamp);
        expect(again.contact.revision).toBe(stored.contact.revision);
        const changed = ok(await store.roster.update(acct, 'romeo@x', () => ({ pendingIn: { status: 'Art thou?' } })));
        expect(changed.contact.pendingIn?.status).toBe('Art thou?');
        expect(changed.contact.pendingIn?.stamp).toBeGreaterThanOrEqual(stamp);

        // Approval (§3.1.5) in one atomic step: the item becomes 'from' and the request goes.
        const approved = ok(await store.roster.update(acct, 'romeo@x', (c) => ({ item: { ...c.item, subscription: 'from' }, pendingIn: null })));
        expect(approved.itemChanged).toBe(true);
        expect(approved.contact.pendingIn).toBeNull();
        expect(approved.contact.item?.subscription).toBe('from');
        expect((await store.roster.listPending(acct)).map((p) => p.jid)).toEqual(['tybalt@x']);
        // Denial: the request goes, nothing else changes; the contact is forgotten.
        const denied = ok(await store.roster.update(acct, 'tybalt@x', () => ({ pendingIn: null })));
        expect(denied.contact).toMatchObject({ item: null, pendingIn: null, revision: '0' });
        expect(await store.roster.listPending(acct)).toEqual([]);
        await store.deleteAccount(acct);
      });

      it('refuses a new item beyond maxRosterItems, but still updates and removes existing ones', async () => {
        const small = await storeWith({ maxRosterItems: 2 });
        const acct = account();
        ok(await small.roster.update(acct, 'a@x', () => ({ item: {} })));
        ok(await small.roster.update(acct, 'b@x', () => ({ item: {} })));
        const version = await small.roster.version(acct);
        expect(await small.roster.update(acct, 'c@x', () => ({ item: {} }))).toEqual({ ok: false, reason: 'roster-full', limit: 2 });
        expect(await small.roster.version(acct)).toBe(version);
        expect((await small.roster.getContact(acct, 'c@x')).item).toBeNull();
        ok(await small.roster.update(acct, 'b@x', () => ({ item: { name: 'B' } })));
        // A pending request is not an item: still accepted.
        ok(await small.roster.update(acct, 'c@x', () => ({ pendingIn: {} })));
        ok(await small.roster.update(acct, 'a@x', () => ({ item: null })));
        ok(await small.roster.update(acct, 'c@x', () => ({ item: {} })));
        expect(full(await small.roster.get(acct)).items.map((i) => i.jid)).toEqual(['b@x', 'c@x']);
        await store.deleteAccount(acct);
      });

      it('refuses a new pending request beyond maxPendingSubscriptions', async () => {
        const small = await storeWith({ maxPendingSubscriptions: 1 });
        const acct = account();
        ok(await small.roster.update(acct, 'a@x', () => ({ pendingIn: {} })));
        expect(await small.roster.update(acct, 'b@x', () => ({ pendingIn: { status: 'hi' } }))).toEqual({ ok: false, reason: 'pending-full', limit: 1 });
        // Nothing of the refused change was applied, not even its item half.
        expect(await small.roster.update(acct, 'b@x', () => ({ item: {}, pendingIn: {} }))).toEqual({ ok: false, reason: 'pending-full', limit: 1 });
        expect((await small.roster.getContact(acct, 'b@x')).item).toBeNull();
        ok(await small.roster.update(acct, 'a@x', () => ({ pendingIn: { status: 'replaced' } })));
        expect((await small.roster.listPending(acct)).map((p) => [p.jid, p.status])).toEqual([['a@x', 'replaced']]);
        await store.deleteAccount(acct);
      });

      it('refuses names, groups and statuses beyond their limits (RFC 6121 §2.3.3)', async () => {
        const small = await storeWith({ maxRosterNameBytes: 4, maxRosterGroups: 2, maxRosterGroupBytes: 3, maxPendingStatusBytes: 5 });
        const acct = account();
        ok(await small.roster.update(acct, 'a@x', () => ({ item: { name: 'abcd', groups: ['abc', 'é'] }, pendingIn: { status: 'fivé' } })));
        // 'é' is two bytes: limits count UTF-8 bytes.
        expect(await small.roster.update(acct, 'b@x', () => ({ item: { name: 'abcé' } }))).toEqual({ ok: false, reason: 'too-large', field: 'name', limit: 4 });
        expect(await small.roster.update(acct, 'b@x', () => ({ item: { groups: ['abcd'] } }))).toEqual({ ok: false, reason: 'too-large', field: 'group', limit: 3 });
        expect(await small.roster.update(acct, 'b@x', () => ({ item: { groups: ['a', 'b', 'c'] } }))).toEqual({ ok: false, reason: 'too-large', field: 'groups', limit: 2 });
        // Duplicates do not count twice.
        ok(await small.roster.update(acct, 'b@x', () => ({ item: { groups: ['a', 'b', 'a'] } })));
        expect(await small.roster.update(acct, 'c@x', () => ({ pendingIn: { status: 'sixsix' } }))).toEqual({ ok: false, reason: 'too-large', field: 'status', limit: 5 });
        await store.deleteAccount(acct);
      });

      it('rejects malformed changes with IM_STORE_INVALID_ARGUMENT', async () => {
        const acct = account();
        const cases: unknown[] = [
          { item: { jid: 'someone-else@x' } },
          { item: { subscription: 'remove' } },
          { item: { groups: [''] } },
          { item: { groups: 'g' } },
          { item: { ask: 'yes' } },
          { item: 'a@x' },
          { pendingIn: { status: 5 } },
          null,
        ];
        for (const change of cases) {
          const read = await store.roster.getContact(acct, 'a@x');
          await expectCode(store.roster.compareAndSet(acct, 'a@x', read.revision, change as never), 'IM_STORE_INVALID_ARGUMENT');
        }
        await expectCode(store.roster.getContact(acct, ''), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.roster.update(acct, 'a@x', 'not a function' as never), 'IM_STORE_INVALID_ARGUMENT');
        expect(await store.roster.version(acct)).toBe(EMPTY_ROSTER_VERSION);
      });
    });

    describe('offline messages (XEP-0160)', () => {
      it('starts empty', async () => {
        const acct = account();
        expect(await store.offline.peek(acct)).toEqual([]);
        expect(await store.offline.stats(acct)).toEqual({ count: 0, bytes: 0 });
        expect(await store.offline.ack(acct, String(Number.MAX_SAFE_INTEGER).padStart(16, '0'))).toBe(0);
        expect(await store.offline.remove(acct, ['0000000000000001'])).toBe(0);
        expect(await store.offline.clear(acct)).toBe(0);
      });

      it('queues in order with increasing ids, stamps and UTF-8 byte counts', async () => {
        const acct = account();
        const xmls = ['<message><body>1</body></message>', '<message><body>é</body></message>', '<message><body>😀|\n{x}</body></message>'];
        const pushed = [];
        for (const xml of xmls) pushed.push(ok(await store.offline.push(acct, xml)));
        const ids = pushed.map((p) => p.id);
        expect([...ids].sort()).toEqual(ids);
        expect(new Set(ids).size).toBe(3);
        for (const p of pushed) {
          expect(p.id).toMatch(/^[0-9]{16}$/);
          expect(Math.abs(p.stamp - Date.now())).toBeLessThan(60_000);
          expect(p.stamp).toBe(Math.floor(Number(p.id) / 1000));
        }
        const totalBytes = xmls.reduce((n, x) => n + Buffer.byteLength(x), 0);
        expect(pushed.map((p) => p.count)).toEqual([1, 2, 3]);
        expect(pushed[2]?.bytes).toBe(totalBytes);
        expect(await store.offline.stats(acct)).toEqual({ count: 3, bytes: totalBytes });
        expect(await store.offline.peek(acct)).toEqual(pushed.map((p, i) => ({ id: p.id, stamp: p.stamp, xml: xmls[i] })));
        await store.deleteAccount(acct);
      });

      it('peek never removes; ack removes up to an id only, so later arrivals survive', async () => {
        const acct = account();
        for (let i = 0; i < 5; i++) ok(await store.offline.push(acct, `<m n='${i}'/>`));
        const first = await store.offline.peek(acct, { max: 3 });
        expect(first.map((m) => m.xml)).toEqual(["<m n='0'/>", "<m n='1'/>", "<m n='2'/>"]);
        expect(await store.offline.peek(acct, { max: 3 })).toEqual(first);
        const rest = await store.offline.peek(acct, { after: first[2]?.id });
        expect(rest.map((m) => m.xml)).toEqual(["<m n='3'/>", "<m n='4'/>"]);
        expect(await store.offline.peek(acct, { after: rest[1]?.id })).toEqual([]);
        expect(await store.offline.peek(acct, { max: 0 })).toEqual([]);

        ok(await store.offline.push(acct, "<m n='5'/>")); // arrives while the first page is delivered
        expect(await store.offline.ack(acct, first[2]?.id as string)).toBe(3);
        expect(await store.offline.ack(acct, first[2]?.id as string)).toBe(0);
        expect((await store.offline.peek(acct)).map((m) => m.xml)).toEqual(["<m n='3'/>", "<m n='4'/>", "<m n='5'/>"]);
        expect((await store.offline.stats(acct)).count).toBe(3);
        await store.deleteAccount(acct);
      });

      it('removes single messages and clears, keeping the byte count exact', async () => {
        const acct = account();
        const ids = [];
        for (let i = 0; i < 4; i++) ids.push(ok(await store.offline.push(acct, `<m>${'é'.repeat(i)}</m>`)).id);
        expect(await store.offline.remove(acct, [ids[1] as string, ids[3] as string, ids[3] as string, '0000000000000042'])).toBe(2);
        expect((await store.offline.peek(acct)).map((m) => m.id)).toEqual([ids[0], ids[2]]);
        expect(await store.offline.stats(acct)).toEqual({ count: 2, bytes: Buffer.byteLength('<m></m>') + Buffer.byteLength('<m>éé</m>') });
        expect(await store.offline.clear(acct)).toBe(2);
        expect(await store.offline.stats(acct)).toEqual({ count: 0, bytes: 0 });
        await store.deleteAccount(acct);
      });

      it('refuses messages beyond maxOfflineMessages and maxOfflineBytes, and accepts again after an ack', async () => {
        const small = await storeWith({ maxOfflineMessages: 3, maxOfflineBytes: 20 });
        const acct = account();
        expect(await small.offline.push(acct, 'x'.repeat(21))).toEqual({ ok: false, reason: 'too-large', limit: 20 });
        const a = ok(await small.offline.push(acct, 'x'.repeat(8)));
        ok(await small.offline.push(acct, 'x'.repeat(8)));
        expect(await small.offline.push(acct, 'x'.repeat(5))).toEqual({ ok: false, reason: 'queue-full', bound: 'bytes', limit: 20 });
        ok(await small.offline.push(acct, 'x'.repeat(4))); // exactly 20 bytes
        expect(await small.offline.push(acct, 'x')).toEqual({ ok: false, reason: 'queue-full', bound: 'messages', limit: 3 });
        expect(await small.offline.stats(acct)).toEqual({ count: 3, bytes: 20 });
        expect(await small.offline.ack(acct, a.id)).toBe(1);
        ok(await small.offline.push(acct, 'x'));
        expect(await small.offline.stats(acct)).toEqual({ count: 3, bytes: 13 });
        await store.deleteAccount(acct);
      });

      it('clamps pages to maxOfflinePage', async () => {
        const small = await storeWith({ maxOfflinePage: 2 });
        const acct = account();
        for (let i = 0; i < 4; i++) ok(await small.offline.push(acct, `<m n='${i}'/>`));
        expect(await small.offline.peek(acct, { max: 100 })).toHaveLength(2);
        expect(await small.offline.peek(acct)).toHaveLength(2);
        await store.deleteAccount(acct);
      });

      it('gives concurrent pushes distinct increasing ids', async () => {
        const acct = account();
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.offline.push(acct, `<m n='${i}'/>`)));
        const ids = results.map((r) => ok(r).id);
        expect(new Set(ids).size).toBe(50);
        const peeked = await store.offline.peek(acct, { max: 100 });
        expect(peeked.map((m) => m.id)).toEqual([...ids].sort());
        await store.deleteAccount(acct);
      });

      it('rejects malformed ids and payloads with IM_STORE_INVALID_ARGUMENT', async () => {
        const acct = account();
        await expectCode(store.offline.ack(acct, 'abc'), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.offline.ack(acct, '12'), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.offline.peek(acct, { after: '1' }), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.offline.peek(acct, { max: -1 }), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.offline.remove(acct, ['x']), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.offline.push(acct, 5 as unknown as string), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.offline.push(acct, 'lone \uDC00'), 'IM_STORE_INVALID_ARGUMENT');
      });
    });

    describe('message archive (XEP-0313, RSM XEP-0059)', () => {
      async function fill(target: ImStore, acct: string, count: number, withOf: (i: number) => string = () => 'juliet@x'): Promise<ArchivedMessage[]> {
        const appended: ArchivedMessage[] = [];
        for (let i = 0; i < count; i++) {
          const message = { with: withOf(i), direction: (i % 2 === 0 ? 'in' : 'out') as 'in' | 'out', xml: `<message n='${i}'/>` };
          const r = ok(await target.archive.append(acct, message));
          appended.push({ id: r.id, stamp: r.stamp, ...message });
        }
        return appended;
      }
      const ids = (messages: readonly ArchivedMessage[]) => messages.map((m) => m.id);

      it('an empty archive: no messages, complete, count 0, no first/last', async () => {
        const acct = account();
        expect(await store.archive.query(acct)).toEqual({ ok: true, messages: [], complete: true, count: 0 });
        expect(await store.archive.query(acct, { before: '' })).toEqual({ ok: true, messages: [], complete: true, count: 0 });
        expect(await store.archive.query(acct, { with: 'x@y', max: 0 })).toEqual({ ok: true, messages: [], complete: true, count: 0 });
        expect(await store.archive.clear(acct)).toBe(0);
      });

      it('stores what it was given, in order, with unique increasing ids', async () => {
        const acct = account();
        const appended = await fill(store, acct, 5);
        expect([...ids(appended)].sort()).toEqual(ids(appended));
        expect(new Set(ids(appended)).size).toBe(5);
        for (const m of appended) expect(m.stamp).toBe(Math.floor(Number(m.id) / 1000));
        const all = page(await store.archive.query(acct));
        expect(all.messages).toEqual(appended);
        expect(all).toMatchObject({ complete: true, count: 5, first: appended[0]?.id, last: appended[4]?.id });
        await store.deleteAccount(acct);
      });

      it('pages forward with after, exact page boundaries included', async () => {
        const acct = account();
        const appended = await fill(store, acct, 10);
        const p1 = page(await store.archive.query(acct, { max: 5 }));
        expect(ids(p1.messages)).toEqual(ids(appended.slice(0, 5)));
        expect(p1).toMatchObject({ complete: false, count: 10, first: appended[0]?.id, last: appended[4]?.id });
        const p2 = page(await store.archive.query(acct, { max: 5, after: p1.last }));
        expect(ids(p2.messages)).toEqual(ids(appended.slice(5)));
        expect(p2).toMatchObject({ complete: true, count: 10 });
        expect(await store.archive.query(acct, { max: 5, after: p2.last })).toEqual({ ok: true, messages: [], complete: true, count: 10 });
        // Uneven pages: 4, 4, 2.
        const q1 = page(await store.archive.query(acct, { max: 4 }));
        const q2 = page(await store.archive.query(acct, { max: 4, after: q1.last }));
        const q3 = page(await store.archive.query(acct, { max: 4, after: q2.last }));
        expect([q1.messages.length, q2.messages.length, q3.messages.length]).toEqual([4, 4, 2]);
        expect([q1.complete, q2.complete, q3.complete]).toEqual([false, false, true]);
        expect([...ids(q1.messages), ...ids(q2.messages), ...ids(q3.messages)]).toEqual(ids(appended));
        await store.deleteAccount(acct);
      });

      it('pages backward with before (the last page first), each page in chronological order', async () => {
        const acct = account();
        const appended = await fill(store, acct, 10);
        const last = page(await store.archive.query(acct, { max: 4, before: '' }));
        expect(ids(last.messages)).toEqual(ids(appended.slice(6)));
        expect(last).toMatchObject({ complete: false, count: 10, first: appended[6]?.id, last: appended[9]?.id });
        const middle = page(await store.archive.query(acct, { max: 4, before: last.first }));
        expect(ids(middle.messages)).toEqual(ids(appended.slice(2, 6)));
        expect(middle.complete).toBe(false);
        const oldest = page(await store.archive.query(acct, { max: 4, before: middle.first }));
        expect(ids(oldest.messages)).toEqual(ids(appended.slice(0, 2)));
        expect(oldest.complete).toBe(true);
        expect(await store.archive.query(acct, { max: 4, before: appended[0]?.id })).toEqual({ ok: true, messages: [], complete: true, count: 10 });
        // Exact boundary backward: 10 = 5 + 5.
        const b1 = page(await store.archive.query(acct, { max: 5, before: '' }));
        const b2 = page(await store.archive.query(acct, { max: 5, before: b1.first }));
        expect([b1.complete, b2.complete]).toEqual([false, true]);
        expect([...ids(b2.messages), ...ids(b1.messages)]).toEqual(ids(appended));
        // Both after and before: the messages strictly between, paged backward.
        const between = page(await store.archive.query(acct, { after: appended[2]?.id, before: appended[7]?.id, max: 3 }));
        expect(ids(between.messages)).toEqual(ids(appended.slice(4, 7)));
        expect(between.complete).toBe(false);
        await store.deleteAccount(acct);
      });

      it('filters by correspondent, and pages within the filter', async () => {
        const acct = account();
        const appended = await fill(store, acct, 12, (i) => (i % 3 === 0 ? 'romeo@x' : 'nurse|maid@x'));
        const romeo = appended.filter((m) => m.with === 'romeo@x');
        const all = page(await store.archive.query(acct, { with: 'romeo@x' }));
        expect(all.messages).toEqual(romeo);
        expect(all.count).toBe(4);
        const p1 = page(await store.archive.query(acct, { with: 'romeo@x', max: 2 }));
        const p2 = page(await store.archive.query(acct, { with: 'romeo@x', max: 2, after: p1.last }));
        expect([...ids(p1.messages), ...ids(p2.messages)]).toEqual(ids(romeo));
        expect([p1.complete, p2.complete]).toEqual([false, true]);
        const back = page(await store.archive.query(acct, { with: 'romeo@x', max: 3, before: '' }));
        expect(ids(back.messages)).toEqual(ids(romeo.slice(1)));
        expect(back.complete).toBe(false);
        // after/before may name a message of another correspondent: paging is by position.
        const fromOther = page(await store.archive.query(acct, { with: 'romeo@x', after: appended[1]?.id }));
        expect(ids(fromOther.messages)).toEqual(ids(romeo.slice(1)));
        expect(page(await store.archive.query(acct, { with: 'nurse|maid@x' })).count).toBe(8);
        expect(page(await store.archive.query(acct, { with: 'nobody@x' }))).toEqual({ ok: true, messages: [], complete: true, count: 0 });
        // A bare JID that is a prefix of another's encoding does not match it.
        expect(page(await store.archive.query(acct, { with: 'nurse@x' })).count).toBe(0);
        await store.deleteAccount(acct);
      });

      it('filters by time, start and end inclusive', async () => {
        const acct = account();
        const appended: ArchivedMessage[] = [];
        for (let i = 0; i < 4; i++) {
          appended.push(...(await fill(store, acct, 2)));
          await sleep(5);
        }
        const stamps = [...new Set(appended.map((m) => m.stamp))];
        expect(stamps.length).toBeGreaterThanOrEqual(2);
        const pivot = stamps[1] as number;
        const atOrAfter = appended.filter((m) => m.stamp >= pivot);
        const atOrBefore = appended.filter((m) => m.stamp <= pivot);
        const at = appended.filter((m) => m.stamp === pivot);
        expect(page(await store.archive.query(acct, { start: pivot })).messages).toEqual(atOrAfter);
        expect(page(await store.archive.query(acct, { end: pivot })).messages).toEqual(atOrBefore);
        const exactly = page(await store.archive.query(acct, { start: pivot, end: pivot }));
        expect(exactly.messages).toEqual(at);
        expect(exactly.count).toBe(at.length);
        expect(page(await store.archive.query(acct, { start: pivot, end: pivot - 1 }))).toEqual({ ok: true, messages: [], complete: true, count: 0 });
        // Time filter + RSM: count ignores paging, not the time filter.
        const firstOfRange = page(await store.archive.query(acct, { start: pivot, max: 1 }));
        expect(firstOfRange.messages).toEqual(atOrAfter.slice(0, 1));
        expect(firstOfRange.count).toBe(atOrAfter.length);
        expect(firstOfRange.complete).toBe(atOrAfter.length <= 1);
        const lastOfRange = page(await store.archive.query(acct, { end: pivot, max: 1, before: '' }));
        expect(lastOfRange.messages).toEqual(atOrBefore.slice(-1));
        expect(page(await store.archive.query(acct, { start: -5, end: Number.MAX_SAFE_INTEGER })).count).toBe(appended.length);
        await expectCode(store.archive.query(acct, { start: 1.5 }), 'IM_STORE_INVALID_ARGUMENT');
        await store.deleteAccount(acct);
      });

      it('answers item-not-found for unknown after/before ids', async () => {
        const acct = account();
        const appended = await fill(store, acct, 2);
        const unknown = String(Number(appended[1]?.id) + 1).padStart(16, '0');
        expect(await store.archive.query(acct, { after: unknown })).toEqual({ ok: false, reason: 'item-not-found', id: unknown });
        expect(await store.archive.query(acct, { before: unknown })).toEqual({ ok: false, reason: 'item-not-found', id: unknown });
        expect(await store.archive.query(acct, { after: 'not-an-id' })).toEqual({ ok: false, reason: 'item-not-found', id: 'not-an-id' });
        expect(await store.archive.query(acct, { before: '12' })).toEqual({ ok: false, reason: 'item-not-found', id: '12' });
        expect(await store.archive.query(account(), { after: appended[0]?.id })).toMatchObject({ ok: false, reason: 'item-not-found' });
        await store.deleteAccount(acct);
      });

      it('max 0 asks for the count only (XEP-0059 §2.7); max is clamped to maxArchivePage', async () => {
        const acct = account();
        await fill(store, acct, 4);
        expect(await store.archive.query(acct, { max: 0 })).toEqual({ ok: true, messages: [], complete: false, count: 4 });
        const small = await storeWith({ maxArchivePage: 3 });
        const clamped = page(await small.archive.query(acct, { max: 100 }));
        expect(clamped.messages).toHaveLength(3);
        expect(clamped.complete).toBe(false);
        expect(page(await small.archive.query(acct)).messages).toHaveLength(3);
        await expectCode(store.archive.query(acct, { max: -1 }), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.archive.query(acct, { max: 1.5 }), 'IM_STORE_INVALID_ARGUMENT');
        await store.deleteAccount(acct);
      });

      it('drops the oldest messages beyond maxArchiveMessages', async () => {
        const small = await storeWith({ maxArchiveMessages: 5 });
        const acct = account();
        const appended: ArchivedMessage[] = [];
        let dropped = 0;
        for (let i = 0; i < 8; i++) {
          const r = ok(await small.archive.append(acct, { with: i % 2 ? 'a@x' : 'b@x', direction: 'in', xml: `<m n='${i}'/>` }));
          dropped += r.dropped;
          appended.push({ id: r.id, stamp: r.stamp, with: i % 2 ? 'a@x' : 'b@x', direction: 'in', xml: `<m n='${i}'/>` });
        }
        expect(dropped).toBe(3);
        const kept = page(await small.archive.query(acct));
        expect(kept.messages).toEqual(appended.slice(3));
        expect(kept.count).toBe(5);
        // The per-correspondent view forgot them too.
        expect(page(await small.archive.query(acct, { with: 'b@x' })).messages).toEqual(appended.slice(3).filter((m) => m.with === 'b@x'));
        expect(await small.archive.query(acct, { after: appended[0]?.id })).toMatchObject({ ok: false, reason: 'item-not-found' });
        await store.deleteAccount(acct);
      });

      it('drops the oldest messages beyond maxArchiveBytes and refuses one above maxArchiveMessageBytes', async () => {
        const small = await storeWith({ maxArchiveBytes: 100, maxArchiveMessageBytes: 40 });
        const acct = account();
        expect(await small.archive.append(acct, { with: 'a@x', direction: 'out', xml: 'x'.repeat(41) })).toEqual({ ok: false, reason: 'too-large', limit: 40 });
        const results = [];
        for (let i = 0; i < 5; i++) results.push(ok(await small.archive.append(acct, { with: 'a@x', direction: 'out', xml: `${i}`.repeat(30) })));
        expect(results.map((r) => r.dropped)).toEqual([0, 0, 0, 1, 1]);
        expect(page(await small.archive.query(acct)).messages.map((m) => m.xml)).toEqual(['222'.repeat(10), '333'.repeat(10), '444'.repeat(10)]);
        // A 40-byte message (20 two-byte characters) makes 130: one 30-byte message goes, 100 is allowed.
        expect(ok(await small.archive.append(acct, { with: 'a@x', direction: 'out', xml: 'é'.repeat(20) })).dropped).toBe(1);
        expect(page(await small.archive.query(acct)).count).toBe(3);
        // Another 40 makes 140: dropping the oldest 30 leaves 110, so the next 30 goes too (80 left).
        expect(ok(await small.archive.append(acct, { with: 'a@x', direction: 'out', xml: 'é'.repeat(20) })).dropped).toBe(2);
        expect(ok(await small.archive.append(acct, { with: 'a@x', direction: 'out', xml: 'y'.repeat(40) })).dropped).toBe(1);
        expect(page(await small.archive.query(acct)).messages.map((m) => m.xml)).toEqual(['é'.repeat(20), 'y'.repeat(40)]);
        await store.deleteAccount(acct);
      });

      it('clears, and rejects malformed appends with IM_STORE_INVALID_ARGUMENT', async () => {
        const acct = account();
        await fill(store, acct, 3);
        expect(await store.archive.clear(acct)).toBe(3);
        expect(page(await store.archive.query(acct)).count).toBe(0);
        const next = ok(await store.archive.append(acct, { with: 'a@x', direction: 'in', xml: '<m/>' }));
        expect(page(await store.archive.query(acct)).messages.map((m) => m.id)).toEqual([next.id]);
        await expectCode(store.archive.append(acct, { with: 'a@x', direction: 'sideways' as 'in', xml: '<m/>' }), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.archive.append(acct, { with: '', direction: 'in', xml: '<m/>' }), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.archive.append(acct, { with: 'a@x', direction: 'in', xml: null as unknown as string }), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.archive.query(acct, { with: 'bad\u0000@x' }), 'IM_STORE_INVALID_ARGUMENT');
        await store.deleteAccount(acct);
      });
    });

    describe('blocking (XEP-0191)', () => {
      it('adds, lists sorted, reports only new and present JIDs, matches candidates, clears', async () => {
        const acct = account();
        expect(await store.blocking.list(acct)).toEqual([]);
        expect(await store.blocking.blockedAmong(acct, ['a@x'])).toEqual([]);
        expect(await store.blocking.add(acct, ['b@x', 'a@x', 'b@x', 'example.org'])).toEqual({ ok: true, added: ['b@x', 'a@x', 'example.org'] });
        expect(await store.blocking.add(acct, ['a@x', 'c@x/res'])).toEqual({ ok: true, added: ['c@x/res'] });
        expect(await store.blocking.add(acct, [])).toEqual({ ok: true, added: [] });
        expect(await store.blocking.list(acct)).toEqual(['a@x', 'b@x', 'c@x/res', 'example.org']);
        expect(await store.blocking.blockedAmong(acct, ['c@x/res', 'c@x', 'x', 'example.org'])).toEqual(['c@x/res', 'example.org']);
        expect(await store.blocking.remove(acct, ['a@x', 'zz@x'])).toEqual(['a@x']);
        expect(await store.blocking.clear(acct)).toEqual(['b@x', 'c@x/res', 'example.org']);
        expect(await store.blocking.list(acct)).toEqual([]);
        expect(await store.blocking.clear(acct)).toEqual([]);
      });

      it('refuses an addition beyond maxBlockedJids as a whole', async () => {
        const small = await storeWith({ maxBlockedJids: 3 });
        const acct = account();
        ok(await small.blocking.add(acct, ['a@x', 'b@x']));
        expect(await small.blocking.add(acct, ['c@x', 'd@x'])).toEqual({ ok: false, reason: 'list-full', limit: 3 });
        expect(await small.blocking.list(acct)).toEqual(['a@x', 'b@x']);
        // JIDs already present do not count.
        expect(await small.blocking.add(acct, ['a@x', 'b@x', 'c@x'])).toEqual({ ok: true, added: ['c@x'] });
        await store.deleteAccount(acct);
      });

      it('rejects malformed JIDs with IM_STORE_INVALID_ARGUMENT', async () => {
        const acct = account();
        await expectCode(store.blocking.add(acct, ['ok@x', '']), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.blocking.add(acct, 'a@x' as unknown as string[]), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.blocking.blockedAmong(acct, ['a\nb']), 'IM_STORE_INVALID_ARGUMENT');
        expect(await store.blocking.list(acct)).toEqual([]);
      });
    });

    describe('vCard-temp (XEP-0054)', () => {
      it('sets, replaces, removes', async () => {
        const acct = account();
        expect(await store.vcard.get(acct)).toBeNull();
        expect(await store.vcard.remove(acct)).toBe(false);
        expect(await store.vcard.set(acct, "<vCard xmlns='vcard-temp'><FN>Juliet</FN></vCard>")).toEqual({ ok: true });
        expect(await store.vcard.set(acct, "<vCard xmlns='vcard-temp'><FN>Juliet Capulet ☀</FN></vCard>")).toEqual({ ok: true });
        expect(await store.vcard.get(acct)).toBe("<vCard xmlns='vcard-temp'><FN>Juliet Capulet ☀</FN></vCard>");
        expect(await store.vcard.remove(acct)).toBe(true);
        expect(await store.vcard.get(acct)).toBeNull();
      });

      it('refuses a vCard above maxVCardBytes and keeps the old one', async () => {
        const small = await storeWith({ maxVCardBytes: 10 });
        const acct = account();
        ok(await small.vcard.set(acct, 'é'.repeat(5))); // exactly 10 bytes
        expect(await small.vcard.set(acct, 'x'.repeat(11))).toEqual({ ok: false, reason: 'too-large', limit: 10 });
        expect(await small.vcard.get(acct)).toBe('é'.repeat(5));
        await store.deleteAccount(acct);
      });
    });

    describe('private XML storage (XEP-0049)', () => {
      it('keys items by element name and namespace', async () => {
        const acct = account();
        expect(await store.privateXml.get(acct, 'storage', 'storage:bookmarks')).toBeNull();
        ok(await store.privateXml.set(acct, 'storage', 'storage:bookmarks', "<storage xmlns='storage:bookmarks'/>"));
        ok(await store.privateXml.set(acct, 'storage', 'storage:rosternotes', "<storage xmlns='storage:rosternotes'/>"));
        ok(await store.privateXml.set(acct, 'prefs', 'storage:bookmarks', '<prefs/>'));
        expect(await store.privateXml.get(acct, 'storage', 'storage:bookmarks')).toBe("<storage xmlns='storage:bookmarks'/>");
        expect(await store.privateXml.get(acct, 'storage', 'storage:rosternotes')).toBe("<storage xmlns='storage:rosternotes'/>");
        expect(await store.privateXml.get(acct, 'prefs', 'storage:bookmarks')).toBe('<prefs/>');
        ok(await store.privateXml.set(acct, 'storage', 'storage:bookmarks', "<storage xmlns='storage:bookmarks'><conference/></storage>"));
        expect(await store.privateXml.get(acct, 'storage', 'storage:bookmarks')).toBe("<storage xmlns='storage:bookmarks'><conference/></storage>");
        expect(await store.privateXml.remove(acct, 'storage', 'storage:bookmarks')).toBe(true);
        expect(await store.privateXml.remove(acct, 'storage', 'storage:bookmarks')).toBe(false);
        expect(await store.privateXml.get(acct, 'storage', 'storage:bookmarks')).toBeNull();
        expect(await store.privateXml.get(acct, 'prefs', 'storage:bookmarks')).toBe('<prefs/>');
        await expectCode(store.privateXml.get(acct, '', 'urn:x'), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.privateXml.set(acct, 'q', 'urn:\nx', '<q/>'), 'IM_STORE_INVALID_ARGUMENT');
        await store.deleteAccount(acct);
      });

      it('enforces maxPrivateItemBytes and maxPrivateBytes, counting replacements and removals', async () => {
        // An item costs its XML + namespace + name + 1: here 5 + 1 + 1 + 1 + xml bytes ('urn:x', 'q').
        const small = await storeWith({ maxPrivateItemBytes: 20, maxPrivateBytes: 50 });
        const acct = account();
        expect(await small.privateXml.set(acct, 'q', 'urn:x', 'x'.repeat(21))).toEqual({ ok: false, reason: 'too-large', limit: 20 });
        ok(await small.privateXml.set(acct, 'q', 'urn:x', 'x'.repeat(20))); // 27
        ok(await small.privateXml.set(acct, 'r', 'urn:x', 'x'.repeat(15))); // 22 → 49
        expect(await small.privateXml.set(acct, 's', 'urn:x', '')).toEqual({ ok: false, reason: 'quota-exceeded', limit: 50 });
        // Replacing counts the difference: 27 → 28 makes 50, allowed; 29 is not.
        ok(await small.privateXml.set(acct, 'r', 'urn:x', 'x'.repeat(16)));
        expect(await small.privateXml.set(acct, 'r', 'urn:x', 'x'.repeat(17))).toEqual({ ok: false, reason: 'quota-exceeded', limit: 50 });
        expect(await small.privateXml.get(acct, 'r', 'urn:x')).toBe('x'.repeat(16));
        expect(await small.privateXml.remove(acct, 'q', 'urn:x')).toBe(true);
        ok(await small.privateXml.set(acct, 's', 'urn:x', 'x'.repeat(20)));
        await store.deleteAccount(acct);
      });
    });

    describe('presence (last available presence per resource)', () => {
      it('sets, replaces, lists sorted by resource, removes, clears', async () => {
        const acct = account();
        expect(await store.presence.list(acct)).toEqual([]);
        expect(await store.presence.remove(acct, 'none')).toBe(false);
        const before = Date.now();
        ok(await store.presence.set(acct, 'phone', '<presence><show>away</show></presence>'));
        ok(await store.presence.set(acct, 'balcony ☀/x@y', '<presence/>'));
        ok(await store.presence.set(acct, 'phone', '<presence><priority>5</priority></presence>'));
        const listed = await store.presence.list(acct);
        expect(listed.map((p) => [p.resource, p.xml])).toEqual([
          ['balcony ☀/x@y', '<presence/>'],
          ['phone', '<presence><priority>5</priority></presence>'],
        ]);
        for (const p of listed) expect(p.stamp).toBeGreaterThanOrEqual(before - 5000);
        expect(await store.presence.remove(acct, 'phone')).toBe(true);
        expect(await store.presence.remove(acct, 'phone')).toBe(false);
        expect((await store.presence.list(acct)).map((p) => p.resource)).toEqual(['balcony ☀/x@y']);
        ok(await store.presence.set(acct, 'tablet', '<presence/>'));
        expect(await store.presence.clear(acct)).toBe(2);
        expect(await store.presence.list(acct)).toEqual([]);
        expect(await store.presence.clear(acct)).toBe(0);
        await expectCode(store.presence.set(acct, '', '<presence/>'), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.presence.set(acct, 'a\nb', '<presence/>'), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.presence.set(acct, 'r'.repeat(1024), '<presence/>'), 'IM_STORE_INVALID_ARGUMENT');
        await expectCode(store.presence.remove(acct, 42 as unknown as string), 'IM_STORE_INVALID_ARGUMENT');
      });

      it('refuses a presence above maxPresenceBytes and keeps the old one', async () => {
        const small = await storeWith({ maxPresenceBytes: 10 });
        const acct = account();
        ok(await small.presence.set(acct, 'r', 'é'.repeat(5)));
        expect(await small.presence.set(acct, 'r', 'x'.repeat(11))).toEqual({ ok: false, reason: 'too-large', limit: 10 });
        expect((await small.presence.list(acct)).map((p) => p.xml)).toEqual(['é'.repeat(5)]);
        await store.deleteAccount(acct);
      });

      it('refuses a presence for one resource more than maxPresenceResources; replacing still works', async () => {
        const small = await storeWith({ maxPresenceResources: 2 });
        const acct = account();
        ok(await small.presence.set(acct, 'a', '<presence/>'));
        ok(await small.presence.set(acct, 'b', '<presence/>'));
        expect(await small.presence.set(acct, 'c', '<presence/>')).toEqual({ ok: false, reason: 'too-many', limit: 2 });
        ok(await small.presence.set(acct, 'b', '<presence><show>dnd</show></presence>'));
        expect(await small.presence.remove(acct, 'a')).toBe(true);
        ok(await small.presence.set(acct, 'c', '<presence/>'));
        expect((await small.presence.list(acct)).map((p) => p.resource)).toEqual(['b', 'c']);
        await store.deleteAccount(acct);
      });

      it('forgets a presence presenceTtlMs after its last set; expired ones do not count', async () => {
        const short = await storeWith({ presenceTtlMs: 150, maxPresenceResources: 1 });
        const acct = account();
        ok(await short.presence.set(acct, 'lost', '<presence/>'));
        expect((await short.presence.list(acct)).map((p) => p.resource)).toEqual(['lost']);
        // Bounded wait for the expiry (server clock on Redis).
        let listed = await short.presence.list(acct);
        for (let i = 0; i < 100 && listed.length > 0; i++) {
          await sleep(50);
          listed = await short.presence.list(acct);
        }
        expect(listed).toEqual([]);
        ok(await short.presence.set(acct, 'next', '<presence/>')); // the expired one no longer counts
        expect(await short.presence.remove(acct, 'lost')).toBe(false);
        await store.deleteAccount(acct);
      });
    });
  });
}
