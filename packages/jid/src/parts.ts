// Preparation and enforcement of the three JID parts (RFC 7622 §3.2–3.4), with fast paths for
// the plain-ASCII strings that make up nearly all traffic: for those, every PRECIS and IDNA
// rule reduces to a character check and ASCII lower-casing, so no NFC or regex work is done.

import { isIPv6 } from 'node:net';
import { empty, invalid, notAString, tooLong } from './errors.js';
import { MAX_LABEL_OCTETS, checkDomainBidi, prepareLabel } from './idna.js';
import { enforceOpaqueString, enforceUsernameCaseMapped } from './precis.js';
import { mapWidth, utf8Length } from './unicode.js';

/** RFC 7622 §3.2–3.4: each part is at most 1023 octets of UTF-8 after preparation. */
export const MAX_PART_OCTETS = 1023;

/** RFC 1035 §2.3.4: a DNS name is at most 253 octets in text form without the final dot. */
export const MAX_DNS_NAME_OCTETS = 253;

/**
 * Longest input part, in UTF-16 code units, worth preparing. Mapping never shrinks a string by
 * more than NFC does, and NFC composes at most four code points into one of two or more octets,
 * so a longer input cannot prepare to 1023 octets; refusing it up front bounds the work a peer
 * can cause with one huge address.
 */
export const MAX_INPUT_UNITS = 4 * MAX_PART_OCTETS;

// ASCII classification for the fast paths.
const LOCAL_OK = 1; // PVALID in IdentifierClass and allowed by RFC 7622 §3.3.1
const UPPER = 2; // A-Z
const DOMAIN_OK = 4; // a-z 0-9 - .

const ASCII = new Uint8Array(128);
for (let c = 0x21; c <= 0x7e; c++) ASCII[c] = LOCAL_OK;
// RFC 7622 §3.3.1: " & ' / : < > @ are not allowed in localparts (nor is space, already outside 0x21-0x7E).
for (const ch of `"&'/:<>@`) ASCII[ch.charCodeAt(0)] = 0;
for (let c = 0x41; c <= 0x5a; c++) ASCII[c]! |= UPPER;
for (let c = 0x61; c <= 0x7a; c++) ASCII[c]! |= DOMAIN_OK;
for (let c = 0x30; c <= 0x39; c++) ASCII[c]! |= DOMAIN_OK;
ASCII[0x2d]! |= DOMAIN_OK;
ASCII[0x2e]! |= DOMAIN_OK;

function checkInput(s: unknown, part: 'local' | 'domain' | 'resource'): asserts s is string {
  if (typeof s !== 'string') throw notAString(part);
  if (s.length === 0) throw empty(part);
  if (s.length > MAX_INPUT_UNITS) throw tooLong(part, 'too-long', `more than ${MAX_PART_OCTETS} octets`);
}

function checkOctets(s: string, part: 'local' | 'domain' | 'resource'): string {
  if (utf8Length(s) > MAX_PART_OCTETS) throw tooLong(part, 'too-long', `more than ${MAX_PART_OCTETS} octets`);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Localpart: PRECIS UsernameCaseMapped (RFC 8265 §3.3) plus RFC 7622 §3.3.1's extra exclusions.

const isForbiddenInLocalpart = (cp: number): boolean =>
  cp === 0x20 || cp === 0x22 || cp === 0x26 || cp === 0x27 || cp === 0x2f || cp === 0x3a || cp === 0x3c || cp === 0x3e || cp === 0x40;

/** Prepares and enforces a localpart; throws JidError. */
export function prepLocalpart(s: string): string {
  checkInput(s, 'local');
  let upper = false;
  let fast = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const kind = c < 0x80 ? ASCII[c]! : 0;
    if ((kind & LOCAL_OK) === 0) {
      fast = false;
      break;
    }
    if (kind & UPPER) upper = true;
  }
  if (fast) return checkOctets(upper ? s.toLowerCase() : s, 'local');
  return prepLocalpartFull(s);
}

/** The full algorithm behind prepLocalpart, without the ASCII fast path (exported for tests). */
export function prepLocalpartFull(s: string): string {
  return checkOctets(enforceUsernameCaseMapped(s, 'local', isForbiddenInLocalpart), 'local');
}

// ---------------------------------------------------------------------------------------------
// Resourcepart: PRECIS OpaqueString (RFC 8265 §4.2).

/** Prepares and enforces a resourcepart; throws JidError. Case and width are preserved. */
export function prepResourcepart(s: string): string {
  checkInput(s, 'resource');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // Printable ASCII and space are FreeformClass PVALID and already NFC.
    if (c < 0x20 || c > 0x7e) return prepResourcepartFull(s);
  }
  return checkOctets(s, 'resource');
}

/** The full algorithm behind prepResourcepart, without the ASCII fast path (exported for tests). */
export function prepResourcepartFull(s: string): string {
  return checkOctets(enforceOpaqueString(s, 'resource'), 'resource');
}

// ---------------------------------------------------------------------------------------------
// Domainpart (RFC 7622 §3.2): IP literal, IPv4 address, or NR-LDH labels and U-labels.

// RFC 3986 §3.2.2 IPv4address: four dec-octets, no leading zeros.
const RE_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
// RFC 3986 §3.2.2 IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
const RE_IPVFUTURE = /^v[0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+$/;
// Label separators of IDNA (RFC 3490 §3.1): full stop, ideographic, fullwidth and halfwidth ideographic full stops.
const RE_IDEOGRAPHIC_FULL_STOP = /\u3002/g;

/** A bracketed IP literal: IPv6 in RFC 5952 canonical text, or IPvFuture lower-cased. */
function prepIpLiteral(s: string): string {
  if (s.charCodeAt(s.length - 1) !== 0x5d) throw invalid('domain', 'ip-literal', 'an IP literal must end with "]"');
  const inner = s.slice(1, -1).toLowerCase();
  if (RE_IPVFUTURE.test(inner)) return checkOctets(`[${inner}]`, 'domain');
  // Zone identifiers (RFC 6874) are local to a host and have no place in an address.
  if (inner.includes('%') || !isIPv6(inner)) throw invalid('domain', 'ip-literal', 'not an IPv6 address');
  // The WHATWG host serializer writes RFC 5952 §4 text: lower case, no leading zeros, longest zero run compressed.
  return new URL(`http://[${inner}]/`).hostname;
}

// A final label that reads as a number: decimal, or "0x" hexadecimal (WHATWG URL "ends in a
// number"; inet_aton(3) reads the same forms, so "0x7f000001" would reach 127.0.0.1).
const RE_NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/;

/** Returns a dotted-quad IPv4 domain; refuses other numeric-looking names; undefined for host names. */
function prepNumeric(domain: string, lastLabel: string): string | undefined {
  if (!RE_NUMERIC_LABEL.test(lastLabel)) return undefined;
  // An all-numeric top label is never a DNS name (RFC 3696 §2): it must be an IPv4 address,
  // written without leading zeros so that no reader can take it for octal.
  if (RE_IPV4.test(domain)) return domain;
  throw invalid('domain', 'numeric-tld', 'numeric final label but not a dotted-quad IPv4 address');
}

function stripTrailingDot(s: string): string {
  // RFC 7622 §3.2: one final label separator is stripped before any other canonicalisation.
  const last = s.charCodeAt(s.length - 1);
  if (last === 0x2e || last === 0x3002 || last === 0xff0e || last === 0xff61) return s.slice(0, -1);
  return s;
}

/** Fast path for ASCII letters, digits, hyphens and dots; undefined sends the input to the full path. */
function prepAsciiDomain(s: string): string | undefined {
  let upper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const kind = c < 0x80 ? ASCII[c]! : 0;
    if (kind & UPPER) upper = true;
    else if ((kind & DOMAIN_OK) === 0) return undefined;
  }
  let domain = stripTrailingDot(s);
  if (domain.length === 0) throw empty('domain');
  if (upper) domain = domain.toLowerCase();
  let start = 0;
  for (;;) {
    const dot = domain.indexOf('.', start);
    const end = dot < 0 ? domain.length : dot;
    const length = end - start;
    if (length === 0) throw invalid('domain', 'empty-label', 'empty label');
    if (length > MAX_LABEL_OCTETS) throw tooLong('domain', 'label-too-long', `a label exceeds ${MAX_LABEL_OCTETS} octets`);
    if (domain.charCodeAt(start) === 0x2d || domain.charCodeAt(end - 1) === 0x2d) {
      throw invalid('domain', 'hyphen', 'a label starts or ends with a hyphen');
    }
    if (length >= 4 && domain.charCodeAt(start + 2) === 0x2d && domain.charCodeAt(start + 3) === 0x2d) {
      return undefined; // an A-label, or a reserved label: the full path decides
    }
    if (dot < 0) break;
    start = dot + 1;
  }
  const numeric = prepNumeric(domain, domain.slice(start));
  if (numeric !== undefined) return numeric;
  if (domain.length > MAX_DNS_NAME_OCTETS) throw tooLong('domain', 'domain-too-long', `more than ${MAX_DNS_NAME_OCTETS} octets`);
  return domain;
}

/** The RFC 5895 §2 mapping IDNA2008 leaves to applications: width, lower case, NFC, ideographic full stop. */
function mapDomain(s: string): string {
  return mapWidth(s).toLowerCase().normalize('NFC').replace(RE_IDEOGRAPHIC_FULL_STOP, '.');
}

/**
 * Prepares and enforces a domainpart; throws JidError. The result is lower case, in U-label
 * form (A-labels are decoded), without a trailing dot; IPv6 literals are canonical.
 */
export function prepDomainpart(s: string): string {
  checkInput(s, 'domain');
  return prepAsciiDomain(s) ?? prepDomainpartCached(s);
}

// Internationalised and A-label domains cost microseconds to prepare, and a few hundred names
// carry nearly all traffic, so their prepared forms are kept in a small LRU. Bound: at most
// DOMAIN_CACHE_ENTRIES entries of at most MAX_CACHED_DOMAIN_UNITS code units each (well under
// 1 MiB); when full, the least recently used entry is evicted. Failures are not cached.
export const DOMAIN_CACHE_ENTRIES = 512;
const MAX_CACHED_DOMAIN_UNITS = 256;
const domainCache = new Map<string, string>();

function prepDomainpartCached(s: string): string {
  if (s.length > MAX_CACHED_DOMAIN_UNITS) return prepDomainpartFull(s);
  const hit = domainCache.get(s);
  if (hit !== undefined) {
    domainCache.delete(s); // re-insert: Map iteration order is the recency order
    domainCache.set(s, hit);
    return hit;
  }
  const prepared = prepDomainpartFull(s);
  if (domainCache.size >= DOMAIN_CACHE_ENTRIES) domainCache.delete(domainCache.keys().next().value!);
  domainCache.set(s, prepared);
  return prepared;
}

/** Number of cached domain preparations (for tests of the bound). */
export function domainCacheSize(): number {
  return domainCache.size;
}

/** The full algorithm behind prepDomainpart, without the ASCII fast path (exported for tests). */
export function prepDomainpartFull(s: string): string {
  const stripped = stripTrailingDot(s);
  if (stripped.length === 0) throw empty('domain');
  if (stripped.charCodeAt(0) === 0x5b) return prepIpLiteral(stripped);
  const mapped = mapDomain(stripped);
  if (mapDomain(mapped) !== mapped) throw invalid('domain', 'unstable', 'preparation is not idempotent for this string');
  const labels = mapped.split('.');
  let asciiLength = labels.length - 1;
  for (let i = 0; i < labels.length; i++) {
    const label = prepareLabel(labels[i]!);
    labels[i] = label.unicode;
    asciiLength += label.asciiLength;
  }
  const domain = labels.join('.');
  const numeric = prepNumeric(domain, labels[labels.length - 1]!);
  if (numeric !== undefined) return numeric;
  checkDomainBidi(labels);
  if (asciiLength > MAX_DNS_NAME_OCTETS) throw tooLong('domain', 'domain-too-long', `more than ${MAX_DNS_NAME_OCTETS} octets in A-label form`);
  return checkOctets(domain, 'domain');
}
