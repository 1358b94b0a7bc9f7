// Weighted rendezvous hashing on its own: spread, weights, minimal remapping, determinism.
import { describe, expect, it } from 'vitest';
import { hashString, pickByRendezvous } from '../../src/services/index.js';

const instance = (id: string, weight = 1) => ({ id, hash: hashString(id), weight });
const keys = Array.from({ length: 20_000 }, (_, n) => `user${n}@example.org`);

function assign(candidates: ReturnType<typeof instance>[]): Map<string, string> {
  const result = new Map<string, string>();
  for (const key of keys) result.set(key, pickByRendezvous(hashString(key), candidates, (c) => c.weight)!.id);
  return result;
}

function shares(assignment: Map<string, string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const id of assignment.values()) counts.set(id, (counts.get(id) ?? 0) + 1);
  return counts;
}

describe('rendezvous hashing', () => {
  it('spreads keys evenly over equal instances', () => {
    const counts = shares(assign(['a', 'b', 'c', 'd'].map((id) => instance(id))));
    for (const id of ['a', 'b', 'c', 'd']) expect(counts.get(id)! / keys.length).toBeCloseTo(0.25, 1);
  });

  it('gives an instance of weight 3 about three times the keys of one of weight 1', () => {
    const counts = shares(assign([instance('heavy', 3), instance('light', 1)]));
    expect(counts.get('heavy')! / keys.length).toBeGreaterThan(0.71);
    expect(counts.get('heavy')! / keys.length).toBeLessThan(0.79);
  });

  it('moves only the keys of an instance that leaves, and only keys to one that joins', () => {
    const before = assign(['a', 'b', 'c'].map((id) => instance(id)));
    const without = assign(['a', 'c'].map((id) => instance(id)));
    for (const key of keys) if (before.get(key) !== 'b') expect(without.get(key)).toBe(before.get(key));
    const joined = assign(['a', 'b', 'c', 'd'].map((id) => instance(id)));
    let moved = 0;
    for (const key of keys) {
      if (joined.get(key) !== before.get(key)) {
        expect(joined.get(key)).toBe('d');
        moved++;
      }
    }
    expect(moved / keys.length).toBeCloseTo(0.25, 1);
  });

  it('does not depend on the order of the candidates', () => {
    const forward = assign(['a', 'b', 'c'].map((id) => instance(id)));
    const backward = assign(['c', 'b', 'a'].map((id) => instance(id)));
    expect(backward).toEqual(forward);
  });

  it('never picks a zero-weight instance while another has weight', () => {
    const counts = shares(assign([instance('zero', 0), instance('one', 1)]));
    expect(counts.get('zero')).toBeUndefined();
    expect(pickByRendezvous(hashString('k'), [], () => 1)).toBeUndefined();
  });
});
