// The IM store on Redis through ioredis: standalone, Sentinel and Cluster. Every read-modify-write
// is one Lua script over one account's keys (one hash slot), so two service instances handling the
// same user during a membership change never lose an update.
//
// Failure behaviour, the connection's (@ambrosia/redis-connection) with the store's codes, as the
// registry's (docs/registry.md, "When Redis fails"):
//  - nothing queues: a call made while Redis is unreachable fails at once with IM_STORE_UNAVAILABLE
//    and the service can refuse or retry the stanza instead of waiting on an unbounded queue;
//  - a command that gets no answer fails after `commandTimeoutMs` (its effect is then unknown:
//    callers treat it like a crash between write and acknowledgement);
//  - reconnection is automatic, with exponential backoff capped at `reconnectBackoff.maxMs`;
//  - READONLY (a demoted primary) fails the write with IM_STORE_READONLY; with Sentinel the
//    connection is re-established so the Sentinels lead it to the new primary.

import {
  archiveBounds,
  byJid,
  byResource,
  byStampThenJid,
  checkJid,
  checkJidList,
  checkMessageId,
  checkPrivateKey,
  checkResource,
  checkXml,
  decodePresence,
  decodePending,
  decodeRosterItem,
  formatMessageId,
  formatRosterVersion,
  ImStoreError,
  isImStoreError,
  MAX_MESSAGE_ID,
  messageIdStamp,
  pageSize,
  parseRosterVersion,
  prepareContactChange,
  privateXmlField,
  resolveLimits,
  runContactUpdate,
  utf8Bytes,
  type ArchivedMessage,
  type ArchiveQueryResult,
  type ArchiveStore,
  type BlockingStore,
  type ContactChange,
  type ContactState,
  type ImStore,
  type ImStoreErrorCode,
  type ImStoreLimits,
  type OfflineMessage,
  type OfflineStore,
  type PendingSubscription,
  type PresenceStore,
  type PrivateXmlStore,
  type StoredPresence,
  type ResolvedImStoreLimits,
  type RosterChange,
  type RosterItem,
  type RosterStore,
  type RosterWriteResult,
  type VCardStore,
} from '@ambrosia/im-store';
import {
  classifyRedisError,
  CONNECTION_DEFAULTS,
  createRedisConnection,
  defineScripts,
  errorMessage,
  parseRedisUrl,
  waitUntilReady,
  type RedisConnection,
  type RedisConnectionSettings,
  type RedisFailure,
  type RedisTopology,
  type ScriptCaller,
} from '@ambrosia/redis-connection';
import { accountKeys, allKeys, checkPrefix, decodeKeyPart, DEFAULT_PREFIX, encodeKeyPart, type AccountKeys } from './keys.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

export interface RedisImStoreOptions extends ImStoreLimits, RedisConnectionSettings {
  /**
   * `redis://[user:password@]host:port[/db]`, `rediss://...` (TLS),
   * `redis-sentinel://h1:p1,h2:p2,h3:p3/masterName`, `redis-cluster://h1:p1,h2:p2,h3:p3`:
   * the forms of @ambrosia/redis-connection, the same as @ambrosia/registry-redis accepts.
   */
  url: string;
  /** Every key starts with it. Default "ambrosia:im:". */
  prefix?: string;
  /** Connecting gives up after this long: createRedisImStore rejects with IM_STORE_UNAVAILABLE. Default 5000. */
  connectTimeoutMs?: number;
  /** CLIENT SETNAME, to find the store's connection in CLIENT LIST. Default "ambrosia-im-store". */
  connectionName?: string;
}

/** The store's code for each kind of failure the connection layer tells apart. */
const IM_STORE_CODES: Record<RedisFailure, ImStoreErrorCode> = {
  'invalid-url': 'IM_STORE_INVALID_ARGUMENT',
  readonly: 'IM_STORE_READONLY',
  rejected: 'IM_STORE_BACKEND_ERROR',
  unavailable: 'IM_STORE_UNAVAILABLE',
};

export function toImStoreError(e: unknown): ImStoreError {
  if (isImStoreError(e)) return e;
  return new ImStoreError(IM_STORE_CODES[classifyRedisError(e)], errorMessage(e), { cause: e });
}

/**
 * An IM store on Redis. Resolves once connected; rejects with IM_STORE_UNAVAILABLE when Redis is
 * unreachable for `connectTimeoutMs`, IM_STORE_INVALID_ARGUMENT for a bad URL, prefix or limit.
 */
export async function createRedisImStore(options: RedisImStoreOptions): Promise<ImStore> {
  if (options === null || typeof options !== 'object') throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', 'options are required');
  let topology: RedisTopology;
  try {
    topology = parseRedisUrl(options.url);
  } catch (e) {
    throw toImStoreError(e); // IM_STORE_INVALID_ARGUMENT
  }
  const prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX);
  const limits = resolveLimits(options);
  const client = createRedisConnection({ ...options, url: topology, connectionName: options.connectionName ?? 'ambrosia-im-store' });
  // Without a listener ioredis prints every connection error; our callers get them as rejections.
  client.on('error', () => {});
  try {
    await waitUntilReady(client, options.connectTimeoutMs ?? CONNECTION_DEFAULTS.connectTimeoutMs);
  } catch (e) {
    client.disconnect();
    throw toImStoreError(e);
  }
  return new RedisImStore(client, `redis-${topology.mode}`, prefix, limits);
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function corrupt(what: string): ImStoreError {
  return new ImStoreError('IM_STORE_CORRUPT', what);
}

function rosterVersionOf(epoch: unknown, counter: unknown): string {
  const e = asString(epoch);
  return formatRosterVersion(e === undefined ? undefined : Number(e), Number(asString(counter) ?? '0'));
}

class RedisImStore implements ImStore {
  readonly roster: RosterStore;
  readonly offline: OfflineStore;
  readonly archive: ArchiveStore;
  readonly blocking: BlockingStore;
  readonly vcard: VCardStore;
  readonly privateXml: PrivateXmlStore;
  readonly presence: PresenceStore;
  private readonly scripts: Record<ScriptName, ScriptCaller>;
  private closed = false;

  constructor(
    private readonly client: RedisConnection,
    readonly kind: string,
    private readonly prefix: string,
    readonly limits: Readonly<ResolvedImStoreLimits>,
  ) {
    this.scripts = defineScripts(client, SCRIPTS);
    this.roster = this.makeRoster();
    this.offline = this.makeOffline();
    this.archive = this.makeArchive();
    this.blocking = this.makeBlocking();
    this.vcard = this.makeVCard();
    this.privateXml = this.makePrivateXml();
    this.presence = this.makePresence();
  }

  async deleteAccount(account: string): Promise<void> {
    const keys = this.keys(account);
    // All keys share one hash slot, so one DEL removes them atomically, on a cluster too.
    await this.run(() => this.client.del(...allKeys(keys)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }

  /** Validates the account and names its keys; throws IM_STORE_CLOSED after close(). */
  private keys(account: string): AccountKeys {
    if (this.closed) throw new ImStoreError('IM_STORE_CLOSED');
    return accountKeys(this.prefix, checkJid(account, 'account'));
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) throw new ImStoreError('IM_STORE_CLOSED');
    try {
      return await operation();
    } catch (e) {
      throw toImStoreError(e);
    }
  }

  // -- roster -----------------------------------------------------------------------------------

  private makeRoster(): RosterStore {
    const getContact = async (account: string, jid: string): Promise<ContactState> => {
      const k = this.keys(account);
      checkJid(jid, 'contact');
      const reply = (await this.run(() => this.scripts.contactGet(k.meta, k.roster, k.pending, k.revisions, jid))) as unknown[];
      const [item, pending, revision, epoch, counter] = reply;
      return {
        jid,
        item: item === null || item === undefined ? null : decodeRosterItem(jid, item),
        pendingIn: pending === null || pending === undefined ? null : decodePending(jid, pending),
        revision: asString(revision) ?? '0',
        rosterVersion: rosterVersionOf(epoch, counter),
      };
    };

    const compareAndSet = async (account: string, jid: string, revision: string, change: ContactChange): Promise<RosterWriteResult> => {
      const k = this.keys(account);
      checkJid(jid, 'contact');
      if (typeof revision !== 'string') throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', 'revision must be a string');
      const prepared = prepareContactChange(this.limits, jid, change);
      if (!prepared.ok) return prepared;
      const { item, pending } = prepared;
      const reply = (await this.run(() =>
        this.scripts.contactCompareAndSet(
          k.meta,
          k.roster,
          k.pending,
          k.revisions,
          k.changeLog,
          jid,
          revision,
          item.mode === 'keep' ? 'k' : item.mode === 'delete' ? 'd' : 's',
          item.mode === 'set' ? item.encoded : '',
          pending.mode === 'keep' ? 'k' : pending.mode === 'delete' ? 'd' : 's',
          pending.mode === 'set' && pending.status !== undefined ? '1' : '0',
          pending.mode === 'set' ? (pending.status ?? '') : '',
          this.limits.maxRosterItems,
          this.limits.maxPendingSubscriptions,
          this.limits.rosterChangeLogSize,
        ),
      )) as unknown[];
      switch (reply[0]) {
        case 'conflict':
          return { ok: false, reason: 'conflict' };
        case 'roster-full':
          return { ok: false, reason: 'roster-full', limit: this.limits.maxRosterItems };
        case 'pending-full':
          return { ok: false, reason: 'pending-full', limit: this.limits.maxPendingSubscriptions };
        case 'ok': {
          const [, changed, newRevision, epoch, counter, itemNow, pendingNow] = reply;
          const version = rosterVersionOf(epoch, counter);
          const contact: ContactState = {
            jid,
            item: itemNow === null || itemNow === undefined ? null : decodeRosterItem(jid, itemNow),
            pendingIn: pendingNow === null || pendingNow === undefined ? null : decodePending(jid, pendingNow),
            revision: asString(newRevision) ?? '0',
            rosterVersion: version,
          };
          return { ok: true, contact, itemChanged: changed === '1', version };
        }
        default:
          throw corrupt(`unexpected compare-and-set reply ${String(reply[0])}`);
      }
    };

    return {
      get: async (account, sinceVersion) => {
        const k = this.keys(account);
        if (sinceVersion !== undefined && typeof sinceVersion !== 'string') {
          throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', 'sinceVersion must be a string');
        }
        const since = parseRosterVersion(sinceVersion);
        const reply = (await this.run(() =>
          this.scripts.rosterRead(k.meta, k.roster, k.changeLog, since === undefined ? '' : String(since.epoch), since === undefined ? '0' : String(since.counter)),
        )) as unknown[];
        const version = rosterVersionOf(reply[0], reply[1]);
        if (reply[2] === 'delta') {
          const changes: RosterChange[] = [];
          for (let i = 3; i < reply.length; i += 2) {
            const jid = asString(reply[i]);
            if (jid === undefined) throw corrupt('change log member is not a string');
            const raw = reply[i + 1];
            changes.push(raw === null || raw === undefined ? { jid, removed: true } : { jid, item: decodeRosterItem(jid, raw) });
          }
          return { kind: 'delta', version, changes };
        }
        const items: RosterItem[] = [];
        for (let i = 3; i + 1 < reply.length; i += 2) {
          const jid = asString(reply[i]);
          if (jid === undefined) throw corrupt('roster field is not a string');
          items.push(decodeRosterItem(jid, reply[i + 1]));
        }
        items.sort(byJid);
        return { kind: 'full', version, items };
      },
      version: async (account) => {
        const k = this.keys(account);
        const [epoch, counter] = await this.run(() => this.client.hmget(k.meta, 're', 'rv'));
        return rosterVersionOf(epoch, counter);
      },
      getContact,
      compareAndSet,
      update: async (account, jid, updater, updateOptions) => {
        this.keys(account);
        checkJid(jid, 'contact');
        return runContactUpdate(
          () => getContact(account, jid),
          (revision, change) => compareAndSet(account, jid, revision, change),
          updater,
          updateOptions,
        );
      },
      listPending: async (account) => {
        const k = this.keys(account);
        const all = await this.run(() => this.client.hgetall(k.pending));
        const list: PendingSubscription[] = Object.entries(all).map(([jid, raw]) => decodePending(jid, raw));
        return list.sort(byStampThenJid);
      },
    };
  }

  // -- offline ----------------------------------------------------------------------------------

  private makeOffline(): OfflineStore {
    const ack = async (k: AccountKeys, upTo: string) =>
      Number(await this.run(() => this.scripts.offlineAck(k.meta, k.offlineIds, k.offlineData, upTo)));
    return {
      push: async (account, xml) => {
        const k = this.keys(account);
        checkXml(xml);
        const { maxOfflineMessages, maxOfflineBytes } = this.limits;
        if (utf8Bytes(xml) > maxOfflineBytes) return { ok: false, reason: 'too-large', limit: maxOfflineBytes };
        const reply = (await this.run(() => this.scripts.offlinePush(k.meta, k.offlineIds, k.offlineData, xml, maxOfflineMessages, maxOfflineBytes))) as unknown[];
        if (reply[0] === 'messages') return { ok: false, reason: 'queue-full', bound: 'messages', limit: maxOfflineMessages };
        if (reply[0] === 'bytes') return { ok: false, reason: 'queue-full', bound: 'bytes', limit: maxOfflineBytes };
        const id = asString(reply[1]);
        if (reply[0] !== 'ok' || id === undefined) throw corrupt('unexpected offline push reply');
        return { ok: true, id, stamp: messageIdStamp(id), count: Number(reply[2]), bytes: Number(reply[3]) };
      },
      peek: async (account, peekOptions = {}) => {
        const k = this.keys(account);
        const max = pageSize(peekOptions.max, this.limits.maxOfflinePage);
        const after = peekOptions.after === undefined ? '' : formatMessageId(checkMessageId(peekOptions.after, 'after'));
        if (max === 0) return [];
        const reply = (await this.run(() => this.scripts.offlinePeek(k.offlineIds, k.offlineData, after, max))) as unknown[];
        const messages: OfflineMessage[] = [];
        for (let i = 0; i + 1 < reply.length; i += 2) {
          const id = asString(reply[i]);
          const xml = asString(reply[i + 1]);
          if (id === undefined) throw corrupt('offline id is not a string');
          if (xml === undefined) continue; // removed between the two reads of one script: impossible, but never a hole
          messages.push({ id, stamp: messageIdStamp(id), xml });
        }
        return messages;
      },
      ack: async (account, upToId) => {
        const k = this.keys(account);
        return ack(k, formatMessageId(checkMessageId(upToId, 'upToId')));
      },
      remove: async (account, ids) => {
        const k = this.keys(account);
        if (!Array.isArray(ids)) throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', 'ids must be an array');
        const list = [...new Set(ids.map((id) => formatMessageId(checkMessageId(id, 'id'))))];
        if (list.length === 0) return 0;
        return Number(await this.run(() => this.scripts.offlineRemove(k.meta, k.offlineIds, k.offlineData, ...list)));
      },
      stats: async (account) => {
        const k = this.keys(account);
        const reply = (await this.run(() => this.scripts.offlineStats(k.meta, k.offlineIds))) as unknown[];
        return { count: Number(reply[0]), bytes: Number(reply[1]) };
      },
      clear: async (account) => ack(this.keys(account), '+inf'),
    };
  }

  // -- archive ----------------------------------------------------------------------------------

  private makeArchive(): ArchiveStore {
    return {
      append: async (account, message) => {
        const k = this.keys(account);
        if (message === null || typeof message !== 'object') throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', 'message must be an object');
        const withJid = checkJid(message.with, 'with');
        if (message.direction !== 'in' && message.direction !== 'out') throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', "direction must be 'in' or 'out'");
        const xml = checkXml(message.xml);
        if (utf8Bytes(xml) > this.limits.maxArchiveMessageBytes) return { ok: false, reason: 'too-large', limit: this.limits.maxArchiveMessageBytes };
        const reply = (await this.run(() =>
          this.scripts.archiveAppend(
            k.meta,
            k.archiveIds,
            k.archiveData,
            k.archiveByWith,
            message.direction === 'in' ? 'i' : 'o',
            encodeKeyPart(withJid),
            xml,
            this.limits.maxArchiveMessages,
            this.limits.maxArchiveBytes,
          ),
        )) as unknown[];
        const id = asString(reply[0]);
        if (id === undefined) throw corrupt('unexpected archive append reply');
        return { ok: true, id, stamp: messageIdStamp(id), dropped: Number(reply[1]) };
      },
      query: async (account, query = {}): Promise<ArchiveQueryResult> => {
        const k = this.keys(account);
        if (query === null || typeof query !== 'object') throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', 'query must be an object');
        const withJid = query.with === undefined ? undefined : checkJid(query.with, 'with');
        const max = pageSize(query.max, this.limits.maxArchivePage);
        const b = archiveBounds(query);
        if (b.invalidAfter) return { ok: false, reason: 'item-not-found', id: String(query.after) };
        if (b.invalidBefore) return { ok: false, reason: 'item-not-found', id: String(query.before) };
        const countEmpty = b.countLo > b.countHi;
        const pageEmpty = b.lo > b.hi;
        const id = (n: number) => formatMessageId(Math.max(0, Math.min(MAX_MESSAGE_ID, n)));
        const reply = (await this.run(() =>
          this.scripts.archiveQuery(
            k.archiveIds,
            k.archiveData,
            k.archiveByWith,
            withJid === undefined ? '' : encodeKeyPart(withJid),
            countEmpty ? '1' : '0',
            id(b.countLo),
            id(b.countHi),
            pageEmpty ? '1' : '0',
            id(b.lo),
            id(b.hi),
            b.backward ? '1' : '0',
            max + 1,
            b.after === undefined ? '' : formatMessageId(b.after),
            b.before === undefined ? '' : formatMessageId(b.before),
          ),
        )) as unknown[];
        if (reply[0] === 'not-found') return { ok: false, reason: 'item-not-found', id: String(reply[1]) };
        if (reply[0] !== 'ok') throw corrupt('unexpected archive query reply');
        const found: ArchivedMessage[] = [];
        for (let i = 2; i + 1 < reply.length; i += 2) {
          const messageId = asString(reply[i]);
          const record = asString(reply[i + 1]);
          if (messageId === undefined || record === undefined) throw corrupt('archived message missing');
          const newline = record.indexOf('\n');
          const direction = record[0] === 'i' ? 'in' : record[0] === 'o' ? 'out' : undefined;
          if (newline < 1 || direction === undefined) throw corrupt(`archived message ${messageId}: bad record`);
          found.push({ id: messageId, stamp: messageIdStamp(messageId), with: decodeKeyPart(record.slice(1, newline)), direction, xml: record.slice(newline + 1) });
        }
        const complete = found.length <= max;
        const page = complete ? found : found.slice(0, max);
        if (b.backward) page.reverse();
        const result: ArchiveQueryResult = { ok: true, messages: page, complete, count: Number(reply[1]) };
        if (page.length > 0) {
          result.first = (page[0] as ArchivedMessage).id;
          result.last = (page[page.length - 1] as ArchivedMessage).id;
        }
        return result;
      },
      clear: async (account) => {
        const k = this.keys(account);
        return Number(await this.run(() => this.scripts.archiveClear(k.meta, k.archiveIds, k.archiveData, k.archiveByWith)));
      },
    };
  }

  // -- blocking ---------------------------------------------------------------------------------

  private makeBlocking(): BlockingStore {
    const strings = (reply: unknown) => (reply as unknown[]).map((v) => String(v));
    return {
      list: async (account) => {
        const k = this.keys(account);
        return (await this.run(() => this.client.smembers(k.blocked))).sort();
      },
      add: async (account, jids) => {
        const k = this.keys(account);
        const list = checkJidList(jids);
        const reply = strings(await this.run(() => this.scripts.blockAdd(k.blocked, this.limits.maxBlockedJids, ...list)));
        if (reply[0] === 'full') return { ok: false, reason: 'list-full', limit: this.limits.maxBlockedJids };
        return { ok: true, added: reply.slice(1) };
      },
      remove: async (account, jids) => {
        const k = this.keys(account);
        const list = checkJidList(jids);
        if (list.length === 0) return [];
        return strings(await this.run(() => this.scripts.blockRemove(k.blocked, ...list)));
      },
      clear: async (account) => {
        const k = this.keys(account);
        return strings(await this.run(() => this.scripts.blockClear(k.blocked))).sort();
      },
      blockedAmong: async (account, candidates) => {
        const k = this.keys(account);
        const list = checkJidList(candidates, 'candidates');
        if (list.length === 0) return [];
        return strings(await this.run(() => this.scripts.blockAmong(k.blocked, ...list)));
      },
    };
  }

  // -- vCard ------------------------------------------------------------------------------------

  private makeVCard(): VCardStore {
    return {
      get: async (account) => {
        const k = this.keys(account);
        return this.run(() => this.client.get(k.vcard));
      },
      set: async (account, xml) => {
        const k = this.keys(account);
        checkXml(xml);
        if (utf8Bytes(xml) > this.limits.maxVCardBytes) return { ok: false, reason: 'too-large', limit: this.limits.maxVCardBytes };
        await this.run(() => this.client.set(k.vcard, xml));
        return { ok: true };
      },
      remove: async (account) => {
        const k = this.keys(account);
        return (await this.run(() => this.client.del(k.vcard))) === 1;
      },
    };
  }

  // -- private XML ------------------------------------------------------------------------------

  private makePrivateXml(): PrivateXmlStore {
    const field = (name: string, namespace: string) => privateXmlField(checkPrivateKey(name, 'name'), checkPrivateKey(namespace, 'namespace'));
    return {
      get: async (account, name, namespace) => {
        const k = this.keys(account);
        const f = field(name, namespace);
        return this.run(() => this.client.hget(k.privateXml, f));
      },
      set: async (account, name, namespace, xml) => {
        const k = this.keys(account);
        const f = field(name, namespace);
        checkXml(xml);
        if (utf8Bytes(xml) > this.limits.maxPrivateItemBytes) return { ok: false, reason: 'too-large', limit: this.limits.maxPrivateItemBytes };
        const stored = Number(await this.run(() => this.scripts.privateSet(k.meta, k.privateXml, f, xml, this.limits.maxPrivateBytes)));
        return stored === 1 ? { ok: true } : { ok: false, reason: 'quota-exceeded', limit: this.limits.maxPrivateBytes };
      },
      remove: async (account, name, namespace) => {
        const k = this.keys(account);
        const f = field(name, namespace);
        return Number(await this.run(() => this.scripts.privateRemove(k.meta, k.privateXml, f))) === 1;
      },
    };
  }

  // -- presence ---------------------------------------------------------------------------------

  private makePresence(): PresenceStore {
    /** One script both lists and (optionally) removes, dropping expired fields on the way. */
    const listAndRemove = async (k: AccountKeys, resource: string, clear = false): Promise<{ removed: boolean; live: StoredPresence[] }> => {
      const reply = (await this.run(() => this.scripts.presenceList(k.presence, resource, clear ? '1' : '0'))) as unknown[];
      const live: StoredPresence[] = [];
      for (let i = 1; i + 1 < reply.length; i += 2) {
        const name = asString(reply[i]);
        if (name === undefined) throw corrupt('presence resource is not a string');
        live.push(decodePresence(name, reply[i + 1]).presence);
      }
      live.sort(byResource);
      return { removed: Number(reply[0]) === 1, live };
    };
    return {
      set: async (account, resource, xml) => {
        const k = this.keys(account);
        checkResource(resource);
        checkXml(xml);
        const { maxPresenceBytes, maxPresenceResources, presenceTtlMs } = this.limits;
        if (utf8Bytes(xml) > maxPresenceBytes) return { ok: false, reason: 'too-large', limit: maxPresenceBytes };
        const reply = await this.run(() => this.scripts.presenceSet(k.presence, resource, xml, maxPresenceResources, presenceTtlMs));
        if (reply === 'too-many') return { ok: false, reason: 'too-many', limit: maxPresenceResources };
        if (reply !== 'ok') throw corrupt('unexpected presence set reply');
        return { ok: true };
      },
      list: async (account) => (await listAndRemove(this.keys(account), '')).live,
      remove: async (account, resource) => {
        const k = this.keys(account);
        return (await listAndRemove(k, checkResource(resource))).removed;
      },
      clear: async (account) => {
        const k = this.keys(account);
        return (await listAndRemove(k, '', true)).live.length;
      },
    };
  }
}
