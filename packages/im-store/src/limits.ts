// Every bound an IM store enforces per account, its default and what happens when it is reached.
// The README's "Bounds" table is the same list in prose; keep them together.
//
// The store never grows without one of these bounds: everything a peer can make it hold (roster
// items, pending subscription requests, offline messages, archived messages, blocked JIDs, vCard,
// private XML) is per account and capped here. The number of accounts is the service's business:
// it must only write for accounts that exist.

import { invalidArgument } from './errors.js';

export interface ImStoreLimits {
  /** Roster items per account. A write that would add one more is refused (`roster-full`). Default 1000. */
  maxRosterItems?: number;
  /** Inbound pending subscription requests per account (RFC 6121 §3.1.3). Refused (`pending-full`). Default 1000. */
  maxPendingSubscriptions?: number;
  /** UTF-8 bytes of a roster item's name (RFC 6121 §2.3.3: server-configured limit). Refused (`too-large`). Default 1024. */
  maxRosterNameBytes?: number;
  /** Groups of one roster item. Refused (`too-large`). Default 64. */
  maxRosterGroups?: number;
  /** UTF-8 bytes of one group name (RFC 6121 §2.3.3). Refused (`too-large`). Default 1024. */
  maxRosterGroupBytes?: number;
  /** UTF-8 bytes of the status text kept with a pending subscription request. Refused (`too-large`). Default 1024. */
  maxPendingStatusBytes?: number;
  /**
   * Roster changes remembered per account for XEP-0237 deltas (one entry per changed contact, the
   * latest change only). Older changes are forgotten: a client whose version predates them gets
   * the full roster. 0 disables deltas. Default 500.
   */
  rosterChangeLogSize?: number;
  /** Offline messages per account (XEP-0160). A new message is refused (`queue-full`). Default 1000. */
  maxOfflineMessages?: number;
  /** UTF-8 bytes of all offline messages of one account. A new message is refused (`queue-full` / `too-large`). Default 4 MiB. */
  maxOfflineBytes?: number;
  /** Largest page `offline.peek` returns; larger requests are clamped. Default 500. */
  maxOfflinePage?: number;
  /** Archived messages per account (XEP-0313). The oldest are dropped to make room. Default 10000. */
  maxArchiveMessages?: number;
  /** UTF-8 bytes of all archived messages of one account. The oldest are dropped to make room. Default 32 MiB. */
  maxArchiveBytes?: number;
  /** UTF-8 bytes of one archived message. Refused (`too-large`). Default 256 KiB. */
  maxArchiveMessageBytes?: number;
  /** Largest page `archive.query` returns; larger `max` values are clamped (XEP-0059 §2.1 allows fewer). Default 500. */
  maxArchivePage?: number;
  /** Blocked JIDs per account (XEP-0191). An addition that would exceed it is refused whole (`list-full`). Default 1000. */
  maxBlockedJids?: number;
  /** UTF-8 bytes of the vCard (XEP-0054). Refused (`too-large`), the old vCard stays. Default 64 KiB. */
  maxVCardBytes?: number;
  /** UTF-8 bytes of one private XML item (XEP-0049). Refused (`too-large`). Default 64 KiB. */
  maxPrivateItemBytes?: number;
  /**
   * UTF-8 bytes of all private XML items of one account, each counted as its XML plus its
   * namespace and element name plus one. Refused (`quota-exceeded`), the old item stays. Default 512 KiB.
   */
  maxPrivateBytes?: number;
  /** Resources with a stored presence per account. A presence for one more is refused (`too-many`). Default 100. */
  maxPresenceResources?: number;
  /** UTF-8 bytes of one stored presence. Refused (`too-large`), the old one stays. Default 16 KiB. */
  maxPresenceBytes?: number;
  /** A stored presence expires this long after its last `set` (a session lost without a word). Default 24 h. */
  presenceTtlMs?: number;
}

export type ResolvedImStoreLimits = Required<ImStoreLimits>;

export const DEFAULT_IM_STORE_LIMITS: Readonly<ResolvedImStoreLimits> = Object.freeze({
  maxRosterItems: 1000,
  maxPendingSubscriptions: 1000,
  maxRosterNameBytes: 1024,
  maxRosterGroups: 64,
  maxRosterGroupBytes: 1024,
  maxPendingStatusBytes: 1024,
  rosterChangeLogSize: 500,
  maxOfflineMessages: 1000,
  maxOfflineBytes: 4 * 1024 * 1024,
  maxOfflinePage: 500,
  maxArchiveMessages: 10_000,
  maxArchiveBytes: 32 * 1024 * 1024,
  maxArchiveMessageBytes: 256 * 1024,
  maxArchivePage: 500,
  maxBlockedJids: 1000,
  maxVCardBytes: 64 * 1024,
  maxPrivateItemBytes: 64 * 1024,
  maxPrivateBytes: 512 * 1024,
  maxPresenceResources: 100,
  maxPresenceBytes: 16 * 1024,
  presenceTtlMs: 24 * 60 * 60 * 1000,
});

/** Bounds that may be 0 (everything else must be at least 1). */
const MAY_BE_ZERO = new Set<keyof ImStoreLimits>(['rosterChangeLogSize']);

/** Above this a "limit" is a typo, and it would no longer be exact in a Lua double either. */
const MAX_LIMIT = 2 ** 40;

/** Fills in defaults and rejects nonsense (non-integers, negatives, a message larger than its queue). */
export function resolveLimits(limits: ImStoreLimits = {}): ResolvedImStoreLimits {
  const resolved: ResolvedImStoreLimits = { ...DEFAULT_IM_STORE_LIMITS };
  for (const [name, value] of Object.entries(limits) as Array<[keyof ImStoreLimits, unknown]>) {
    if (!(name in DEFAULT_IM_STORE_LIMITS)) continue; // other options travel in the same object
    if (value === undefined) continue;
    const min = MAY_BE_ZERO.has(name) ? 0 : 1;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > MAX_LIMIT) {
      throw invalidArgument(`limit ${name} must be an integer from ${min} to ${MAX_LIMIT}, not ${String(value)}`);
    }
    resolved[name] = value;
  }
  if (resolved.maxArchiveMessageBytes > resolved.maxArchiveBytes) {
    throw invalidArgument('maxArchiveMessageBytes must not exceed maxArchiveBytes (a message would evict itself)');
  }
  if (resolved.maxPrivateItemBytes > resolved.maxPrivateBytes) {
    throw invalidArgument('maxPrivateItemBytes must not exceed maxPrivateBytes');
  }
  return resolved;
}
