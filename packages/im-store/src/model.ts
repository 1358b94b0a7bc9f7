// What every implementation shares: argument validation, the stored forms of roster items and
// pending requests, message ids and roster versions. Both the memory store and the Redis adapter
// call these, so both accept and refuse exactly the same things and store byte-identical values
// (the Redis adapter's Lua compares stored strings to decide "unchanged").

import { corrupt, invalidArgument } from './errors.js';
import type { ResolvedImStoreLimits } from './limits.js';
import { SUBSCRIPTIONS, type ArchiveQuery, type ContactChange, type PendingSubscription, type RosterItem, type StoredPresence, type RosterRefusal, type Subscription } from './types.js';

/** A bare JID is at most 1023 bytes of localpart, '@', 1023 of domain (RFC 7622 §3.1): 2047; we allow a full JID's 3071. */
export const MAX_JID_BYTES = 3071;
/** Private XML element names and namespaces (XEP-0049). */
export const MAX_PRIVATE_KEY_BYTES = 1024;
/** JIDs per blocking call: a bound on one script's work, far above any real blocklist push. */
export const MAX_JIDS_PER_CALL = 1000;

export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

// The list orders of the interface (types.ts), one definition so every store returns the same
// order: JIDs and resources by UTF-16 code units, pending requests oldest first.
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
export const byJid = (a: { jid: string }, b: { jid: string }): number => compareCodeUnits(a.jid, b.jid);
export const byStampThenJid = (a: PendingSubscription, b: PendingSubscription): number => a.stamp - b.stamp || byJid(a, b);
export const byResource = (a: { resource: string }, b: { resource: string }): number => compareCodeUnits(a.resource, b.resource);

// C0 controls and DEL never appear in a JID (RFC 7622 via PRECIS); excluding them keeps "\n" free
// as a separator in stored values and keeps key names printable.
const CONTROL = /[\u0000-\u001f\u007f]/u;
// With the u flag a surrogate pair is one code point, so this matches lone surrogates only:
// strings that cannot round-trip through UTF-8 (String.prototype.isWellFormed is ES2024).
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Checks an account or contact JID: a non-empty well-formed string of at most MAX_JID_BYTES UTF-8
 * bytes without control characters. Normalisation (RFC 7622) is the caller's job.
 */
export function checkJid(value: unknown, what = 'jid'): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(`${what} must be a non-empty string`);
  if (!isWellFormed(value)) throw invalidArgument(`${what} contains a lone surrogate`);
  if (CONTROL.test(value)) throw invalidArgument(`${what} contains a control character`);
  if (utf8Bytes(value) > MAX_JID_BYTES) throw invalidArgument(`${what} is longer than ${MAX_JID_BYTES} bytes`);
  return value;
}

export function checkJidList(values: unknown, what = 'jids'): string[] {
  if (!Array.isArray(values)) throw invalidArgument(`${what} must be an array`);
  if (values.length > MAX_JIDS_PER_CALL) throw invalidArgument(`more than ${MAX_JIDS_PER_CALL} ${what} in one call`);
  return [...new Set(values.map((v) => checkJid(v, what)))];
}

/** XML payloads are opaque strings; they only have to survive a UTF-8 round trip. */
export function checkXml(value: unknown, what = 'xml'): string {
  if (typeof value !== 'string') throw invalidArgument(`${what} must be a string`);
  if (!isWellFormed(value)) throw invalidArgument(`${what} contains a lone surrogate`);
  return value;
}

export function checkPrivateKey(value: unknown, what: string): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(`${what} must be a non-empty string`);
  if (!isWellFormed(value) || CONTROL.test(value)) throw invalidArgument(`${what} contains a control character or lone surrogate`);
  if (utf8Bytes(value) > MAX_PRIVATE_KEY_BYTES) throw invalidArgument(`${what} is longer than ${MAX_PRIVATE_KEY_BYTES} bytes`);
  return value;
}

/** A resourcepart (RFC 7622 §3.4): 1 to 1023 bytes, and never a control character (the stores use "\n" as a separator). */
export const MAX_RESOURCE_BYTES = 1023;

export function checkResource(value: unknown, what = 'resource'): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(`${what} must be a non-empty string`);
  if (!isWellFormed(value) || CONTROL.test(value)) throw invalidArgument(`${what} contains a control character or lone surrogate`);
  if (utf8Bytes(value) > MAX_RESOURCE_BYTES) throw invalidArgument(`${what} is longer than ${MAX_RESOURCE_BYTES} bytes`);
  return value;
}

/** Decodes the Redis adapter's stored presence, "<expiresAt ms> <stamp ms>\n<xml>" (written by its Lua script). */
export function decodePresence(resource: string, raw: unknown): { expiresAt: number; presence: StoredPresence } {
  if (typeof raw !== 'string') throw corrupt(`presence of ${resource} is not a string`);
  const newline = raw.indexOf('\n');
  const head = newline < 0 ? '' : raw.slice(0, newline);
  const match = /^([0-9]+) ([0-9]+)$/.exec(head);
  if (match === null) throw corrupt(`presence of ${resource}: bad header`);
  return { expiresAt: Number(match[1]), presence: { resource, xml: raw.slice(newline + 1), stamp: Number(match[2]) } };
}

/** The private XML field of (name, namespace): "\n" cannot occur in either, so the split is unambiguous. */
export function privateXmlField(name: string, namespace: string): string {
  return `${namespace}\n${name}`;
}

/** What one private XML item counts against `maxPrivateBytes`. */
export function privateXmlCost(field: string, xml: string): number {
  return utf8Bytes(field) + utf8Bytes(xml);
}

/** Page sizes: a non-negative integer, clamped to the cap; the cap when absent. */
export function pageSize(max: unknown, cap: number): number {
  if (max === undefined) return cap;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max < 0) throw invalidArgument('max must be a non-negative integer');
  return Math.min(max, cap);
}

// -- message ids --------------------------------------------------------------------------------

/**
 * Offline and archived messages get ids from one per-account sequence: max(last + 1, now_ms * 1000),
 * written as 16 decimal digits. So ids are unique per account, increase in arrival order, sort the
 * same as strings and as numbers, and carry their time: stamp = floor(id / 1000). They stay exact
 * in a double (Lua's number) until 2255.
 */
export const MESSAGE_ID_DIGITS = 16;
const MESSAGE_ID = /^[0-9]{16}$/;
export const MAX_MESSAGE_ID = Number.MAX_SAFE_INTEGER;

export function nextMessageId(last: number, nowMs: number): number {
  return Math.max(last + 1, Math.floor(nowMs) * 1000);
}

export function formatMessageId(id: number): string {
  return String(id).padStart(MESSAGE_ID_DIGITS, '0');
}

/** The numeric value of a well-formed id, or undefined. */
export function parseMessageId(id: unknown): number | undefined {
  if (typeof id !== 'string' || !MESSAGE_ID.test(id)) return undefined;
  const n = Number(id);
  return n <= MAX_MESSAGE_ID ? n : undefined;
}

export function checkMessageId(id: unknown, what = 'id'): number {
  const n = parseMessageId(id);
  if (n === undefined) throw invalidArgument(`${what} must be a message id (${MESSAGE_ID_DIGITS} digits)`);
  return n;
}

export function messageIdStamp(id: string | number): number {
  return Math.floor(Number(id) / 1000);
}

// -- roster versions (XEP-0237) -----------------------------------------------------------------

/** The version of a roster that was never written. */
export const EMPTY_ROSTER_VERSION = '0';

/**
 * "<epoch base 36>-<counter>". The epoch is a message id taken when the roster is first written,
 * so a roster deleted and created again never repeats an old version: a client holding a version
 * of the deleted roster gets the full new one instead of a wrong delta. Opaque to clients
 * (RFC 6121 §2.6, formerly XEP-0237: the version is opaque to clients).
 */
export function formatRosterVersion(epoch: number | undefined, counter: number): string {
  if (epoch === undefined) return EMPTY_ROSTER_VERSION;
  return `${epoch.toString(36)}-${counter}`;
}

export function parseRosterVersion(version: unknown): { epoch: number; counter: number } | undefined {
  if (typeof version !== 'string') return undefined;
  const match = /^([0-9a-z]{1,11})-([0-9]{1,15})$/.exec(version);
  if (match === null) return undefined;
  const epoch = parseInt(match[1] ?? '', 36);
  const counter = Number(match[2]);
  if (!Number.isSafeInteger(epoch) || !Number.isSafeInteger(counter)) return undefined;
  return { epoch, counter };
}

// -- stored roster items ------------------------------------------------------------------------

interface StoredItem {
  n?: string;
  g: string[];
  s: Subscription;
  a?: 1;
  p?: 1;
}

/** The canonical stored form: fixed key order, groups sorted, defaults omitted. Equal items encode equally. */
export function encodeRosterItem(item: Omit<RosterItem, 'jid'>): string {
  const stored: StoredItem = { g: item.groups, s: item.subscription };
  const ordered: StoredItem = item.name !== undefined ? { n: item.name, ...stored } : stored;
  if (item.ask) ordered.a = 1;
  if (item.approved) ordered.p = 1;
  return JSON.stringify(ordered);
}

export function decodeRosterItem(jid: string, raw: unknown): RosterItem {
  if (typeof raw !== 'string') throw corrupt(`roster item ${jid}: expected a string`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (e) {
    throw corrupt(`roster item ${jid}: not JSON`, e);
  }
  const s = parsed as Partial<StoredItem> | null;
  if (
    s === null ||
    typeof s !== 'object' ||
    !Array.isArray(s.g) ||
    !s.g.every((g) => typeof g === 'string') ||
    !SUBSCRIPTIONS.includes(s.s as Subscription) ||
    (s.n !== undefined && typeof s.n !== 'string')
  ) {
    throw corrupt(`roster item ${jid}: unexpected shape`);
  }
  const item: RosterItem = { jid, groups: [...s.g], subscription: s.s as Subscription, ask: s.a === 1, approved: s.p === 1 };
  if (s.n !== undefined) item.name = s.n;
  return item;
}

// -- stored pending requests --------------------------------------------------------------------

/** "<stamp>" or "<stamp>\n<status>". */
export function encodePending(stamp: number, status: string | undefined): string {
  return status === undefined ? String(stamp) : `${stamp}\n${status}`;
}

export function decodePending(jid: string, raw: unknown): PendingSubscription {
  if (typeof raw !== 'string') throw corrupt(`pending request ${jid}: expected a string`);
  const newline = raw.indexOf('\n');
  const stampText = newline < 0 ? raw : raw.slice(0, newline);
  if (!/^[0-9]{1,16}$/.test(stampText)) throw corrupt(`pending request ${jid}: bad stamp`);
  const pending: PendingSubscription = { jid, stamp: Number(stampText) };
  if (newline >= 0) pending.status = raw.slice(newline + 1);
  return pending;
}

// -- contact changes ----------------------------------------------------------------------------

export type PreparedItem = { mode: 'keep' } | { mode: 'delete' } | { mode: 'set'; encoded: string };
export type PreparedPending = { mode: 'keep' } | { mode: 'delete' } | { mode: 'set'; status: string | undefined };

/**
 * Validates a change and turns it into what the store writes: the canonical encoded item and the
 * pending status. Type errors throw IM_STORE_INVALID_ARGUMENT; sizes beyond the configured limits
 * are a `too-large` refusal (the client sent them; RFC 6121 §2.3.3 answers not-acceptable).
 */
export function prepareContactChange(
  limits: ResolvedImStoreLimits,
  jid: string,
  change: ContactChange,
): { ok: true; item: PreparedItem; pending: PreparedPending } | RosterRefusal {
  if (change === null || typeof change !== 'object') throw invalidArgument('change must be an object');
  let item: PreparedItem = { mode: 'keep' };
  if (change.item === null) item = { mode: 'delete' };
  else if (change.item !== undefined) {
    const input = change.item;
    if (typeof input !== 'object') throw invalidArgument('item must be an object or null');
    if (input.jid !== undefined && input.jid !== jid) throw invalidArgument(`item.jid ${String(input.jid)} is not the contact ${jid}`);
    const subscription = input.subscription ?? 'none';
    if (!SUBSCRIPTIONS.includes(subscription)) throw invalidArgument(`subscription must be one of ${SUBSCRIPTIONS.join(', ')}`);
    for (const flag of ['ask', 'approved'] as const) {
      if (input[flag] !== undefined && typeof input[flag] !== 'boolean') throw invalidArgument(`${flag} must be a boolean`);
    }
    let name: string | undefined;
    if (input.name !== undefined) {
      if (typeof input.name !== 'string' || !isWellFormed(input.name)) throw invalidArgument('name must be a well-formed string');
      if (input.name !== '') name = input.name;
    }
    if (name !== undefined && utf8Bytes(name) > limits.maxRosterNameBytes) {
      return { ok: false, reason: 'too-large', field: 'name', limit: limits.maxRosterNameBytes };
    }
    const groupsIn = input.groups ?? [];
    if (!Array.isArray(groupsIn)) throw invalidArgument('groups must be an array');
    for (const group of groupsIn) {
      if (typeof group !== 'string' || group === '' || !isWellFormed(group)) throw invalidArgument('a group must be a non-empty well-formed string (RFC 6121 §2.3.3)');
      if (utf8Bytes(group) > limits.maxRosterGroupBytes) return { ok: false, reason: 'too-large', field: 'group', limit: limits.maxRosterGroupBytes };
    }
    const groups = [...new Set(groupsIn)].sort();
    if (groups.length > limits.maxRosterGroups) return { ok: false, reason: 'too-large', field: 'groups', limit: limits.maxRosterGroups };
    const encoded = encodeRosterItem({
      ...(name !== undefined ? { name } : {}),
      groups,
      subscription,
      ask: input.ask ?? false,
      approved: input.approved ?? false,
    });
    item = { mode: 'set', encoded };
  }
  let pending: PreparedPending = { mode: 'keep' };
  if (change.pendingIn === null) pending = { mode: 'delete' };
  else if (change.pendingIn !== undefined) {
    if (typeof change.pendingIn !== 'object') throw invalidArgument('pendingIn must be an object or null');
    const status = change.pendingIn.status;
    if (status !== undefined && (typeof status !== 'string' || !isWellFormed(status))) throw invalidArgument('status must be a well-formed string');
    if (status !== undefined && utf8Bytes(status) > limits.maxPendingStatusBytes) {
      return { ok: false, reason: 'too-large', field: 'status', limit: limits.maxPendingStatusBytes };
    }
    pending = { mode: 'set', status: status === '' ? undefined : status };
  }
  return { ok: true, item, pending };
}

// -- archive queries ----------------------------------------------------------------------------

function checkTime(value: unknown, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw invalidArgument(`${what} must be an integer number of milliseconds`);
  return value;
}

/**
 * The id ranges an archive query covers: [countLo, countHi] for with/start/end (what RSM <count/>
 * counts) and [lo, hi] once after/before narrow it. Both stores page from these, identically.
 */
export function archiveBounds(query: ArchiveQuery): {
  countLo: number;
  countHi: number;
  lo: number;
  hi: number;
  after: number | undefined;
  before: number | undefined;
  backward: boolean;
  invalidAfter: boolean;
  invalidBefore: boolean;
} {
  const start = checkTime(query.start, 'start');
  const end = checkTime(query.end, 'end');
  // XEP-0313 §4.1.2: start and end are inclusive; an id's time is floor(id / 1000).
  const countLo = start === undefined ? 0 : Math.max(0, Math.min(MAX_MESSAGE_ID, start * 1000));
  const countHi = end === undefined ? MAX_MESSAGE_ID : Math.max(-1, Math.min(MAX_MESSAGE_ID, end * 1000 + 999));
  let lo = countLo;
  let hi = countHi;
  let invalidAfter = false;
  let invalidBefore = false;
  let after: number | undefined;
  let before: number | undefined;
  if (query.after !== undefined) {
    if (typeof query.after !== 'string') throw invalidArgument('after must be a string');
    after = parseMessageId(query.after);
    if (after === undefined) invalidAfter = true;
    else lo = Math.max(lo, after + 1);
  }
  if (query.before !== undefined) {
    if (typeof query.before !== 'string') throw invalidArgument('before must be a string');
    if (query.before !== '') {
      before = parseMessageId(query.before);
      if (before === undefined) invalidBefore = true;
      else hi = Math.min(hi, before - 1);
    }
  }
  return { countLo, countHi, lo, hi, after, before, backward: query.before !== undefined, invalidAfter, invalidBefore };
}
