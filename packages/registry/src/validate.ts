// Argument checks at the registry's edge: the store never sees an empty key, a NaN lease or an
// unbounded page. Identifiers stay opaque strings (callers normalise JIDs with @ambrosia/jid).

import { invalidArgument } from './errors.js';
import { SERVICE_TYPES, type CredentialRecord, type ScramHash, type ServiceType } from './types.js';

/** RFC 7622 §3.1: a full JID is at most 3071 bytes; identifiers of every kind stay under this. */
export const MAX_IDENTIFIER_BYTES = 3071;
/** Upper bound for every lease and expiry (a year): guards against seconds passed as ms. */
export const MAX_TTL_MS = 366 * 24 * 3600 * 1000;
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 1000;

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function identifier(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw invalidArgument(`${what} must be a non-empty string`);
  if (Buffer.byteLength(value, 'utf8') > MAX_IDENTIFIER_BYTES) throw invalidArgument(`${what} is longer than ${MAX_IDENTIFIER_BYTES} bytes`);
  // A lone surrogate becomes U+FFFD in UTF-8, so two different identifiers would share a key.
  if (LONE_SURROGATE.test(value)) throw invalidArgument(`${what} contains a lone surrogate`);
  return value;
}

export function ttl(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TTL_MS) {
    throw invalidArgument(`${what} must be an integer number of ms in [1, ${MAX_TTL_MS}]`);
  }
  return value;
}

export function integer(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`${what} must be an integer in [${min}, ${max}]`);
  }
  return value;
}

export function finiteNumber(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw invalidArgument(`${what} must be a number in [${min}, ${max}]`);
  }
  return value;
}

export function serviceType(value: unknown): ServiceType {
  if (!SERVICE_TYPES.includes(value as ServiceType)) throw invalidArgument(`service type must be one of ${SERVICE_TYPES.join(', ')}`);
  return value as ServiceType;
}

export function pageLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_PAGE_LIMIT;
  return integer('limit', value, 1, MAX_PAGE_LIMIT);
}

/** Cursors are opaque to callers: the last key of the page, base64url-encoded. */
export function encodeCursor(lastKey: string): string {
  return Buffer.from(lastKey, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  if (typeof cursor !== 'string' || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidArgument('cursor is not one this registry returned');
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (key.length === 0 || encodeCursor(key) !== cursor) throw invalidArgument('cursor is not one this registry returned');
  return key;
}

/** Compares strings by their UTF-8 bytes: the order Redis sorted sets use (ZRANGEBYLEX). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SCRAM_HASHES: readonly ScramHash[] = ['SHA-1', 'SHA-256', 'SHA-512'];

/** The record must be a SCRAM record (RFC 5802 §3), never anything resembling a password. */
export function credentialRecord(record: unknown): CredentialRecord {
  if (typeof record !== 'object' || record === null) throw invalidArgument('credential record must be an object');
  const r = record as Partial<CredentialRecord> & Record<string, unknown>;
  for (const field of Object.keys(r)) {
    if (!['scram', 'disabled', 'createdAt', 'updatedAt'].includes(field)) throw invalidArgument(`credential record has an unknown field "${field}"`);
  }
  if (typeof r.scram !== 'object' || r.scram === null) throw invalidArgument('credential record needs scram');
  const scram: CredentialRecord['scram'] = {};
  for (const [hash, credential] of Object.entries(r.scram)) {
    if (!SCRAM_HASHES.includes(hash as ScramHash)) throw invalidArgument(`unknown SCRAM hash "${hash}"`);
    if (typeof credential !== 'object' || credential === null) throw invalidArgument(`scram ${hash} must be an object`);
    const { salt, iterations, storedKey, serverKey } = credential;
    for (const [name, value] of [['salt', salt], ['storedKey', storedKey], ['serverKey', serverKey]] as const) {
      if (typeof value !== 'string' || value.length === 0 || !BASE64.test(value)) throw invalidArgument(`scram ${hash} ${name} must be base64`);
    }
    integer(`scram ${hash} iterations`, iterations, 1, 2 ** 31 - 1);
    scram[hash as ScramHash] = { salt, iterations, storedKey, serverKey };
  }
  if (r.disabled !== undefined && typeof r.disabled !== 'boolean') throw invalidArgument('disabled must be a boolean');
  integer('createdAt', r.createdAt, 0, Number.MAX_SAFE_INTEGER);
  integer('updatedAt', r.updatedAt, 0, Number.MAX_SAFE_INTEGER);
  const out: CredentialRecord = { scram, createdAt: r.createdAt as number, updatedAt: r.updatedAt as number };
  if (r.disabled !== undefined) out.disabled = r.disabled;
  return out;
}

// RFC 6120 §4.9.3.19: the see-other-host value is host[:port], an IPv6 literal in brackets.
const HOST_LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
export function seeOtherHostTarget(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 300) throw invalidArgument('see-other-host target must be host[:port]');
  let host: string;
  let port: string | undefined;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) throw invalidArgument('see-other-host IPv6 literal lacks "]"');
    host = value.slice(1, close);
    const rest = value.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw invalidArgument('see-other-host target must be [ipv6][:port]');
    port = rest === '' ? undefined : rest.slice(1);
    if (!/^[0-9A-Fa-f:.]+$/.test(host) || !host.includes(':')) throw invalidArgument('see-other-host IPv6 literal is malformed');
  } else {
    const parts = value.split(':');
    if (parts.length > 2) throw invalidArgument('see-other-host IPv6 literals must be in brackets');
    host = parts[0] ?? '';
    port = parts[1];
    const labels = host.replace(/\.$/, '').split('.');
    if (host.length === 0 || host.length > 253 || !labels.every((l) => HOST_LABEL.test(l))) throw invalidArgument('see-other-host host is not a host name or IPv4 address');
  }
  if (port !== undefined && (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) throw invalidArgument('see-other-host port must be 1-65535');
  return value;
}
