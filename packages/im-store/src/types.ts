// The IM service's state behind one interface. Every operation names the account it touches (a
// bare JID, normalised by the caller, treated here as an opaque string) and is atomic for that
// account: two service instances that briefly handle the same user (a membership change moves the
// user between instances) can interleave calls without losing an update.
//
// Expected outcomes are results (`{ ok: false, reason }`); errors (ImStoreError) mean a
// programming mistake, an unreachable store or unreadable data.

import type { ResolvedImStoreLimits } from './limits.js';

// -- roster (RFC 6121 §2, §3; XEP-0237 roster versioning) ---------------------------------------

/** RFC 6121 §2.1.2.5. */
export type Subscription = 'none' | 'to' | 'from' | 'both';

export const SUBSCRIPTIONS: readonly Subscription[] = ['none', 'to', 'from', 'both'];

/** One roster item as stored (RFC 6121 §2.1.2). */
export interface RosterItem {
  /** The contact's bare JID: the item's key. */
  jid: string;
  /** The handle the user gave the contact (§2.1.2.4); absent when none. */
  name?: string;
  /** Groups (§2.1.2.3), without duplicates, sorted. */
  groups: string[];
  subscription: Subscription;
  /** The user asked for a subscription and the contact has not answered: `ask='subscribe'` (§2.1.2.2). */
  ask: boolean;
  /** The user pre-approved the contact's subscription request (§3.4, `approved='true'`). */
  approved: boolean;
}

/** What a caller writes. `jid`, when given, must be the contact's; missing fields take the defaults. */
export interface RosterItemInput {
  jid?: string;
  /** An empty name is stored as no name. */
  name?: string | undefined;
  /** Duplicates are dropped and the rest sorted. Group names must not be empty (§2.3.3). */
  groups?: readonly string[];
  /** Default 'none'. */
  subscription?: Subscription;
  /** Default false. */
  ask?: boolean;
  /** Default false. */
  approved?: boolean;
}

/**
 * An inbound subscription request the user has not answered (RFC 6121 §3.1.3): it is not a roster
 * item (the contact may not be in the roster at all) but must be redelivered at every login until
 * the user approves or denies it.
 */
export interface PendingSubscription {
  jid: string;
  /** The request's <status/> text, if it had one. */
  status?: string;
  /** When the request was first stored (ms since the epoch, the store's clock). */
  stamp: number;
}

/** Everything the store knows about one contact of one account. */
export interface ContactState {
  jid: string;
  item: RosterItem | null;
  pendingIn: PendingSubscription | null;
  /** Opaque token of this state: pass it to `compareAndSet`. */
  revision: string;
  /** The account's roster version when this state was read. */
  rosterVersion: string;
}

/** A change to one contact. An omitted field keeps its current value; `null` removes it. */
export interface ContactChange {
  item?: RosterItemInput | null;
  /**
   * Sets the pending inbound request. Writing the same status again keeps the original stamp;
   * a different status replaces it and restamps.
   */
  pendingIn?: { status?: string | undefined } | null;
}

export type RosterRefusal =
  /** The contact changed since `revision` was read: read again and recompute. */
  | { ok: false; reason: 'conflict' }
  /** The change would add an item to a full roster (`maxRosterItems`). */
  | { ok: false; reason: 'roster-full'; limit: number }
  /** The change would add a pending request beyond `maxPendingSubscriptions`. */
  | { ok: false; reason: 'pending-full'; limit: number }
  /** A name, group, group count or status is beyond its limit (RFC 6121 §2.3.3: not-acceptable). */
  | { ok: false; reason: 'too-large'; field: 'name' | 'group' | 'groups' | 'status'; limit: number };

export interface RosterWriteSuccess {
  ok: true;
  /** The contact after the write. */
  contact: ContactState;
  /** The item changed (added, modified or removed): send a roster push with `version` (RFC 6121 §2.1.6). */
  itemChanged: boolean;
  /** The roster version after the write (unchanged when the item did not change). */
  version: string;
}

export type RosterWriteResult = RosterWriteSuccess | RosterRefusal;

export type RosterUpdateResult = (RosterWriteSuccess & { previous: ContactState }) | RosterRefusal;

/** One entry of a roster delta: the contact's current item, or its removal. */
export type RosterChange = { jid: string; item: RosterItem } | { jid: string; removed: true };

export type RosterView =
  /** The whole roster, items sorted by JID. */
  | { kind: 'full'; version: string; items: RosterItem[] }
  /**
   * What changed since the requested version (RFC 6121 §2.6): each changed contact once, with its
   * state now, in the order of their last change. Empty when the client is up to date.
   */
  | { kind: 'delta'; version: string; changes: RosterChange[] };

export interface RosterUpdateOptions {
  /** Attempts before giving up with `conflict`. Default 32. */
  maxAttempts?: number;
}

export interface RosterStore {
  /**
   * The roster. Without `sinceVersion`, or when the store cannot answer for it (unknown, malformed,
   * from before the account was recreated, or older than the change log), the full roster; else
   * the changes since that version. A never-written roster has version "0".
   */
  get(account: string, sinceVersion?: string): Promise<RosterView>;
  /** The roster version alone. */
  version(account: string): Promise<string>;
  /** One contact: item, pending inbound request and the revision to compare-and-set against. */
  getContact(account: string, jid: string): Promise<ContactState>;
  /**
   * Applies `change` only if the contact is still at `revision`; atomically bumps the roster
   * version and records the change when the item changed. A change that changes nothing succeeds
   * without writing.
   */
  compareAndSet(account: string, jid: string, revision: string, change: ContactChange): Promise<RosterWriteResult>;
  /**
   * Read-modify-write of one contact: reads it, calls `updater` (return undefined for "no change"),
   * compare-and-sets, and retries on conflict with a short jittered backoff. `updater` may run
   * several times and must not have side effects.
   */
  update(
    account: string,
    jid: string,
    updater: (current: ContactState) => ContactChange | undefined | Promise<ContactChange | undefined>,
    options?: RosterUpdateOptions,
  ): Promise<RosterUpdateResult>;
  /** Every pending inbound request, oldest first (RFC 6121 §3.1.3: redeliver at login). */
  listPending(account: string): Promise<PendingSubscription[]>;
}

// -- offline messages (XEP-0160) ----------------------------------------------------------------

export interface OfflineMessage {
  /** Unique per account, increasing in arrival order (see `messageIdStamp`). */
  id: string;
  /** Arrival time (ms since the epoch, the store's clock): the XEP-0203 delay stamp. */
  stamp: number;
  xml: string;
}

export type OfflinePushResult =
  | { ok: true; id: string; stamp: number; count: number; bytes: number }
  /**
   * The account's queue is at `maxOfflineMessages` (bound 'messages') or the message does not fit
   * in `maxOfflineBytes` (bound 'bytes'). Nothing was stored: the service answers the sender
   * (RFC 6121 §8.5.2.2.1 lets it return <service-unavailable/>).
   */
  | { ok: false; reason: 'queue-full'; bound: 'messages' | 'bytes'; limit: number }
  /** The message alone is larger than `maxOfflineBytes`. */
  | { ok: false; reason: 'too-large'; limit: number };

export interface OfflineStore {
  push(account: string, xml: string): Promise<OfflinePushResult>;
  /**
   * The oldest messages (after `after`, an id from an earlier peek), oldest first, at most `max`
   * (default and cap `maxOfflinePage`). Nothing is removed: deliver, then `ack`, so a crash in
   * between redelivers instead of losing.
   */
  peek(account: string, options?: { after?: string; max?: number }): Promise<OfflineMessage[]>;
  /** Removes every message with an id up to and including `upToId`; returns how many. */
  ack(account: string, upToId: string): Promise<number>;
  /** Removes the given messages (XEP-0013 item removal); returns how many existed. */
  remove(account: string, ids: readonly string[]): Promise<number>;
  stats(account: string): Promise<{ count: number; bytes: number }>;
  /** Removes every message; returns how many. */
  clear(account: string): Promise<number>;
}

// -- message archive (XEP-0313) -----------------------------------------------------------------

export type ArchiveDirection = 'in' | 'out';

export interface ArchivedMessage {
  /** Unique per account, increasing in archive order; the RSM item id and stanza-id (XEP-0359). */
  id: string;
  /** When archived (ms since the epoch, the store's clock). */
  stamp: number;
  /** The other party's bare JID. */
  with: string;
  /** 'in': received by the account; 'out': sent by it. */
  direction: ArchiveDirection;
  xml: string;
}

export type ArchiveAppendResult =
  /** `dropped`: how many of the oldest messages retention removed to make room. */
  | { ok: true; id: string; stamp: number; dropped: number }
  | { ok: false; reason: 'too-large'; limit: number };

export interface ArchiveQuery {
  /** Only messages with this bare JID (XEP-0313 §4.1.1). */
  with?: string;
  /** Only messages at or after this time (ms since the epoch). */
  start?: number;
  /** Only messages at or before this time (ms since the epoch). */
  end?: number;
  /** RSM (XEP-0059 §2.2, paging forward): the page of messages right after this id. */
  after?: string;
  /**
   * RSM (XEP-0059 §2.3, paging backward): the page of messages right before this id; the empty
   * string asks for the last page (§2.5). The page still comes in chronological order.
   */
  before?: string;
  /** Page size (default and cap `maxArchivePage`); 0 asks for the count only (XEP-0059 §2.7). */
  max?: number;
}

export type ArchiveQueryResult =
  | {
      ok: true;
      /** Chronological order whatever the paging direction. */
      messages: ArchivedMessage[];
      /**
       * XEP-0313's <fin complete='true'/>: the page reaches the end of the results in its paging
       * direction (the last message going forward, the first going backward).
       */
      complete: boolean;
      /** Messages matching with/start/end, ignoring paging (RSM <count/>). */
      count: number;
      /** RSM <first/> and <last/>: ids of the page's first and last message (absent when empty). */
      first?: string;
      last?: string;
    }
  /** `after` or `before` names no message in the archive (XEP-0059 §2.4: item-not-found). */
  | { ok: false; reason: 'item-not-found'; id: string };

export interface ArchiveStore {
  /**
   * Archives one message. When the account's archive is at `maxArchiveMessages` or
   * `maxArchiveBytes`, the oldest messages are dropped to make room.
   */
  append(account: string, message: { with: string; direction: ArchiveDirection; xml: string }): Promise<ArchiveAppendResult>;
  query(account: string, query?: ArchiveQuery): Promise<ArchiveQueryResult>;
  /** Removes the whole archive; returns how many messages it held. */
  clear(account: string): Promise<number>;
}

// -- blocking (XEP-0191) ------------------------------------------------------------------------

export type BlockingAddResult =
  | { ok: true; added: string[] }
  /** The addition would exceed `maxBlockedJids`: nothing was added. */
  | { ok: false; reason: 'list-full'; limit: number };

export interface BlockingStore {
  /** The blocklist, sorted. */
  list(account: string): Promise<string[]>;
  /** Adds JIDs (any JID form: the service decides what they match, XEP-0191 §6); returns those that were new. */
  add(account: string, jids: readonly string[]): Promise<BlockingAddResult>;
  /** Removes JIDs; returns those that were present. */
  remove(account: string, jids: readonly string[]): Promise<string[]>;
  /** Empties the list (XEP-0191 §3.5 "unblock all"); returns what it held. */
  clear(account: string): Promise<string[]>;
  /**
   * Which of `candidates` are on the list: the service passes the forms a stanza's address can
   * match (full JID, bare JID, domain/resource, domain; XEP-0191 §6) in one call.
   */
  blockedAmong(account: string, candidates: readonly string[]): Promise<string[]>;
}

// -- vCard-temp (XEP-0054) ----------------------------------------------------------------------

export type SizeLimitedWriteResult = { ok: true } | { ok: false; reason: 'too-large'; limit: number };

export interface VCardStore {
  get(account: string): Promise<string | null>;
  /** Replaces the vCard; refused (old one kept) when larger than `maxVCardBytes`. */
  set(account: string, xml: string): Promise<SizeLimitedWriteResult>;
  /** Returns whether there was one. */
  remove(account: string): Promise<boolean>;
}

// -- private XML storage (XEP-0049) -------------------------------------------------------------

export type PrivateXmlSetResult =
  | { ok: true }
  | { ok: false; reason: 'too-large'; limit: number }
  /** The account's private storage would exceed `maxPrivateBytes`: nothing changed. */
  | { ok: false; reason: 'quota-exceeded'; limit: number };

export interface PrivateXmlStore {
  /** The stored element for (element name, namespace) (XEP-0049 §2.2), or null. */
  get(account: string, name: string, namespace: string): Promise<string | null>;
  set(account: string, name: string, namespace: string, xml: string): Promise<PrivateXmlSetResult>;
  /** Returns whether there was one. */
  remove(account: string, name: string, namespace: string): Promise<boolean>;
}

// -- last presence per available resource (RFC 6121 §4.3, §4.4) -------------------------------

/** The last available presence a resource sent (kept to answer probes and to broadcast). */
export interface StoredPresence {
  /** The resourcepart of the session's full JID. */
  resource: string;
  xml: string;
  /** When it was stored (ms since the epoch, the store's clock). */
  stamp: number;
}

export type PresenceSetResult =
  | { ok: true }
  /** The presence alone is larger than `maxPresenceBytes`: nothing changed. */
  | { ok: false; reason: 'too-large'; limit: number }
  /** The account already has `maxPresenceResources` live presences for other resources: nothing changed. */
  | { ok: false; reason: 'too-many'; limit: number };

/**
 * Per account, per resource: the last available presence, until the resource goes unavailable
 * (the service removes it on unavailable presence and on a closed session) or it expires
 * `presenceTtlMs` after its last `set` (a session whose gateway died without telling anyone).
 */
export interface PresenceStore {
  /** Stores (or replaces) the presence of one resource and restarts its expiry. */
  set(account: string, resource: string, xml: string): Promise<PresenceSetResult>;
  /** The live (unexpired) presences of the account, sorted by resource. */
  list(account: string): Promise<StoredPresence[]>;
  /** Returns whether there was one. */
  remove(account: string, resource: string): Promise<boolean>;
  /** Removes every presence of the account; returns how many there were. */
  clear(account: string): Promise<number>;
}

// -- the whole store ----------------------------------------------------------------------------

export interface ImStore {
  /** 'memory', 'redis-standalone', 'redis-sentinel', 'redis-cluster'. */
  readonly kind: string;
  readonly limits: Readonly<ResolvedImStoreLimits>;
  readonly roster: RosterStore;
  readonly offline: OfflineStore;
  readonly archive: ArchiveStore;
  readonly blocking: BlockingStore;
  readonly vcard: VCardStore;
  readonly privateXml: PrivateXmlStore;
  readonly presence: PresenceStore;
  /** Removes everything the store holds for the account (XEP-0077 §3.2 cancellation), atomically. */
  deleteAccount(account: string): Promise<void>;
  /** Releases connections; every later call fails with IM_STORE_CLOSED. Idempotent. */
  close(): Promise<void>;
}
