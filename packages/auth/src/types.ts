// The storage contracts auth needs, declared structurally: the registry package satisfies them
// (its CredentialStore and Counters), and this package never imports it.

import type { CredentialRecord } from '@ambrosia/sasl';

export type { CredentialRecord };

export interface CredentialStore {
  get(domain: string, user: string): Promise<CredentialRecord | undefined>;
  /** Resolves false (and writes nothing) when `onlyIfAbsent` is set and the user exists. */
  put(domain: string, user: string, record: CredentialRecord, opts?: { onlyIfAbsent?: boolean }): Promise<boolean>;
  delete(domain: string, user: string): Promise<boolean>;
  list(domain: string, opts?: { cursor?: string; limit?: number }): Promise<{ users: string[]; cursor?: string }>;
}

/**
 * Counters shared by every gateway. Fixed window: a key expires `windowMs` after its first
 * increment; later increments do not extend it.
 */
export interface CounterStore {
  /** Adds `by` (default 1); resolves the value after the increment. */
  increment(key: string, windowMs: number, by?: number): Promise<number>;
  /** 0 when absent or expired. */
  get(key: string): Promise<number>;
  reset(key: string): Promise<void>;
}

/** Time as the policy sees it; injectable so tests never wait on real timers. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
