// The in-memory IM store: for `ambrosia dev` (one process) and for unit tests of the IM service.
// Every operation runs synchronously between two awaits, so each one is atomic by construction;
// compare-and-set conflicts still happen when a caller's read and write straddle another write,
// exactly as on Redis. Values are stored in the same encoded forms as the Redis adapter, so both
// decide "unchanged" the same way.

import { ImStoreError, invalidArgument } from './errors.js';
import { resolveLimits, type ImStoreLimits, type ResolvedImStoreLimits } from './limits.js';
import {
  byJid,
  byResource,
  byStampThenJid,
  checkJid,
  checkJidList,
  checkMessageId,
  checkPrivateKey,
  checkResource,
  checkXml,
  decodePending,
  decodeRosterItem,
  encodePending,
  formatMessageId,
  formatRosterVersion,
  archiveBounds,
  MAX_MESSAGE_ID,
  messageIdStamp,
  nextMessageId,
  pageSize,
  parseMessageId,
  parseRosterVersion,
  prepareContactChange,
  privateXmlCost,
  privateXmlField,
  utf8Bytes,
} from './model.js';
import { runContactUpdate } from './roster-update.js';
import type {
  ArchiveDirection,
  ArchiveQuery,
  ArchiveQueryResult,
  ArchivedMessage,
  ArchiveStore,
  BlockingStore,
  ContactState,
  ImStore,
  OfflineStore,
  PendingSubscription,
  PresenceStore,
  PrivateXmlStore,
  StoredPresence,
  RosterChange,
  RosterItem,
  RosterStore,
  RosterView,
  RosterWriteResult,
  VCardStore,
} from './types.js';

export interface MemoryImStoreOptions extends ImStoreLimits {
  /** Milliseconds since the epoch; stamps and message ids come from it. Default Date.now. */
  clock?: () => number;
  /**
   * The data to work on. Several stores given the same data behave like several IM service
   * instances on one Redis (tests of races between instances). Default: a new, private one.
   */
  data?: MemoryImStoreData;
}

interface ArchiveEntry {
  id: number;
  with: string;
  direction: ArchiveDirection;
  xml: string;
  bytes: number;
}

class AccountState {
  // roster: the same shapes as the Redis hashes
  rosterEpoch: number | undefined = undefined;
  rosterCounter = 0;
  /** Deltas can be answered for any version >= this (older changes were forgotten). */
  logFloor = 0;
  readonly items = new Map<string, string>();
  readonly pending = new Map<string, string>();
  readonly revisions = new Map<string, number>();
  /** jid → version of its last change; Map order is ascending version (delete before set). */
  readonly changeLog = new Map<string, number>();
  // offline: id → xml, in ascending id order
  readonly offline = new Map<number, string>();
  offlineBytes = 0;
  // archive: every message, and the same entries per correspondent (the Redis "by with" index)
  archive = new EntryQueue();
  archiveByWith = new Map<string, EntryQueue>();
  archiveBytes = 0;
  readonly blocked = new Set<string>();
  vcard: string | undefined = undefined;
  readonly privateXml = new Map<string, string>();
  privateBytes = 0;
  /** resource → last available presence and when it expires */
  readonly presence = new Map<string, { presence: StoredPresence; expiresAt: number }>();
}

/** Archive entries in ascending id order: appends at the end, drops from the front in O(1) amortised, searches in O(log n). */
class EntryQueue {
  private items: Array<ArchiveEntry | undefined> = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  at(index: number): ArchiveEntry {
    return this.items[this.head + index] as ArchiveEntry;
  }

  push(entry: ArchiveEntry): void {
    this.items.push(entry);
  }

  shift(): ArchiveEntry | undefined {
    if (this.size === 0) return undefined;
    const entry = this.items[this.head];
    this.items[this.head++] = undefined;
    // Compact once the dropped prefix is most of the array, so memory follows the live entries.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  /** Index of the first entry with id >= target. */
  lowerBound(target: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid).id < target) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(id: number): boolean {
    const i = this.lowerBound(id);
    return i < this.size && this.at(i).id === id;
  }
}

/** What memory stores hold: every account's state. Shareable between stores (see `data`). */
export class MemoryImStoreData {
  readonly accounts = new Map<string, AccountState>();
  /** One id sequence for all accounts: ids never repeat, even across deleteAccount. */
  lastId = 0;
}

export function createMemoryImStore(options: MemoryImStoreOptions = {}): ImStore {
  const { clock = Date.now, data, ...limitOptions } = options;
  if (typeof clock !== 'function') throw invalidArgument('clock must be a function');
  if (data !== undefined && !(data instanceof MemoryImStoreData)) throw invalidArgument('data must be a MemoryImStoreData');
  return new MemoryImStore(resolveLimits(limitOptions), clock, data ?? new MemoryImStoreData(), data === undefined);
}

class MemoryImStore implements ImStore {
  readonly kind = 'memory';
  readonly roster: RosterStore;
  readonly offline: OfflineStore;
  readonly archive: ArchiveStore;
  readonly blocking: BlockingStore;
  readonly vcard: VCardStore;
  readonly privateXml: PrivateXmlStore;
  readonly presence: PresenceStore;
  private readonly accounts: Map<string, AccountState>;
  private closed = false;

  constructor(
    readonly limits: Readonly<ResolvedImStoreLimits>,
    private readonly clock: () => number,
    private readonly data: MemoryImStoreData,
    private readonly ownsData: boolean,
  ) {
    this.accounts = data.accounts;
    this.roster = this.makeRoster();
    this.offline = this.makeOffline();
    this.archive = this.makeArchive();
    this.blocking = this.makeBlocking();
    this.vcard = this.makeVCard();
    this.privateXml = this.makePrivateXml();
    this.presence = this.makePresence();
  }

  async deleteAccount(account: string): Promise<void> {
    this.accounts.delete(this.check(account));
  }

  async close(): Promise<void> {
    this.closed = true;
    // Shared data belongs to whoever shares it; our own we release.
    if (this.ownsData) this.accounts.clear();
  }

  /** Validates the account; throws IM_STORE_CLOSED after close(). */
  private check(account: string): string {
    if (this.closed) throw new ImStoreError('IM_STORE_CLOSED');
    return checkJid(account, 'account');
  }

  private read(account: string): AccountState | undefined {
    return this.accounts.get(this.check(account));
  }

  private write(account: string): AccountState {
    const key = this.check(account);
    let state = this.accounts.get(key);
    if (state === undefined) this.accounts.set(key, (state = new AccountState()));
    return state;
  }

  private nextId(): number {
    this.data.lastId = nextMessageId(this.data.lastId, this.clock());
    return this.data.lastId;
  }

  // -- roster -----------------------------------------------------------------------------------

  private contactState(state: AccountState | undefined, jid: string): ContactState {
    const itemRaw = state?.items.get(jid);
    const pendingRaw = state?.pending.get(jid);
    return {
      jid,
      item: itemRaw === undefined ? null : decodeRosterItem(jid, itemRaw),
      pendingIn: pendingRaw === undefined ? null : decodePending(jid, pendingRaw),
      revision: String(state?.revisions.get(jid) ?? 0),
      rosterVersion: formatRosterVersion(state?.rosterEpoch, state?.rosterCounter ?? 0),
    };
  }

  private makeRoster(): RosterStore {
    const getContact = async (account: string, jid: string): Promise<ContactState> => {
      const state = this.read(account);
      return this.contactState(state, checkJid(jid, 'contact'));
    };

    const compareAndSet = async (account: string, jid: string, revision: string, change: Parameters<RosterStore['compareAndSet']>[3]): Promise<RosterWriteResult> => {
      this.check(account);
      checkJid(jid, 'contact');
      if (typeof revision !== 'string') throw invalidArgument('revision must be a string');
      const prepared = prepareContactChange(this.limits, jid, change);
      if (!prepared.ok) return prepared;
      const existing = this.read(account);
      if (String(existing?.revisions.get(jid) ?? 0) !== revision) return { ok: false, reason: 'conflict' };

      const oldItem = existing?.items.get(jid);
      const oldPending = existing?.pending.get(jid);
      let itemChanged = false;
      if (prepared.item.mode === 'set' && prepared.item.encoded !== oldItem) {
        if (oldItem === undefined && (existing?.items.size ?? 0) >= this.limits.maxRosterItems) {
          return { ok: false, reason: 'roster-full', limit: this.limits.maxRosterItems };
        }
        itemChanged = true;
      } else if (prepared.item.mode === 'delete' && oldItem !== undefined) itemChanged = true;

      let pendingChanged = false;
      let newPending: string | undefined;
      if (prepared.pending.mode === 'set') {
        const same = oldPending !== undefined && decodePending(jid, oldPending).status === prepared.pending.status;
        if (!same) {
          if (oldPending === undefined && (existing?.pending.size ?? 0) >= this.limits.maxPendingSubscriptions) {
            return { ok: false, reason: 'pending-full', limit: this.limits.maxPendingSubscriptions };
          }
          newPending = encodePending(this.clock(), prepared.pending.status);
          pendingChanged = true;
        }
      } else if (prepared.pending.mode === 'delete' && oldPending !== undefined) pendingChanged = true;

      if (!itemChanged && !pendingChanged) {
        const contact = this.contactState(existing, jid);
        return { ok: true, contact, itemChanged: false, version: contact.rosterVersion };
      }

      const state = this.write(account);
      if (itemChanged) {
        if (prepared.item.mode === 'set') state.items.set(jid, prepared.item.encoded);
        else state.items.delete(jid);
        if (state.rosterEpoch === undefined) {
          state.rosterEpoch = this.nextId();
          state.rosterCounter = 0;
          state.logFloor = 0;
        }
        state.rosterCounter += 1;
        state.changeLog.delete(jid);
        state.changeLog.set(jid, state.rosterCounter);
        // Forget the oldest changes beyond the log size (XEP-0237 deltas for older versions
        // become full rosters).
        while (state.changeLog.size > this.limits.rosterChangeLogSize) {
          const [oldestJid, oldestVersion] = state.changeLog.entries().next().value as [string, number];
          state.changeLog.delete(oldestJid);
          state.logFloor = oldestVersion;
        }
      }
      if (pendingChanged) {
        if (newPending !== undefined) state.pending.set(jid, newPending);
        else state.pending.delete(jid);
      }
      // A contact with neither item nor request is forgotten: revision 0 again, which is safe
      // (a writer holding revision 0 computed its change from that same empty state).
      if (state.items.has(jid) || state.pending.has(jid)) state.revisions.set(jid, this.nextId());
      else state.revisions.delete(jid);
      const contact = this.contactState(state, jid);
      return { ok: true, contact, itemChanged, version: contact.rosterVersion };
    };

    return {
      get: async (account, sinceVersion) => {
        const state = this.read(account);
        if (sinceVersion !== undefined && typeof sinceVersion !== 'string') throw invalidArgument('sinceVersion must be a string');
        const version = formatRosterVersion(state?.rosterEpoch, state?.rosterCounter ?? 0);
        const since = parseRosterVersion(sinceVersion);
        if (
          state !== undefined &&
          since !== undefined &&
          since.epoch === state.rosterEpoch &&
          since.counter >= state.logFloor &&
          since.counter <= state.rosterCounter
        ) {
          const changes: RosterChange[] = [];
          for (const [jid, changedAt] of state.changeLog) {
            if (changedAt <= since.counter) continue;
            const raw = state.items.get(jid);
            changes.push(raw === undefined ? { jid, removed: true } : { jid, item: decodeRosterItem(jid, raw) });
          }
          return { kind: 'delta', version, changes } satisfies RosterView;
        }
        const items: RosterItem[] = [];
        for (const [jid, raw] of state?.items ?? []) items.push(decodeRosterItem(jid, raw));
        items.sort(byJid);
        return { kind: 'full', version, items } satisfies RosterView;
      },
      version: async (account) => {
        const state = this.read(account);
        return formatRosterVersion(state?.rosterEpoch, state?.rosterCounter ?? 0);
      },
      getContact,
      compareAndSet,
      update: async (account, jid, updater, updateOptions) => {
        this.check(account);
        checkJid(jid, 'contact');
        return runContactUpdate(
          () => getContact(account, jid),
          (revision, change) => compareAndSet(account, jid, revision, change),
          updater,
          updateOptions,
        );
      },
      listPending: async (account) => {
        const state = this.read(account);
        const list: PendingSubscription[] = [];
        for (const [jid, raw] of state?.pending ?? []) list.push(decodePending(jid, raw));
        return list.sort(byStampThenJid);
      },
    };
  }

  // -- offline ----------------------------------------------------------------------------------

  private makeOffline(): OfflineStore {
    const removeUpTo = (state: AccountState, upTo: number): number => {
      let removed = 0;
      for (const [id, xml] of state.offline) {
        if (id > upTo) break;
        state.offline.delete(id);
        state.offlineBytes -= utf8Bytes(xml);
        removed++;
      }
      return removed;
    };
    return {
      push: async (account, xml) => {
        this.check(account);
        checkXml(xml);
        const bytes = utf8Bytes(xml);
        const { maxOfflineMessages, maxOfflineBytes } = this.limits;
        if (bytes > maxOfflineBytes) return { ok: false, reason: 'too-large', limit: maxOfflineBytes };
        const existing = this.read(account);
        if ((existing?.offline.size ?? 0) >= maxOfflineMessages) return { ok: false, reason: 'queue-full', bound: 'messages', limit: maxOfflineMessages };
        if ((existing?.offlineBytes ?? 0) + bytes > maxOfflineBytes) return { ok: false, reason: 'queue-full', bound: 'bytes', limit: maxOfflineBytes };
        const state = this.write(account);
        const id = this.nextId();
        state.offline.set(id, xml);
        state.offlineBytes += bytes;
        return { ok: true, id: formatMessageId(id), stamp: messageIdStamp(id), count: state.offline.size, bytes: state.offlineBytes };
      },
      peek: async (account, peekOptions = {}) => {
        const state = this.read(account);
        const max = pageSize(peekOptions.max, this.limits.maxOfflinePage);
        const after = peekOptions.after === undefined ? -1 : checkMessageId(peekOptions.after, 'after');
        const page = [];
        for (const [id, xml] of state?.offline ?? []) {
          if (page.length >= max) break;
          if (id > after) page.push({ id: formatMessageId(id), stamp: messageIdStamp(id), xml });
        }
        return page;
      },
      ack: async (account, upToId) => {
        const state = this.read(account);
        const upTo = checkMessageId(upToId, 'upToId');
        return state === undefined ? 0 : removeUpTo(state, upTo);
      },
      remove: async (account, ids) => {
        const state = this.read(account);
        if (!Array.isArray(ids)) throw invalidArgument('ids must be an array');
        const numbers = [...new Set(ids.map((id) => checkMessageId(id, 'id')))];
        let removed = 0;
        for (const id of numbers) {
          const xml = state?.offline.get(id);
          if (state === undefined || xml === undefined) continue;
          state.offline.delete(id);
          state.offlineBytes -= utf8Bytes(xml);
          removed++;
        }
        return removed;
      },
      stats: async (account) => {
        const state = this.read(account);
        return { count: state?.offline.size ?? 0, bytes: state?.offlineBytes ?? 0 };
      },
      clear: async (account) => {
        const state = this.read(account);
        return state === undefined ? 0 : removeUpTo(state, MAX_MESSAGE_ID);
      },
    };
  }

  // -- archive ----------------------------------------------------------------------------------

  private makeArchive(): ArchiveStore {
    const toMessage = (e: ArchiveEntry): ArchivedMessage => ({
      id: formatMessageId(e.id),
      stamp: messageIdStamp(e.id),
      with: e.with,
      direction: e.direction,
      xml: e.xml,
    });
    return {
      append: async (account, message) => {
        this.check(account);
        if (message === null || typeof message !== 'object') throw invalidArgument('message must be an object');
        const withJid = checkJid(message.with, 'with');
        if (message.direction !== 'in' && message.direction !== 'out') throw invalidArgument("direction must be 'in' or 'out'");
        const xml = checkXml(message.xml);
        const bytes = utf8Bytes(xml);
        if (bytes > this.limits.maxArchiveMessageBytes) return { ok: false, reason: 'too-large', limit: this.limits.maxArchiveMessageBytes };
        const state = this.write(account);
        const id = this.nextId();
        const entry: ArchiveEntry = { id, with: withJid, direction: message.direction, xml, bytes };
        state.archive.push(entry);
        let byWith = state.archiveByWith.get(withJid);
        if (byWith === undefined) state.archiveByWith.set(withJid, (byWith = new EntryQueue()));
        byWith.push(entry);
        state.archiveBytes += bytes;
        // Retention: drop the oldest until both bounds hold (the new message alone always fits).
        // The oldest message overall is also the oldest of its correspondent.
        let dropped = 0;
        while (state.archive.size > this.limits.maxArchiveMessages || state.archiveBytes > this.limits.maxArchiveBytes) {
          const oldest = state.archive.shift() as ArchiveEntry;
          const queue = state.archiveByWith.get(oldest.with);
          queue?.shift();
          if (queue?.size === 0) state.archiveByWith.delete(oldest.with);
          state.archiveBytes -= oldest.bytes;
          dropped++;
        }
        return { ok: true, id: formatMessageId(id), stamp: messageIdStamp(id), dropped };
      },
      query: async (account, query = {}): Promise<ArchiveQueryResult> => {
        const state = this.read(account);
        if (query === null || typeof query !== 'object') throw invalidArgument('query must be an object');
        const withJid = query.with === undefined ? undefined : checkJid(query.with, 'with');
        const max = pageSize(query.max, this.limits.maxArchivePage);
        const bounds = archiveBounds(query);
        const all = state?.archive;
        if (bounds.invalidAfter || (bounds.after !== undefined && all?.has(bounds.after) !== true)) {
          return { ok: false, reason: 'item-not-found', id: String(query.after) };
        }
        if (bounds.invalidBefore || (bounds.before !== undefined && all?.has(bounds.before) !== true)) {
          return { ok: false, reason: 'item-not-found', id: String(query.before) };
        }
        const entries = withJid === undefined ? all : state?.archiveByWith.get(withJid);
        const count = entries === undefined || bounds.countLo > bounds.countHi ? 0 : entries.lowerBound(bounds.countHi + 1) - entries.lowerBound(bounds.countLo);
        // Take one more than the page to learn whether the page reaches the end.
        const picked: ArchiveEntry[] = [];
        if (entries !== undefined && bounds.lo <= bounds.hi) {
          if (bounds.backward) {
            for (let i = entries.lowerBound(bounds.hi + 1) - 1; i >= 0 && picked.length <= max && entries.at(i).id >= bounds.lo; i--) picked.push(entries.at(i));
            picked.reverse();
          } else {
            for (let i = entries.lowerBound(bounds.lo); i < entries.size && picked.length <= max && entries.at(i).id <= bounds.hi; i++) picked.push(entries.at(i));
          }
        }
        const complete = picked.length <= max;
        const page = complete ? picked : bounds.backward ? picked.slice(picked.length - max) : picked.slice(0, max);
        const messages = page.map(toMessage);
        const result: ArchiveQueryResult = { ok: true, messages, complete, count };
        if (messages.length > 0) {
          result.first = (messages[0] as ArchivedMessage).id;
          result.last = (messages[messages.length - 1] as ArchivedMessage).id;
        }
        return result;
      },
      clear: async (account) => {
        const state = this.read(account);
        if (state === undefined) return 0;
        const removed = state.archive.size;
        state.archive = new EntryQueue();
        state.archiveByWith = new Map();
        state.archiveBytes = 0;
        return removed;
      },
    };
  }

  // -- blocking ---------------------------------------------------------------------------------

  private makeBlocking(): BlockingStore {
    return {
      list: async (account) => [...(this.read(account)?.blocked ?? [])].sort(),
      add: async (account, jids) => {
        this.check(account);
        const list = checkJidList(jids);
        const existing = this.read(account)?.blocked;
        const added = list.filter((jid) => !existing?.has(jid));
        if ((existing?.size ?? 0) + added.length > this.limits.maxBlockedJids) {
          return { ok: false, reason: 'list-full', limit: this.limits.maxBlockedJids };
        }
        if (added.length > 0) {
          const blocked = this.write(account).blocked;
          for (const jid of added) blocked.add(jid);
        }
        return { ok: true, added };
      },
      remove: async (account, jids) => {
        const blocked = this.read(account)?.blocked;
        const list = checkJidList(jids);
        return list.filter((jid) => blocked?.delete(jid) === true);
      },
      clear: async (account) => {
        const blocked = this.read(account)?.blocked;
        if (blocked === undefined) return [];
        const all = [...blocked].sort();
        blocked.clear();
        return all;
      },
      blockedAmong: async (account, candidates) => {
        const blocked = this.read(account)?.blocked;
        const list = checkJidList(candidates, 'candidates');
        return list.filter((jid) => blocked?.has(jid) === true);
      },
    };
  }

  // -- vCard ------------------------------------------------------------------------------------

  private makeVCard(): VCardStore {
    return {
      get: async (account) => this.read(account)?.vcard ?? null,
      set: async (account, xml) => {
        this.check(account);
        checkXml(xml);
        if (utf8Bytes(xml) > this.limits.maxVCardBytes) return { ok: false, reason: 'too-large', limit: this.limits.maxVCardBytes };
        this.write(account).vcard = xml;
        return { ok: true };
      },
      remove: async (account) => {
        const state = this.read(account);
        const had = state?.vcard !== undefined;
        if (state !== undefined) state.vcard = undefined;
        return had;
      },
    };
  }

  // -- private XML ------------------------------------------------------------------------------

  private makePrivateXml(): PrivateXmlStore {
    const field = (name: string, namespace: string) => privateXmlField(checkPrivateKey(name, 'name'), checkPrivateKey(namespace, 'namespace'));
    return {
      get: async (account, name, namespace) => this.read(account)?.privateXml.get(field(name, namespace)) ?? null,
      set: async (account, name, namespace, xml) => {
        this.check(account);
        const key = field(name, namespace);
        checkXml(xml);
        if (utf8Bytes(xml) > this.limits.maxPrivateItemBytes) return { ok: false, reason: 'too-large', limit: this.limits.maxPrivateItemBytes };
        const existing = this.read(account);
        const old = existing?.privateXml.get(key);
        const total = (existing?.privateBytes ?? 0) - (old === undefined ? 0 : privateXmlCost(key, old)) + privateXmlCost(key, xml);
        if (total > this.limits.maxPrivateBytes) return { ok: false, reason: 'quota-exceeded', limit: this.limits.maxPrivateBytes };
        const state = this.write(account);
        state.privateXml.set(key, xml);
        state.privateBytes = total;
        return { ok: true };
      },
      remove: async (account, name, namespace) => {
        const state = this.read(account);
        const key = field(name, namespace);
        const old = state?.privateXml.get(key);
        if (state === undefined || old === undefined) return false;
        state.privateXml.delete(key);
        state.privateBytes -= privateXmlCost(key, old);
        return true;
      },
    };
  }

  // -- presence ---------------------------------------------------------------------------------

  private makePresence(): PresenceStore {
    /** Drops the expired entries of one account (they are never returned, and never count). */
    const prune = (state: AccountState | undefined, now: number): void => {
      for (const [resource, entry] of state?.presence ?? []) if (entry.expiresAt <= now) state?.presence.delete(resource);
    };
    return {
      set: async (account, resource, xml) => {
        this.check(account);
        checkResource(resource);
        checkXml(xml);
        const { maxPresenceBytes, maxPresenceResources, presenceTtlMs } = this.limits;
        if (utf8Bytes(xml) > maxPresenceBytes) return { ok: false, reason: 'too-large', limit: maxPresenceBytes };
        const now = this.clock();
        const existing = this.read(account);
        prune(existing, now);
        if (existing?.presence.has(resource) !== true && (existing?.presence.size ?? 0) >= maxPresenceResources) {
          return { ok: false, reason: 'too-many', limit: maxPresenceResources };
        }
        this.write(account).presence.set(resource, { presence: { resource, xml, stamp: now }, expiresAt: now + presenceTtlMs });
        return { ok: true };
      },
      list: async (account) => {
        const state = this.read(account);
        prune(state, this.clock());
        return [...(state?.presence.values() ?? [])]
          .map((entry) => ({ ...entry.presence }))
          .sort(byResource);
      },
      remove: async (account, resource) => {
        const state = this.read(account);
        checkResource(resource);
        prune(state, this.clock());
        return state?.presence.delete(resource) === true;
      },
      clear: async (account) => {
        const state = this.read(account);
        prune(state, this.clock());
        const removed = state?.presence.size ?? 0;
        state?.presence.clear();
        return removed;
      },
    };
  }
}
