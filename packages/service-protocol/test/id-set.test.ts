import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdSet } from '../src/index.js';

describe('IdSet (§8.1, §10.3)', () => {
  it('keeps a watermark and ranges above it', () => {
    const set = new IdSet();
    for (const id of [1, 2, 4, 5, 8]) set.add(id);
    expect(set.toRecord()).toEqual({ through: 2, ranges: [[4, 5], [8, 8]] });
    set.add(3);
    expect(set.toRecord()).toEqual({ through: 5, ranges: [[8, 8]] });
    expect(set.add(4)).toBe(false);
    expect(set.has(8)).toBe(true);
    expect(set.has(7)).toBe(false);
    expect(set.max).toBe(8);
  });

  it('visits only the ids a range adds', () => {
    const set = new IdSet();
    set.addRange(5, 6);
    set.addRange(9, 9);
    const visited: number[] = [];
    set.addRange(1, 10, (id) => visited.push(id));
    expect(visited).toEqual([1, 2, 3, 4, 7, 8, 10]);
    expect(set.toRecord()).toEqual({ through: 10, ranges: [] });
  });

  it('is unchanged when a visitor throws', () => {
    const set = new IdSet();
    set.addRange(3, 4);
    expect(() =>
      set.addRange(1, 6, (id) => {
        if (id === 5) throw new Error('no');
      }),
    ).toThrow();
    expect(set.toRecord()).toEqual({ through: 0, ranges: [[3, 4]] });
  });

  it('limits the ranges in a record, lowest first', () => {
    const set = new IdSet();
    for (let id = 2; id < 40; id += 2) set.add(id);
    expect(set.toRecord(3).ranges).toEqual([[2, 2], [4, 4], [6, 6]]);
  });

  it('matches a plain Set under random adds and range adds (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 1, max: 120 }).map((id) => [id, id] as const), fc.tuple(fc.integer({ min: 1, max: 120 }), fc.integer({ min: 0, max: 15 })).map(([start, span]) => [start, start + span] as const)), { maxLength: 60 }),
        (operations) => {
          const set = new IdSet();
          const reference = new Set<number>();
          for (const [start, end] of operations) {
            const visited: number[] = [];
            if (start === end) {
              expect(set.add(start)).toBe(!reference.has(start));
              if (!reference.has(start)) visited.push(start);
            } else {
              set.addRange(start, end, (id) => visited.push(id));
            }
            const expected: number[] = [];
            for (let id = start; id <= end; id++) if (!reference.has(id)) expected.push(id);
            expect(visited).toEqual(expected);
            for (let id = start; id <= end; id++) reference.add(id);
          }
          for (let id = 1; id <= 140; id++) expect(set.has(id)).toBe(reference.has(id));
          const record = set.toRecord();
          let previousEnd = record.through;
          for (const [start, end] of record.ranges) {
            expect(start).toBeGreaterThanOrEqual(previousEnd + 2);
            expect(end).toBeGreaterThanOrEqual(start);
            previousEnd = end;
          }
        },
      ),
    );
  });
});
