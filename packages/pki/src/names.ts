/**
 * Validation and canonical forms for the names that go into certificates: DNS names
 * (always A-labels in certificates, RFC 5280 §4.2.1.6 and §7.2), IP addresses, common names.
 */
import { isIP } from 'node:net';
import { domainToASCII, domainToUnicode } from 'node:url';
import { PkiError } from './errors.js';

/** X.520 ub-common-name (RFC 5280 Appendix A). */
const MAX_COMMON_NAME_LENGTH = 64;
/** RFC 1035 §2.3.4, as the text form without the trailing dot. */
const MAX_DNS_NAME_LENGTH = 253;
const MAX_DNS_LABEL_LENGTH = 63;
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

function invalid(message: string): PkiError {
  return new PkiError('PKI_INVALID_ARGUMENT', message);
}

/**
 * The canonical (lower-case A-label, no trailing dot) form of a DNS name, or undefined when
 * the input is not a host name. IDNs are converted with UTS #46 (WHATWG URL's domainToASCII),
 * the same mapping XMPP clients apply to domainparts (RFC 7622 §3.2).
 */
export function canonicalDnsName(input: string): string | undefined {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_DNS_NAME_LENGTH + 1) return undefined;
  const withoutDot = input.endsWith('.') ? input.slice(0, -1) : input;
  if (withoutDot.length === 0 || isIP(withoutDot) !== 0) return undefined;
  // domainToASCII parses its input as a URL host: it would cut "example.org/x" or "example.org?x"
  // down to "example.org", percent-decode and drop tabs. Only LDH and dots may be ASCII here;
  // non-ASCII goes through UTS #46, which maps look-alikes such as U+FF0F to the ASCII form
  // and then fails them.
  if (/[^A-Za-z0-9.\-\u0080-\u{10FFFF}]/u.test(withoutDot)) return undefined;
  const ascii = domainToASCII(withoutDot);
  // WHATWG host parsing turns names ending in a number into IPv4 addresses ("1.2" -> "1.0.0.2");
  // such a name was never a host name (RFC 3696 §2: a TLD is not all-numeric).
  if (ascii.length === 0 || ascii.length > MAX_DNS_NAME_LENGTH || isIP(ascii) !== 0) return undefined;
  const labels = ascii.split('.');
  for (const label of labels) {
    if (label.length === 0 || label.length > MAX_DNS_LABEL_LENGTH || !LDH_LABEL.test(label)) return undefined;
  }
  return ascii;
}

export function requireDnsName(input: string, what: string): string {
  const canonical = canonicalDnsName(input);
  if (canonical === undefined) throw invalid(`${what}: ${JSON.stringify(input)} is not a valid DNS name`);
  return canonical;
}

/** The Unicode (U-label) form of a canonical DNS name, as an XMPP domainpart is written. */
export function unicodeDnsName(canonical: string): string {
  return domainToUnicode(canonical) || canonical;
}

export function requireCommonName(input: string, what: string): string {
  if (typeof input !== 'string' || input.length === 0 || [...input].length > MAX_COMMON_NAME_LENGTH) {
    throw invalid(`${what} must be 1 to ${MAX_COMMON_NAME_LENGTH} characters`);
  }
  // Control characters in a subject name end up in logs and terminal output.
  if (/[\u0000-\u001f\u007f]/.test(input)) throw invalid(`${what} must not contain control characters`);
  return input;
}

/** The 4 or 16 address bytes of an IP literal (RFC 5280 §4.2.1.6: iPAddress is network order). */
export function ipAddressBytes(input: string): Buffer | undefined {
  const family = isIP(input);
  if (family === 4) return Buffer.from(input.split('.').map((part) => Number(part)));
  if (family !== 6 || input.includes('%')) return undefined;
  return ipv6Bytes(input);
}

function ipv6Bytes(text: string): Buffer | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (part: string | undefined): number[] | undefined => {
    if (part === undefined || part.length === 0) return [];
    const groups: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i] ?? '';
      if (i === pieces.length - 1 && piece.includes('.')) {
        // An embedded IPv4 address fills the last two groups (RFC 4291 §2.2, form 3).
        const v4 = isIP(piece) === 4 ? piece.split('.').map(Number) : undefined;
        if (v4 === undefined) return undefined;
        groups.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return undefined;
        groups.push(parseInt(piece, 16));
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 1 ? 0 : missing).fill(0), ...tail];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => bytes.writeUInt16BE(group, index * 2));
  return bytes;
}

export function requireIpAddress(input: string, what: string): Buffer {
  const bytes = ipAddressBytes(input);
  if (bytes === undefined) throw invalid(`${what}: ${JSON.stringify(input)} is not an IPv4 or IPv6 address`);
  return bytes;
}

/** Text form of iPAddress bytes: dotted quad, or RFC 5952 canonical IPv6. */
export function formatIpAddress(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  if (bytes.length !== 16) return undefined;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952 §4.2: compress the longest run (first on ties) of two or more zero groups.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}
