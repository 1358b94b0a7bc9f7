// What the compliance suite cannot pin on a real server: exact times (the memory store takes a
// clock), a clock that goes backwards, options validation, and a paging property over random
// archives.

import { createMemoryImStore, isImStoreError, MemoryImStoreData, type ArchivedMessage, type ImStore } from '@ambrosia/im-store';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { expectCode } from './helpers.js';

function manualClock(start: number): { now: () => number; set(ms: number): void } {
  let current = start;
  return {
    now: () => current,
    set(ms: number) {
      current = ms;
    },
  };
}

function expectInvalid(run: () => unknown): void {
  expectCode(run, 'IM_STORE_INVALID_ARGUMENT');
}

describe('memory store with a manual clock', () => {
  it('derives ids and stamps from the clock, and ids keep increasing within one millisecond', async () => {
    const clock = manualClock(1_000);
    const store = createMemoryImStore({ clock: clock.now });
    const a = await store.offline.push('a@x', '<m/>');
    const b = await store.offline.push('a@x', '<m/>');
    expect(a).toMatchObject({ ok: true, id: '0000000001000000', stamp: 1_000 });
    expect(b).toMatchObject({ ok: true, id: '0000000001000001', stamp: 1_000 });
    clock.set(2_000);
    expect(await store.archive.append('a@x', { with: 'b@x', direction: 'in', xml: '<m/>' })).toMatchObject({ ok: true, id: '0000000002000000', stamp: 2_000 });
    const pending = await store.roster.update('a@x', 'b@x', () => ({ pendingIn: {} }));
    expect(pending.ok && pending.contact.pendingIn?.stamp).toBe(2_000);
  });

  it('never reuses or lowers an id when the clock goes backwards', async () => {
    const clock = manualClock(5_000);
    const store = createMemoryImStore({ clock: clock.now });
    const first = await store.offline.push('a@x', '<m/>');
    clock.set(1_000);
    const second = await store.offline.push('a@x', '<m/>');
    expect(first.ok && second.ok).toBe(true);
    if (!first.ok || !second.ok) return;
    expect(second.id > first.id).toBe(true);
    expect(second.stamp).toBe(5_000); // stamps follow ids, so they never go backwards either
  });

  it('filters the archive by time to the millisecond, start and end inclusive', async () => {
    const clock = manualClock(1_000);
    const store = createMemoryImStore({ clock: clock.now });
    for (const t of [1_000, 1_999, 2_000, 2_000, 2_001, 3_000]) {
      clock.set(t);
      await store.archive.append('a@x', { with: 'b@x', direction: 'in', xml: `<m t='${t}'/>` });
    }
    const stamps = async (query: { start?: number; end?: number }) => {
      const r = await store.archive.query('a@x', query);
      return r.ok ? r.messages.map((m) => m.stamp) : [];
    };
    expect(await stamps({ start: 2_000 })).toEqual([2_000, 2_000, 2_001, 3_000]);
    expect(await stamps({ end: 2_000 })).toEqual([1_000, 1_999, 2_000, 2_000]);
    expect(await stamps({ start: 2_000, end: 2_000 })).toEqual([2_000, 2_000]);
    expect(await stamps({ start: 1_999, end: 2_001 })).toEqual([1_999, 2_000, 2_000, 2_001]);
    expect(await stamps({ start: 3_001 })).toEqual([]);
    expect(await stamps({ end: 999 })).toEqual([]);
  });

  it('gives a recreated roster a new epoch even at the same millisecond', async () => {
    const store = createMemoryImStore({ clock: () => 7 });
    const first = await store.roster.update('a@x', 'b@x', () => ({ item: {} }));
    await store.deleteAccount('a@x');
    const second = await store.roster.update('a@x', 'b@x', () => ({ item: {} }));
    expect(first.ok && second.ok).toBe(true);
    if (first.ok && second.ok) expect(second.version).not.toBe(first.version);
  });
});

describe('memory archive retention', () => {
  it('keeps the per-correspondent index consistent through thousands of drops', async () => {
    const store = createMemoryImStore({ maxArchiveMessages: 100 });
    const appended: Array<{ id: string; with: string }> = [];
    for (let i = 0; i < 3000; i++) {
      const w = ['a@x', 'b@x', 'c@x'][i % 7 === 0 ? 0 : i % 2 === 0 ? 1 : 2] as string;
      const r = await store.archive.append('me@x', { with: w, direction: 'in', xml: `<m n='${i}'/>` });
      if (r.ok) appended.push({ id: r.id, with: w });
    }
    const kept = appended.slice(-100);
    const all = await store.archive.query('me@x', { max: 500 });
    expect(all.ok && all.messages.map((m) => m.id)).toEqual(kept.map((k) => k.id));
    for (const w of ['a@x', 'b@x', 'c@x']) {
      const one = await store.archive.query('me@x', { with: w, max: 500 });
      const expected = kept.filter((k) => k.with === w).map((k) => k.id);
      expect(one.ok && one.messages.map((m) => m.id)).toEqual(expected);
      expect(one.ok && one.count).toBe(expected.length);
    }
    expect(await store.archive.query('me@x', { after: appended[0]?.id })).toMatchObject({ ok: false, reason: 'item-not-found' });
  });
});

describe('memory store options', () => {
  it('rejects a clock that is not a function, foreign data and bad limits', () => {
    expectInvalid(() => createMemoryImStore({ clock: 5 as unknown as () => number }));
    expectInvalid(() => createMemoryImStore({ data: {} as MemoryImStoreData }));
    expectInvalid(() => createMemoryImStore({ maxOfflineMessages: 0 }));
    expectInvalid(() => createMemoryImStore({ maxOfflineMessages: 1.5 }));
    expectInvalid(() => createMemoryImStore({ maxOfflineMessages: -1 }));
    expectInvalid(() => createMemoryImStore({ maxOfflineMessages: 2 ** 41 }));
    expectInvalid(() => createMemoryImStore({ maxVCardBytes: '10' as unknown as number }));
    expectInvalid(() => createMemoryImStore({ maxPrivateItemBytes: 100, maxPrivateBytes: 50 }));
    expect(createMemoryImStore({ rosterChangeLogSize: 0 }).limits.rosterChangeLogSize).toBe(0);
  });

  it('shares data between stores given the same data, and keeps it when one closes', async () => {
    const data = new MemoryImStoreData();
    const one = createMemoryImStore({ data });
    const two = createMemoryImStore({ data, maxVCardBytes: 10 });
    expect((await one.vcard.set('a@x', '<vCard>long</vCard>')).ok).toBe(true);
    expect(await two.vcard.get('a@x')).toBe('<vCard>long</vCard>');
    expect(await two.vcard.set('a@x', '<vCard>long</vCard>')).toEqual({ ok: false, reason: 'too-large', limit: 10 });
    await one.close();
    expect(await two.vcard.get('a@x')).toBe('<vCard>long</vCard>');
  });
});

describe('roster.update', () => {
  it('gives up with conflict after maxAttempts when every write loses a race', async () => {
    const store = createMemoryImStore();
    let interferences = 0;
    const result = await store.roster.update(
      'a@x',
      'b@x',
      (current) => {
        // Another instance writes between our read and our write (memory writes land synchronously).
        interferences++;
        void store.roster.compareAndSet('a@x', 'b@x', current.revision, { item: { name: `other ${interferences}` } });
        return { item: { name: 'mine' } };
      },
      { maxAttempts: 3 },
    );
    expect(result).toEqual({ ok: false, reason: 'conflict' });
    expect(interferences).toBe(3);
    expect((await store.roster.getContact('a@x', 'b@x')).item?.name).toBe('other 3');
  });

  it('passes refusals through without retrying', async () => {
    const store = createMemoryImStore({ maxRosterItems: 1 });
    await store.roster.update('a@x', 'b@x', () => ({ item: {} }));
    let calls = 0;
    const result = await store.roster.update('a@x', 'c@x', () => {
      calls++;
      return { item: {} };
    });
    expect(result).toEqual({ ok: false, reason: 'roster-full', limit: 1 });
    expect(calls).toBe(1);
    let rejected: unknown;
    await store.roster.update('a@x', 'c@x', () => ({ item: {} }), { maxAttempts: 0 }).catch((e: unknown) => (rejected = e));
    expect(isImStoreError(rejected, 'IM_STORE_INVALID_ARGUMENT')).toBe(true);
  });
});

describe('archive paging (property)', () => {
  async function pageThrough(store: ImStore, account: string, withJid: string | undefined, max: number, backward: boolean): Promise<string[]> {
    const seen: string[] = [];
    let cursor: string | undefined = backward ? '' : undefined;
    for (let guard = 0; guard < 1000; guard++) {
      const query = { ...(withJid !== undefined ? { with: withJid } : {}), max, ...(backward ? { before: cursor ?? '' } : cursor !== undefined ? { after: cursor } : {}) };
      const r = await store.archive.query(account, query);
      if (!r.ok) throw new Error(`page failed: ${JSON.stringify(r)}`);
      const ids = r.messages.map((m: ArchivedMessage) => m.id);
      if (backward) seen.unshift(...ids);
      else seen.push(...ids);
      if (r.complete) return seen;
      expect(ids).toHaveLength(max);
      cursor = backward ? r.first : r.last;
    }
    throw new Error('paging did not end');
  }

  it('forward and backward paging each visit every matching message exactly once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('a@x', 'b@x', 'c@x'), { maxLength: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.option(fc.constantFrom('a@x', 'b@x', 'c@x'), { nil: undefined }),
        async (withs, max, filter) => {
          const store = createMemoryImStore({ maxArchivePage: 50 });
          const ids: Array<{ id: string; with: string }> = [];
          for (const w of withs) {
            const r = await store.archive.append('me@x', { with: w, direction: 'out', xml: '<m/>' });
            if (r.ok) ids.push({ id: r.id, with: w });
          }
          const expected = ids.filter((e) => filter === undefined || e.with === filter).map((e) => e.id);
          expect(await pageThrough(store, 'me@x', filter, max, false)).toEqual(expected);
          expect(await pageThrough(store, 'me@x', filter, max, true)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
