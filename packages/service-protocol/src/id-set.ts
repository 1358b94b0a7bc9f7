// Sets of message ids as a cumulative watermark plus ranges above it (docs/service-protocol.md
// §8.1, §10.3): ack records, the received set used for duplicate suppression, and the sender's
// mirror of what the peer has acknowledged.

/** An inclusive range of ids. */
export type IdRange = readonly [start: number, end: number];

/** The wire form of an ack record (§8.1). */
export interface AckRecord {
  through: number;
  ranges: IdRange[];
}

export class IdSet {
  /** Every id in [1, through] is in the set. */
  private watermark = 0;
  /** Disjoint, non-adjacent ranges above watermark + 1, ascending: [s0, e0, s1, e1, …]. */
  private bounds: number[] = [];
  private highest = 0;

  get through(): number {
    return this.watermark;
  }

  /** Number of ranges above the watermark. */
  get rangeCount(): number {
    return this.bounds.length / 2;
  }

  /** The largest id in the set (0 if empty). */
  get max(): number {
    return this.highest;
  }

  has(id: number): boolean {
    if (id <= this.watermark) return id >= 1;
    const bounds = this.bounds;
    // Binary search for the last range starting at or below id.
    let low = 0;
    let high = bounds.length / 2 - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const start = bounds[middle * 2]!;
      if (start > id) high = middle - 1;
      else if (bounds[middle * 2 + 1]! < id) low = middle + 1;
      else return true;
    }
    return false;
  }

  /** Adds one id; returns false if it was present. */
  add(id: number): boolean {
    if (id <= this.watermark) return false;
    if (id === this.watermark + 1 && (this.bounds.length === 0 || this.bounds[0]! > id + 1)) {
      // The common in-order case: no range to merge with.
      this.watermark = id;
      if (id > this.highest) this.highest = id;
      return true;
    }
    if (this.has(id)) return false;
    this.addRange(id, id);
    return true;
  }

  /**
   * Adds [start, end]; calls `visit` for each id that was not yet present, ascending.
   * If `visit` throws, the set is left unchanged.
   */
  addRange(start: number, end: number, visit?: (id: number) => void): void {
    if (end <= this.watermark || end < start) return;
    if (start <= this.watermark) start = this.watermark + 1;
    const bounds = this.bounds;
    // First range whose end reaches start - 1 (it overlaps or touches the new range).
    let first = 0;
    let high = bounds.length / 2;
    while (first < high) {
      const middle = (first + high) >>> 1;
      if (bounds[middle * 2 + 1]! < start - 1) first = middle + 1;
      else high = middle;
    }
    // Ranges [first, last) overlap or touch [start, end].
    let last = first;
    while (last < bounds.length / 2 && bounds[last * 2]! <= end + 1) last++;
    if (visit !== undefined) {
      let cursor = start;
      for (let index = first; index < last && cursor <= end; index++) {
        const rangeStart = bounds[index * 2]!;
        for (let id = cursor; id < rangeStart && id <= end; id++) visit(id);
        cursor = Math.max(cursor, bounds[index * 2 + 1]! + 1);
      }
      for (let id = cursor; id <= end; id++) visit(id);
    }
    const mergedStart = last > first ? Math.min(start, bounds[first * 2]!) : start;
    const mergedEnd = last > first ? Math.max(end, bounds[(last - 1) * 2 + 1]!) : end;
    if (mergedEnd > this.highest) this.highest = mergedEnd;
    if (mergedStart === this.watermark + 1) {
      this.watermark = mergedEnd;
      bounds.splice(first * 2, (last - first) * 2);
    } else {
      bounds.splice(first * 2, (last - first) * 2, mergedStart, mergedEnd);
    }
  }

  /** Adds every id of a record; `visit` sees each new id once. */
  addRecord(record: AckRecord, visit?: (id: number) => void): void {
    if (record.through > 0) this.addRange(1, record.through, visit);
    for (const [start, end] of record.ranges) this.addRange(start, end, visit);
  }

  /** The set as an ack record, with at most `maxRanges` ranges (lowest first). */
  toRecord(maxRanges = Number.POSITIVE_INFINITY): AckRecord {
    const ranges: IdRange[] = [];
    const count = Math.min(this.bounds.length / 2, maxRanges);
    for (let index = 0; index < count; index++) ranges.push([this.bounds[index * 2]!, this.bounds[index * 2 + 1]!]);
    return { through: this.watermark, ranges };
  }

  /** Number of ids in the set above the watermark (for statistics and tests). */
  countAbove(): number {
    let count = 0;
    for (let index = 0; index < this.bounds.length; index += 2) count += this.bounds[index + 1]! - this.bounds[index]! + 1;
    return count;
  }
}

/** §8.2: ranges ascending, start ≤ end, not overlapping or touching each other or the watermark. */
export function ackRecordProblem(record: AckRecord): string | undefined {
  let previousEnd = record.through;
  for (const [start, end] of record.ranges) {
    if (!(start >= previousEnd + 2)) return `range ${start}..${end} overlaps or touches what precedes it (${previousEnd})`;
    if (!(end >= start)) return `range ${start}..${end} ends before it starts`;
    previousEnd = end;
  }
  return undefined;
}

/** The largest id an ack record names. */
export function ackRecordMax(record: AckRecord): number {
  const last = record.ranges[record.ranges.length - 1];
  return last === undefined ? record.through : last[1];
}
