// Base64 framing of SASL data inside <auth/>, <challenge/>, <response/> and <success/>
// (RFC 6120 §6.4.2): base64 per RFC 4648 §4, and a single "=" for data that is present but empty.

import type { SaslCondition } from './types.js';

/** Default bound on decoded SASL payloads: no legitimate client message comes near it. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 8192;

export type DecodedPayload =
  | { ok: true; /** undefined: the element carried no data at all */ data: Buffer | undefined }
  | { ok: false; condition: Extract<SaslCondition, 'incorrect-encoding' | 'malformed-request'>; text: string };

const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isXmlWhitespace(code: number): boolean {
  return code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d;
}

/**
 * Decode the character data of a SASL element.
 *
 * - `''` (empty element) → `data: undefined` (no initial response / empty response).
 * - `'='` → an empty Buffer (RFC 6120 §6.4.2: present but zero-length).
 * - Anything not canonical base64 (wrong alphabet, missing or extra padding, non-zero pad bits,
 *   whitespace inside) → `incorrect-encoding` (RFC 6120 §6.5.2).
 * - Longer than `maxBytes` once decoded → `malformed-request`, detected from the text length
 *   before any decoding work.
 *
 * Whitespace around the value is tolerated because pretty-printing XML serialisers add it;
 * whitespace inside is not.
 */
export function decodeSaslPayload(text: string, opts: { maxBytes?: number } = {}): DecodedPayload {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const maxChars = Math.ceil(maxBytes / 3) * 4;
  let start = 0;
  let end = text.length;
  // Bound the trim too: a megabyte of spaces is not a payload.
  while (start < end && start <= maxChars && isXmlWhitespace(text.charCodeAt(start))) start++;
  while (end > start && text.length - end <= maxChars && isXmlWhitespace(text.charCodeAt(end - 1))) end--;
  const length = end - start;
  if (length === 0) {
    if (text.length > maxChars) return { ok: false, condition: 'malformed-request', text: 'payload too large' };
    return { ok: true, data: undefined };
  }
  if (length > maxChars) return { ok: false, condition: 'malformed-request', text: 'payload too large' };
  const body = start === 0 && end === text.length ? text : text.slice(start, end);
  if (body === '=') return { ok: true, data: Buffer.alloc(0) };
  const data = decodeBase64Strict(body);
  if (data === undefined) return { ok: false, condition: 'incorrect-encoding', text: 'invalid base64' };
  if (data.length > maxBytes) return { ok: false, condition: 'malformed-request', text: 'payload too large' };
  return { ok: true, data };
}

/**
 * Canonical base64 (RFC 4648 §4) or undefined: standard alphabet, exact padding, no whitespace,
 * and zero pad bits (non-zero ones decode fine but are not canonical, RFC 4648 §3.5).
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  if (text.length % 4 !== 0 || !CANONICAL_BASE64.test(text)) return undefined;
  const data = Buffer.from(text, 'base64');
  return data.toString('base64') === text ? data : undefined;
}

/** Encode SASL data for an element: undefined → '' (no data), empty → '=' (RFC 6120 §6.4.2). */
export function encodeSaslPayload(data: Buffer | undefined): string {
  if (data === undefined) return '';
  if (data.length === 0) return '=';
  return data.toString('base64');
}
