// A bounded map with least-recently-used eviction and per-entry freshness, for the on-demand
// caches (sessions, see-other-host). Map keeps insertion order; a hit re-inserts the key.

export interface CacheEntry<V> {
  value: V;
  /** local ms when fetched from the store */
  fetchedAt: number;
}

export class LruCache<V> {
  private readonly entries = new Map<string, CacheEntry<V>>();

  /** @param capacity when reached, the least recently used entry is evicted (0 disables the cache) */
  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 0) throw new RangeError('capacity must be a non-negative integer');
  }

  get(key: string): CacheEntry<V> | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry;
  }

  set(key: string, value: V, fetchedAt: number): void {
    if (this.capacity === 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, fetchedAt });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
