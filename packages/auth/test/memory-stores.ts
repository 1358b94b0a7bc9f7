// In-memory CredentialStore and CounterStore for these tests only (the production in-memory and
// Redis implementations live in the registry package). They follow the registry contract:
// users listed in UTF-8 byte order with an opaque cursor; counters in fixed windows.

import type { Clock, CounterStore, CredentialRecord, CredentialStore } from '../src/index.js';

export class MemoryCredentialStore implements CredentialStore {
  readonly domains = new Map<string, Map<string, CredentialRecord>>();
  failing = false;

  private check(): void {
    if (this.failing) throw new Error('store unavailable');
  }

  async get(domain: string, user: string): Promise<CredentialRecord | undefined> {
    this.check();
    const record = this.domains.get(domain)?.get(user);
    return record ? structuredClone(record) : undefined;
  }

  async put(domain: string, user: string, record: CredentialRecord, opts: { onlyIfAbsent?: boolean } = {}): Promise<boolean> {
    this.check();
    let users = this.domains.get(domain);
    if (!users) this.domains.set(domain, (users = new Map()));
    if (opts.onlyIfAbsent && users.has(user)) return false;
    users.set(user, structuredClone(record));
    return true;
  }

  async delete(domain: string, user: string): Promise<boolean> {
    this.check();
    return this.domains.get(domain)?.delete(user) ?? false;
  }

  async list(domain: string, opts: { cursor?: string; limit?: number } = {}): Promise<{ users: string[]; cursor?: string }> {
    this.check();
    const limit = opts.limit ?? 100;
    const after = opts.cursor === undefined ? undefined : Buffer.from(opts.cursor, 'base64url');
    const sorted = [...(this.domains.get(domain)?.keys() ?? [])].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const rest = after === undefined ? sorted : sorted.filter((u) => Buffer.compare(Buffer.from(u), after) > 0);
    const users = rest.slice(0, limit);
    const last = users.at(-1);
    return rest.length > limit && last !== undefined ? { users, cursor: Buffer.from(last).toString('base64url') } : { users };
  }
}

export class MemoryCounterStore implements CounterStore {
  private readonly entries = new Map<string, { value: number; expiresAt: number }>();
  constructor(private readonly clock: Clock) {}

  private live(key: string): { value: number; expiresAt: number } | undefined {
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt <= this.clock.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  async increment(key: string, windowMs: number, by = 1): Promise<number> {
    const entry = this.live(key) ?? { value: 0, expiresAt: this.clock.now() + windowMs };
    entry.value += by;
    this.entries.set(key, entry);
    return entry.value;
  }

  async get(key: string): Promise<number> {
    return this.live(key)?.value ?? 0;
  }

  async reset(key: string): Promise<void> {
    this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

/** Virtual time: sleeping advances it instantly and is recorded, so tests never wait. */
export class FakeClock implements Clock {
  time = 1_000_000;
  readonly sleeps: number[] = [];
  now(): number {
    return this.time;
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.time += ms;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}
