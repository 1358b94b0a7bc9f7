// The key layout (packages/im-store/README.md, "Redis key layout"). Every key of one account is
//   <prefix>{<encoded account>}:<part>
// so all of them hash to one Redis Cluster slot (the hash tag is the encoded account) and every
// per-account script may touch them together. The encoding leaves no "{", "}", ":", "|", "/",
// "%" or whitespace in the account, so an account can neither open a hash tag, nor look like a
// separator, nor collide with another account's encoding.

import { ImStoreError } from '@ambrosia/im-store';

/** Percent-encodes %, the characters with meaning in our keys and members, spaces and controls. */
export function encodeKeyPart(part: string): string {
  return part.replace(/[%{}:|/\s\u0000-\u001f\u007f]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

export function decodeKeyPart(encoded: string): string {
  return decodeURIComponent(encoded);
}

export interface AccountKeys {
  /** Hash: counters of the account (see META_FIELDS). */
  meta: string;
  /** Hash: contact bare JID → encoded roster item. */
  roster: string;
  /** Hash: contact bare JID → "<stamp>[\n<status>]" of an unanswered inbound subscription request. */
  pending: string;
  /** Hash: contact bare JID → revision (a message-sequence id) of its last change. */
  revisions: string;
  /** Sorted set: contact bare JID scored by the roster version of its last item change. */
  changeLog: string;
  /** Sorted set: offline message ids (member and score). */
  offlineIds: string;
  /** Hash: offline message id → XML. */
  offlineData: string;
  /** Sorted set: archived message ids (member and score). */
  archiveIds: string;
  /** Hash: archived message id → "<i|o><encoded with>\n<XML>". */
  archiveData: string;
  /** Sorted set, all scores 0: "<encoded with>|<id>", for per-correspondent ranges in lex order. */
  archiveByWith: string;
  /** Set: blocked JIDs. */
  blocked: string;
  /** String: the vCard XML. */
  vcard: string;
  /** Hash: "<namespace>\n<name>" → private XML. */
  privateXml: string;
  /** Hash: resource → "<expiresAt> <stamp>\n<presence XML>"; the key expires with its newest field. */
  presence: string;
}

/** Fields of the meta hash. */
export const META_FIELDS = {
  /** Last id of the account's sequence (message ids, revisions, roster epoch). */
  lastId: 'id',
  /** Roster epoch: the id taken when the roster was first written. */
  rosterEpoch: 're',
  /** Roster version counter within the epoch. */
  rosterVersion: 'rv',
  /** Oldest version deltas can be answered for. */
  rosterLogFloor: 'rf',
  offlineBytes: 'ob',
  archiveBytes: 'ab',
  privateBytes: 'pb',
} as const;

export const DEFAULT_PREFIX = 'ambrosia:im:';

export function checkPrefix(prefix: string): string {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(prefix)) {
    throw new ImStoreError('IM_STORE_INVALID_ARGUMENT', 'prefix must be 1-64 characters of A-Z a-z 0-9 . _ : -');
  }
  return prefix;
}

export function accountKeys(prefix: string, account: string): AccountKeys {
  const base = `${prefix}{${encodeKeyPart(account)}}:`;
  return {
    meta: `${base}meta`,
    roster: `${base}roster`,
    pending: `${base}pending`,
    revisions: `${base}rev`,
    changeLog: `${base}rlog`,
    offlineIds: `${base}off`,
    offlineData: `${base}offd`,
    archiveIds: `${base}mam`,
    archiveData: `${base}mamd`,
    archiveByWith: `${base}mamw`,
    blocked: `${base}block`,
    vcard: `${base}vcard`,
    privateXml: `${base}priv`,
    presence: `${base}pres`,
  };
}

/** Every key of an account, for deleteAccount. */
export function allKeys(keys: AccountKeys): string[] {
  return Object.values(keys);
}
