/**
 * A thin layer over node-forge's ASN.1 module: forge speaks "binary strings" (one char per
 * byte), the rest of this package speaks Buffers. Only this file touches forge's asn1 API.
 */
import * as forgeNamespace from 'node-forge';
import { PkiError } from './errors.js';

// node-forge is CommonJS assigning module.exports wholesale, so under Node's ESM loader its
// API is the default export; its type declarations only describe named exports.
const forge = (forgeNamespace as unknown as { default?: typeof forgeNamespace }).default ?? forgeNamespace;
const { asn1 } = forge;
export type Asn1 = forgeNamespace.asn1.Asn1;

export const TagClass = asn1.Class;
export const Tag = asn1.Type;

/** Nesting beyond this is never needed by a certificate; forge's own default is 256. */
const MAX_DER_DEPTH = 32;

export function bytesToBinary(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function binaryToBytes(binary: string): Buffer {
  return Buffer.from(binary, 'latin1');
}

export function encodeDer(node: Asn1): Buffer {
  return binaryToBytes(asn1.toDer(node).getBytes());
}

type FromDerOptions = { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean; maxDepth: number };

/**
 * Strict DER parse. BIT STRING contents are kept as raw bytes: forge would otherwise guess
 * whether they hold nested ASN.1, and a signature can happen to look like it does.
 */
export function decodeDer(der: Uint8Array, what: string): Asn1 {
  const options: FromDerOptions = { strict: true, parseAllBytes: true, decodeBitStrings: false, maxDepth: MAX_DER_DEPTH };
  try {
    return (asn1.fromDer as unknown as (bytes: string, options: FromDerOptions) => Asn1)(bytesToBinary(der), options);
  } catch (cause) {
    throw new PkiError('PKI_MALFORMED_CERTIFICATE', `${what} is not valid DER`, { cause });
  }
}

// ---- builders ---------------------------------------------------------------------------

export function sequence(...children: Asn1[]): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.SEQUENCE, true, children);
}

export function set(...children: Asn1[]): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.SET, true, children);
}

export function objectIdentifier(oid: string): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.OID, false, asn1.oidToDer(oid).getBytes());
}

/** A non-negative INTEGER from its big-endian magnitude, minimally encoded (X.690 §8.3.2). */
export function unsignedInteger(magnitude: Uint8Array): Asn1 {
  let start = 0;
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++;
  let body = Buffer.from(magnitude.subarray(start));
  if (body.length === 0) body = Buffer.alloc(1);
  if ((body[0] ?? 0) & 0x80) body = Buffer.concat([Buffer.alloc(1), body]);
  return asn1.create(TagClass.UNIVERSAL, Tag.INTEGER, false, bytesToBinary(body));
}

export function smallInteger(value: number): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.INTEGER, false, asn1.integerToDer(value).getBytes());
}

export function booleanTrue(): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.BOOLEAN, false, '\xff');
}

export function nullValue(): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.NULL, false, '');
}

export function utf8String(text: string): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.UTF8, false, bytesToBinary(Buffer.from(text, 'utf8')));
}

export function ia5String(text: string): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.IA5STRING, false, text);
}

export function octetString(bytes: Uint8Array): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.OCTETSTRING, false, bytesToBinary(bytes));
}

/** BIT STRING whose first content byte is the count of unused trailing bits (X.690 §8.6.2). */
export function bitString(bytes: Uint8Array, unusedBits = 0): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.BITSTRING, false, String.fromCharCode(unusedBits) + bytesToBinary(bytes));
}

export function utcTime(text: string): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.UTCTIME, false, text);
}

export function generalizedTime(text: string): Asn1 {
  return asn1.create(TagClass.UNIVERSAL, Tag.GENERALIZEDTIME, false, text);
}

/** `[n] EXPLICIT`: a constructed context tag wrapping one complete element. */
export function explicitTag(tagNumber: number, child: Asn1): Asn1 {
  return asn1.create(TagClass.CONTEXT_SPECIFIC, tagNumber, true, [child]);
}

/** `[n] IMPLICIT` over a primitive type: the context tag replaces the universal one. */
export function implicitPrimitive(tagNumber: number, contentBytes: Uint8Array | string): Asn1 {
  const content = typeof contentBytes === 'string' ? contentBytes : bytesToBinary(contentBytes);
  return asn1.create(TagClass.CONTEXT_SPECIFIC, tagNumber, false, content);
}

/** `[n] IMPLICIT SEQUENCE { ... }`: constructed, with the sequence's children directly inside. */
export function implicitConstructed(tagNumber: number, children: Asn1[]): Asn1 {
  return asn1.create(TagClass.CONTEXT_SPECIFIC, tagNumber, true, children);
}

// ---- readers ----------------------------------------------------------------------------

function malformed(what: string): PkiError {
  return new PkiError('PKI_MALFORMED_CERTIFICATE', `malformed ${what}`);
}

export function isUniversal(node: Asn1, type: number): boolean {
  return node.tagClass === TagClass.UNIVERSAL && node.type === type;
}

export function isContext(node: Asn1, tagNumber: number): boolean {
  return node.tagClass === TagClass.CONTEXT_SPECIFIC && node.type === tagNumber;
}

export function childrenOf(node: Asn1, what: string): Asn1[] {
  if (!node.constructed || !Array.isArray(node.value)) throw malformed(what);
  return node.value;
}

export function sequenceChildren(node: Asn1, what: string): Asn1[] {
  if (!isUniversal(node, Tag.SEQUENCE)) throw malformed(what);
  return childrenOf(node, what);
}

export function primitiveBytes(node: Asn1, what: string): Buffer {
  if (node.constructed || typeof node.value !== 'string') throw malformed(what);
  return binaryToBytes(node.value);
}

export function readObjectIdentifier(node: Asn1, what: string): string {
  if (!isUniversal(node, Tag.OID) || typeof node.value !== 'string') throw malformed(what);
  return asn1.derToOid(node.value);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** UTF8String content; invalid UTF-8 is a malformed certificate, never replacement characters. */
export function readUtf8(node: Asn1, what: string): string {
  if (!isUniversal(node, Tag.UTF8)) throw malformed(what);
  try {
    return strictUtf8.decode(primitiveBytes(node, what));
  } catch {
    throw malformed(what);
  }
}

/** IA5String content (for an IMPLICIT-tagged one, pass the node regardless of its tag). */
export function readIa5Content(node: Asn1, what: string): string {
  const bytes = primitiveBytes(node, what);
  for (const byte of bytes) if (byte > 0x7f) throw malformed(what);
  return bytes.toString('latin1');
}

/** Any DirectoryString-like text attribute, as found in subject names (RFC 5280 §4.1.2.4). */
export function readDirectoryString(node: Asn1, what: string): string {
  if (node.tagClass !== TagClass.UNIVERSAL) throw malformed(what);
  switch (node.type) {
    case Tag.UTF8:
      return readUtf8(node, what);
    case Tag.PRINTABLESTRING:
    case Tag.IA5STRING:
      return readIa5Content(node, what);
    case Tag.BMPSTRING: {
      const bytes = primitiveBytes(node, what);
      if (bytes.length % 2 !== 0) throw malformed(what);
      return Buffer.from(bytes).swap16().toString('utf16le');
    }
    default:
      throw malformed(what);
  }
}
