// Brute-force protection as a policy the gateway applies around SASL. Failure counters live in
// the shared CounterStore (the registry), keyed per client address and per account, so they hold
// across every gateway. Each attempt is delayed by a bounded, growing amount once failures
// accumulate; past a limit the address or account gets temporary-auth-failure until the
// counting window ends.
//
// Accounts are counted whether or not they exist, so neither the delay nor the lockout reveals
// existence. Success resets the account's counter but not the address's: otherwise an attacker
// holding one valid account could clear their own address between guesses at others.

import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { AuthError } from './errors.js';
import type { CounterStore } from './types.js';

export interface BruteForcePolicyOptions {
  counters: CounterStore;
  /** Prefix of every counter key (default "auth:fail:"). */
  keyPrefix?: string;
  /** Counting window: failures older than this are forgotten (default 15 min). */
  windowMs?: number;
  /** Failures per address within a window before it is locked out (default 30). */
  maxFailuresPerAddress?: number;
  /** Failures per account within a window before it is locked out (default 10). */
  maxFailuresPerAccount?: number;
  /** Failures that cost no delay (default 2). */
  freeFailures?: number;
  /** Delay after the first failure past the free ones; doubles with each further one (default 250 ms). */
  baseDelayMs?: number;
  /** Upper bound of the delay (default 8 s). */
  maxDelayMs?: number;
}

export type BruteForceVerdict =
  | { allowed: true; /** wait this long before answering, whatever the outcome */ delayMs: number }
  | { allowed: false; condition: 'temporary-auth-failure'; /** upper bound until the window ends */ retryAfterMs: number };

export interface BruteForcePolicy {
  /** Before an attempt. `account` is `domain/user` in canonical form, when known. */
  check(ip: string, account?: string): Promise<BruteForceVerdict>;
  recordFailure(ip: string, account?: string): Promise<void>;
  recordSuccess(ip: string, account?: string): Promise<void>;
  /** The counter keys used for an address and an account (for admin tools that clear them). */
  keys(ip: string, account?: string): { address: string; account?: string };
}

/**
 * The part of an address that identifies a client: IPv4 as is (IPv4-mapped IPv6 unwrapped),
 * IPv6 by its /64 prefix, since one subscriber usually holds a whole /64.
 */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  const family = isIP(ip);
  if (family === 4) return ip;
  if (family !== 6) return `other:${ip.slice(0, 64)}`;
  const address = ip.replace(/%.*$/, ''); // zone index
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail only affects the low 64 bits, which are dropped anyway.
  const missing = 8 - headGroups.length - tailGroups.length;
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`;
}

function positiveInteger(name: string, value: number, min = 0): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new AuthError('ERR_AUTH_INVALID_OPTION', `${name} must be an integer >= ${min}`);
  }
  return value;
}

export function createBruteForcePolicy(options: BruteForcePolicyOptions): BruteForcePolicy {
  const counters = options.counters;
  const prefix = options.keyPrefix ?? 'auth:fail:';
  const windowMs = positiveInteger('windowMs', options.windowMs ?? 15 * 60_000, 1000);
  const maxPerAddress = positiveInteger('maxFailuresPerAddress', options.maxFailuresPerAddress ?? 30, 1);
  const maxPerAccount = positiveInteger('maxFailuresPerAccount', options.maxFailuresPerAccount ?? 10, 1);
  const freeFailures = positiveInteger('freeFailures', options.freeFailures ?? 2);
  const baseDelayMs = positiveInteger('baseDelayMs', options.baseDelayMs ?? 250);
  const maxDelayMs = positiveInteger('maxDelayMs', options.maxDelayMs ?? 8000);

  const keys = (ip: string, account?: string) => {
    const out: { address: string; account?: string } = { address: `${prefix}ip:${addressKey(ip)}` };
    // Hashed: fixed length whatever a client sends, and no user names in key listings.
    if (account !== undefined) {
      out.account = `${prefix}acct:${createHash('sha256').update(account, 'utf8').digest('base64url').slice(0, 32)}`;
    }
    return out;
  };

  const delayFor = (failures: number): number => {
    const beyond = failures - freeFailures;
    if (beyond <= 0) return 0;
    // Exponent clamped so the product stays finite however many failures pile up.
    return Math.min(maxDelayMs, baseDelayMs * 2 ** Math.min(beyond - 1, 30));
  };

  return {
    keys,
    async check(ip, account) {
      const k = keys(ip, account);
      const [addressFailures, accountFailures] = await Promise.all([
        counters.get(k.address),
        k.account === undefined ? Promise.resolve(0) : counters.get(k.account),
      ]);
      if (addressFailures >= maxPerAddress || accountFailures >= maxPerAccount) {
        return { allowed: false, condition: 'temporary-auth-failure', retryAfterMs: windowMs };
      }
      // The address count is scaled to the account limit so a shared address (NAT) with a few
      // failures does not slow everybody behind it as much as one account under attack.
      const scaledAddress = Math.floor((addressFailures * maxPerAccount) / maxPerAddress);
      return { allowed: true, delayMs: delayFor(Math.max(accountFailures, scaledAddress)) };
    },
    async recordFailure(ip, account) {
      const k = keys(ip, account);
      await Promise.all([
        counters.increment(k.address, windowMs),
        k.account === undefined ? Promise.resolve(0) : counters.increment(k.account, windowMs),
      ]);
    },
    async recordSuccess(ip, account) {
      const k = keys(ip, account);
      if (k.account !== undefined) await counters.reset(k.account);
    },
  };
}
