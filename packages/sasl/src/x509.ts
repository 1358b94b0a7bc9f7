// A small, bounds-checked DER reader for the two things SASL needs from an X.509 certificate
// (RFC 5280 §4.1): the subjectAltName entries (EXTERNAL) and the signature algorithm
// (tls-server-end-point, RFC 5929 §4.1). Identities come only from subjectAltName, parsed
// structurally; the subject DN is never consulted.

import type { CertificateIdentities } from './types.js';

interface Tlv {
  /** full identifier octet (class, constructed bit, tag number < 31) */
  tag: number;
  /** start of the contents */
  start: number;
  /** end of the contents (exclusive) */
  end: number;
}

const TAG_SEQUENCE = 0x30;
const TAG_OID = 0x06;
const TAG_BOOLEAN = 0x01;
const TAG_OCTET_STRING = 0x04;
const TAG_UTF8_STRING = 0x0c;
const TAG_IA5_STRING = 0x16;
const TAG_CONTEXT_0_CONSTRUCTED = 0xa0;
const TAG_CONTEXT_3_CONSTRUCTED = 0xa3;
const TAG_CONTEXT_2_PRIMITIVE = 0x82; // dNSName [2] IA5String, IMPLICIT

const OID_SUBJECT_ALT_NAME = '2.5.29.17';
const OID_XMPP_ADDR = '1.3.6.1.5.5.7.8.5';
const OID_SRV_NAME = '1.3.6.1.5.5.7.8.7';

/** Reads one TLV at `offset` within [offset, limit); undefined if malformed. */
function readTlv(buf: Buffer, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) return undefined; // high tag numbers never occur in what we read
  const lengthByte = buf[offset + 1]!;
  let cursor = offset + 2;
  let length: number;
  if (lengthByte < 0x80) {
    length = lengthByte;
  } else {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 4 || cursor + count > limit) return undefined; // no indefinite form in DER
    length = 0;
    for (let i = 0; i < count; i++) {
      length = length * 256 + buf[cursor + i]!;
    }
    cursor += count;
  }
  const end = cursor + length;
  if (end > limit) return undefined;
  return { tag, start: cursor, end };
}

/** The child TLVs of a constructed value, or undefined if any is malformed. */
function children(buf: Buffer, parent: Tlv, maxChildren = 1024): Tlv[] | undefined {
  const out: Tlv[] = [];
  let offset = parent.start;
  while (offset < parent.end) {
    const child = readTlv(buf, offset, parent.end);
    if (!child || out.length >= maxChildren) return undefined;
    out.push(child);
    offset = child.end;
  }
  return out;
}

function decodeOid(buf: Buffer, tlv: Tlv): string | undefined {
  if (tlv.tag !== TAG_OID || tlv.end === tlv.start || tlv.end - tlv.start > 64) return undefined;
  const parts: number[] = [];
  let value = 0;
  for (let i = tlv.start; i < tlv.end; i++) {
    const byte = buf[i]!;
    value = value * 128 + (byte & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) return undefined;
    if ((byte & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    }
  }
  if ((buf[tlv.end - 1]! & 0x80) !== 0) return undefined;
  return parts.join('.');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function decodeIa5(bytes: Uint8Array): string | undefined {
  for (const byte of bytes) if (byte > 0x7f) return undefined;
  return Buffer.from(bytes).toString('latin1');
}

interface CertificateParts {
  tbs: Tlv;
  signatureAlgorithm: Tlv;
}

function certificateParts(der: Buffer): CertificateParts | undefined {
  const certificate = readTlv(der, 0, der.length);
  if (!certificate || certificate.tag !== TAG_SEQUENCE) return undefined;
  const parts = children(der, certificate, 3);
  if (!parts || parts.length !== 3) return undefined;
  const [tbs, signatureAlgorithm] = parts as [Tlv, Tlv, Tlv];
  if (tbs.tag !== TAG_SEQUENCE || signatureAlgorithm.tag !== TAG_SEQUENCE) return undefined;
  return { tbs, signatureAlgorithm };
}

/** The extensions of a certificate as (oid, extnValue contents) pairs. */
function extensions(der: Buffer, tbs: Tlv): Array<{ oid: string; value: Tlv }> | undefined {
  const fields = children(der, tbs, 16);
  if (!fields) return undefined;
  const wrapper = fields.find((f) => f.tag === TAG_CONTEXT_3_CONSTRUCTED);
  if (!wrapper) return [];
  const [sequence] = children(der, wrapper, 1) ?? [];
  if (!sequence || sequence.tag !== TAG_SEQUENCE) return undefined;
  const list = children(der, sequence);
  if (!list) return undefined;
  const out: Array<{ oid: string; value: Tlv }> = [];
  for (const extension of list) {
    if (extension.tag !== TAG_SEQUENCE) return undefined;
    const items = children(der, extension, 3);
    if (!items || items.length < 2) return undefined;
    const oid = decodeOid(der, items[0]!);
    let valueIndex = 1;
    if (items[1]!.tag === TAG_BOOLEAN) valueIndex = 2; // critical
    const value = items[valueIndex];
    if (oid === undefined || !value || value.tag !== TAG_OCTET_STRING) return undefined;
    out.push({ oid, value });
  }
  return out;
}

/**
 * The identities a certificate asserts in subjectAltName: id-on-xmppAddr and SRVName otherNames
 * and dNSName entries (RFC 6120 §13.7.1.4, RFC 4985, RFC 5280 §4.2.1.6). Undefined if the DER is
 * malformed; empty lists if the certificate has no subjectAltName.
 */
export function certificateIdentities(der: Buffer): CertificateIdentities | undefined {
  const parts = certificateParts(der);
  if (!parts) return undefined;
  const list = extensions(der, parts.tbs);
  if (!list) return undefined;
  const identities: CertificateIdentities = { xmppAddrs: [], dnsNames: [], srvNames: [] };
  const san = list.filter((e) => e.oid === OID_SUBJECT_ALT_NAME);
  if (san.length > 1) return undefined; // RFC 5280 §4.2: an extension appears at most once
  if (san.length === 0) return identities;
  const names = readTlv(der, san[0]!.value.start, san[0]!.value.end);
  if (!names || names.tag !== TAG_SEQUENCE || names.end !== san[0]!.value.end) return undefined;
  const entries = children(der, names);
  if (!entries) return undefined;
  for (const entry of entries) {
    if (entry.tag === TAG_CONTEXT_2_PRIMITIVE) {
      const name = decodeIa5(der.subarray(entry.start, entry.end));
      if (name === undefined) return undefined;
      identities.dnsNames.push(name);
    } else if (entry.tag === TAG_CONTEXT_0_CONSTRUCTED) {
      // otherName ::= SEQUENCE { type-id OID, value [0] EXPLICIT ANY } (IMPLICIT [0] SEQUENCE)
      const items = children(der, entry, 2);
      if (!items || items.length !== 2) return undefined;
      const oid = decodeOid(der, items[0]!);
      const explicit = items[1]!;
      if (oid === undefined || explicit.tag !== TAG_CONTEXT_0_CONSTRUCTED) return undefined;
      const [inner] = children(der, explicit, 1) ?? [];
      if (!inner) return undefined;
      const bytes = der.subarray(inner.start, inner.end);
      if (oid === OID_XMPP_ADDR) {
        const addr = inner.tag === TAG_UTF8_STRING ? decodeUtf8(bytes) : undefined;
        if (addr === undefined) return undefined;
        identities.xmppAddrs.push(addr);
      } else if (oid === OID_SRV_NAME) {
        const name = inner.tag === TAG_IA5_STRING ? decodeIa5(bytes) : undefined;
        if (name === undefined) return undefined;
        identities.srvNames.push(name);
      }
    }
    // Other GeneralName forms (rfc822Name, URI, IP address, ...) do not name XMPP entities.
  }
  return identities;
}

/** The certificate's signatureAlgorithm OID and, for RSASSA-PSS, the parameters TLV. */
export function signatureAlgorithm(der: Buffer): { oid: string; parameters?: { buf: Buffer; tlv: Tlv } } | undefined {
  const parts = certificateParts(der);
  if (!parts) return undefined;
  const items = children(der, parts.signatureAlgorithm, 2);
  if (!items || items.length === 0) return undefined;
  const oid = decodeOid(der, items[0]!);
  if (oid === undefined) return undefined;
  return items[1] ? { oid, parameters: { buf: der, tlv: items[1] } } : { oid };
}

/** RSASSA-PSS-params: hashAlgorithm [0] EXPLICIT AlgorithmIdentifier DEFAULT sha1 (RFC 4055 §3.1). */
export function pssHashOid(parameters: { buf: Buffer; tlv: Tlv }): string | undefined {
  const { buf, tlv } = parameters;
  if (tlv.tag !== TAG_SEQUENCE) return undefined;
  const fields = children(buf, tlv, 4);
  if (!fields) return undefined;
  const hashField = fields.find((f) => f.tag === TAG_CONTEXT_0_CONSTRUCTED);
  if (!hashField) return '1.3.14.3.2.26'; // the DEFAULT, sha1
  const [algorithm] = children(buf, hashField, 1) ?? [];
  if (!algorithm || algorithm.tag !== TAG_SEQUENCE) return undefined;
  const [oid] = children(buf, algorithm, 2) ?? [];
  return oid ? decodeOid(buf, oid) : undefined;
}
