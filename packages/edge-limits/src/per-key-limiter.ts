// Caps concurrent holders per key: "at most N unauthenticated connections per IP".
import { positiveInteger } from './validate.js';

export interface PerKeyLimiterOptions {
  /** Concurrent leases one key may hold. */
  readonly maxPerKey: number;
  /**
   * Distinct keys tracked at once (default 100 000). Only keys holding a lease are tracked, so
   * the table can only fill when that many distinct sources hold connections at the same time.
   */
  readonly maxKeys?: number;
}

export type AcquireResult =
  | { readonly ok: true; readonly lease: Lease }
  /** `key-limit`: this key holds `maxPerKey` already; `table-full`: `maxKeys` other keys hold leases. */
  | { readonly ok: false; readonly reason: 'key-limit' | 'table-full'; readonly count: number };

export interface Lease {
  readonly key: string;
  /** Gives the slot back. Idempotent: a second call does nothing. */
  release(): void;
}

class LimiterLease implements Lease {
  private released = false;
  constructor(
    readonly key: string,
    private readonly limiter: PerKeyLimiter,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.limiter.releaseKey(this.key);
  }
}

/**
 * Counts live leases per key in a map that holds only keys with at least one lease (an entry is
 * deleted when its count returns to 0). Entries are never evicted: a live count dropped to make
 * room would let its key exceed its cap. So when `maxKeys` keys hold leases, a NEW key is refused
 * (`table-full`, fail closed) while known keys keep acquiring within their cap.
 */
export class PerKeyLimiter {
  readonly maxPerKey: number;
  readonly maxKeys: number;
  private readonly counts = new Map<string, number>();

  constructor(options: PerKeyLimiterOptions) {
    this.maxPerKey = positiveInteger('maxPerKey', options.maxPerKey);
    this.maxKeys = positiveInteger('maxKeys', options.maxKeys ?? 100_000);
  }

  acquire(key: string): AcquireResult {
    const count = this.counts.get(key) ?? 0;
    if (count >= this.maxPerKey) return { ok: false, reason: 'key-limit', count };
    if (count === 0 && this.counts.size >= this.maxKeys) return { ok: false, reason: 'table-full', count };
    this.counts.set(key, count + 1);
    return { ok: true, lease: new LimiterLease(key, this) };
  }

  /** Live leases of `key`. */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Keys holding at least one lease. */
  get size(): number {
    return this.counts.size;
  }

  /** @internal called by a lease */
  releaseKey(key: string): void {
    const count = this.counts.get(key);
    if (count === undefined) return;
    if (count <= 1) this.counts.delete(key);
    else this.counts.set(key, count - 1);
  }
}
