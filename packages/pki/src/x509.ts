/**
 * X.509 v3 certificates (RFC 5280) built and read with node-forge's ASN.1 module. One
 * encoder serves both key types: forge's own certificate API only handles RSA keys.
 */
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import {
  Tag,
  TagClass,
  bitString,
  booleanTrue,
  childrenOf,
  decodeDer,
  encodeDer,
  explicitTag,
  generalizedTime,
  implicitConstructed,
  implicitPrimitive,
  isContext,
  isUniversal,
  objectIdentifier,
  octetString,
  primitiveBytes,
  readDirectoryString,
  readIa5Content,
  readObjectIdentifier,
  sequence,
  sequenceChildren,
  set,
  smallInteger,
  unsignedInteger,
  utcTime,
  utf8String,
  ia5String,
  type Asn1,
} from './der.js';
import { PkiError } from './errors.js';
import { subjectPublicKeyInfoDer, type Signer } from './keys.js';

export const OID = {
  commonName: '2.5.4.3',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  /** RFC 6120 §13.7.1.4. */
  xmppAddr: '1.3.6.1.5.5.7.8.5',
  /** RFC 4985 §2. */
  srvName: '1.3.6.1.5.5.7.8.7',
} as const;

/** RFC 5280 §4.2.1.3 bit positions. */
export const KeyUsage = { digitalSignature: 0, keyEncipherment: 2, keyCertSign: 5, cRLSign: 6 } as const;

/** GeneralName (RFC 5280 §4.2.1.6) in the forms this package writes and reads. */
export type GeneralName =
  | { kind: 'dns'; value: string }
  | { kind: 'uri'; value: string }
  | { kind: 'ip'; bytes: Buffer }
  | { kind: 'email'; value: string }
  /** otherName: `value` is the element inside the `[0] EXPLICIT` wrapper. */
  | { kind: 'other'; typeId: string; value: Asn1 }
  | { kind: 'unsupported'; tag: number };

export interface CertificateSpec {
  subjectCommonName: string;
  subjectPublicKey: KeyObject;
  /** The issuer's Name, DER-encoded exactly as in its certificate's subject; undefined when self-signed. */
  issuerNameDer?: Buffer;
  /** The issuer's subjectKeyIdentifier, used as authorityKeyIdentifier (RFC 5280 §4.2.1.1). */
  issuerKeyIdentifier?: Buffer;
  signer: Signer;
  notBefore: Date;
  notAfter: Date;
  isCertificateAuthority: boolean;
  keyUsage: number[];
  extendedKeyUsage?: string[];
  subjectAltNames?: GeneralName[];
}

function nameWithCommonName(commonName: string): Asn1 {
  return sequence(set(sequence(objectIdentifier(OID.commonName), utf8String(commonName))));
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always whole seconds in UTC. */
function timeOf(date: Date): Asn1 {
  const year = date.getUTCFullYear();
  if (!Number.isFinite(date.getTime()) || year < 1950 || year > 9999) {
    throw new PkiError('PKI_INVALID_ARGUMENT', `certificate validity date out of range: ${String(date)}`);
  }
  const two = (n: number) => String(n).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050 ? utcTime(`${two(year % 100)}${rest}`) : generalizedTime(`${year}${rest}`);
}

/** RFC 5280 §4.2.1.3: named bits, DER drops trailing zero bits (X.690 §11.2.2). */
function keyUsageBits(bits: number[]): Asn1 {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return bitString(bytes, 7 - (highest & 7));
}

function generalName(name: GeneralName): Asn1 {
  switch (name.kind) {
    case 'email':
      return implicitPrimitive(1, name.value);
    case 'dns':
      return implicitPrimitive(2, name.value);
    case 'uri':
      return implicitPrimitive(6, name.value);
    case 'ip':
      return implicitPrimitive(7, name.bytes);
    case 'other':
      return implicitConstructed(0, [objectIdentifier(name.typeId), explicitTag(0, name.value)]);
    case 'unsupported':
      throw new PkiError('PKI_INVALID_ARGUMENT', 'cannot encode an unsupported GeneralName');
  }
}

export function xmppAddrName(jid: string): GeneralName {
  return { kind: 'other', typeId: OID.xmppAddr, value: utf8String(jid) };
}

export function srvName(name: string): GeneralName {
  return { kind: 'other', typeId: OID.srvName, value: ia5String(name) };
}

function extension(oid: string, critical: boolean, value: Asn1): Asn1 {
  const parts = [objectIdentifier(oid)];
  // DER omits a BOOLEAN equal to its DEFAULT FALSE (X.690 §11.5).
  if (critical) parts.push(booleanTrue());
  parts.push(octetString(encodeDer(value)));
  return sequence(...parts);
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING contents. */
export function keyIdentifierOf(spkiDer: Buffer): Buffer {
  const [, subjectPublicKey] = sequenceChildren(decodeDer(spkiDer, 'SubjectPublicKeyInfo'), 'SubjectPublicKeyInfo');
  if (subjectPublicKey === undefined || !isUniversal(subjectPublicKey, Tag.BITSTRING)) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'malformed SubjectPublicKeyInfo');
  return createHash('sha1').update(primitiveBytes(subjectPublicKey, 'subjectPublicKey').subarray(1)).digest();
}

/** 16 random bytes, positive and without a leading zero byte, so always 16 bytes long (RFC 5280 §4.1.2.2: at most 20). */
function randomSerialNumber(): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x40;
  return serial;
}

export function buildCertificate(spec: CertificateSpec): { der: Buffer; pem: string } {
  if (!(spec.notBefore.getTime() < spec.notAfter.getTime())) {
    throw new PkiError('PKI_INVALID_ARGUMENT', 'certificate notBefore must be earlier than notAfter');
  }
  const spkiDer = subjectPublicKeyInfoDer(spec.subjectPublicKey);
  const subjectKeyIdentifier = keyIdentifierOf(spkiDer);
  const subjectName = nameWithCommonName(spec.subjectCommonName);
  const issuerName = spec.issuerNameDer ? decodeDer(spec.issuerNameDer, 'issuer name') : subjectName;
  const authorityKeyIdentifier = spec.issuerKeyIdentifier ?? subjectKeyIdentifier;

  const extensions: Asn1[] = [
    extension(OID.basicConstraints, true, spec.isCertificateAuthority ? sequence(booleanTrue(), smallInteger(0)) : sequence()),
    extension(OID.keyUsage, true, keyUsageBits(spec.keyUsage)),
  ];
  if (spec.extendedKeyUsage && spec.extendedKeyUsage.length > 0) {
    extensions.push(extension(OID.extKeyUsage, false, sequence(...spec.extendedKeyUsage.map(objectIdentifier))));
  }
  extensions.push(extension(OID.subjectKeyIdentifier, false, octetString(subjectKeyIdentifier)));
  extensions.push(extension(OID.authorityKeyIdentifier, false, sequence(implicitPrimitive(0, authorityKeyIdentifier))));
  if (spec.subjectAltNames && spec.subjectAltNames.length > 0) {
    // Non-critical: every certificate here also has a non-empty subject (RFC 5280 §4.2.1.6).
    extensions.push(extension(OID.subjectAltName, false, sequence(...spec.subjectAltNames.map(generalName))));
  }

  const tbs = sequence(
    explicitTag(0, smallInteger(2)), // v3
    unsignedInteger(randomSerialNumber()),
    spec.signer.algorithm(),
    issuerName,
    sequence(timeOf(spec.notBefore), timeOf(spec.notAfter)),
    subjectName,
    decodeDer(spkiDer, 'SubjectPublicKeyInfo'),
    explicitTag(3, sequence(...extensions)),
  );
  const tbsDer = encodeDer(tbs);
  const signature = spec.signer.sign(tbsDer);
  const der = encodeDer(sequence(tbs, spec.signer.algorithm(), bitString(signature)));
  return { der, pem: derToPem(der) };
}

function derToPem(der: Buffer): string {
  const base64 = der.toString('base64').replace(/.{1,64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${base64}-----END CERTIFICATE-----\n`;
}

// ---- reading ----------------------------------------------------------------------------

export interface CertificateParts {
  serialNumber: Buffer;
  /** DER of the subject Name, byte for byte as found (issuers copy it into issued certificates). */
  subjectNameDer: Buffer;
  subjectCommonName: string | undefined;
  subjectPublicKeyInfoDer: Buffer;
  extensions: Map<string, { critical: boolean; value: Buffer }>;
}

/** Splits a certificate into the parts this package needs; throws PKI_MALFORMED_CERTIFICATE. */
export function readCertificate(der: Uint8Array): CertificateParts {
  return asMalformed(() => readCertificateUnchecked(der), 'certificate');
}

/** Whatever goes wrong while reading untrusted DER surfaces as one error code. */
function asMalformed<T>(read: () => T, what: string): T {
  try {
    return read();
  } catch (cause) {
    if (cause instanceof PkiError) throw cause;
    throw new PkiError('PKI_MALFORMED_CERTIFICATE', `malformed ${what}`, { cause });
  }
}

function readCertificateUnchecked(der: Uint8Array): CertificateParts {
  const [tbs] = sequenceChildren(decodeDer(der, 'certificate'), 'certificate');
  if (tbs === undefined) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'certificate without TBSCertificate');
  const fields = sequenceChildren(tbs, 'TBSCertificate');
  let index = 0;
  if (fields[0] !== undefined && isContext(fields[0], 0)) index++; // version
  const [serial, , , , subject, spki] = fields.slice(index);
  if (serial === undefined || subject === undefined || spki === undefined || !isUniversal(serial, Tag.INTEGER)) {
    throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'TBSCertificate is missing fields');
  }
  const extensions = new Map<string, { critical: boolean; value: Buffer }>();
  for (const field of fields.slice(index + 6)) {
    if (!isContext(field, 3)) continue; // issuerUniqueID [1], subjectUniqueID [2]
    const [list] = childrenOf(field, 'extensions');
    for (const entry of sequenceChildren(list ?? sequence(), 'extensions')) {
      const parts = sequenceChildren(entry, 'extension');
      const oid = readObjectIdentifier(parts[0] ?? sequence(), 'extension id');
      const hasCritical = parts.length === 3;
      const critical = hasCritical && primitiveBytes(parts[1] ?? sequence(), 'critical')[0] !== 0;
      const valueNode = parts[hasCritical ? 2 : 1];
      if (valueNode === undefined || !isUniversal(valueNode, Tag.OCTETSTRING)) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'malformed extension');
      // RFC 5280 §4.2: "A certificate MUST NOT include more than one instance of a particular extension."
      if (extensions.has(oid)) throw new PkiError('PKI_MALFORMED_CERTIFICATE', `duplicate extension ${oid}`);
      extensions.set(oid, { critical, value: primitiveBytes(valueNode, 'extension value') });
    }
  }
  return {
    serialNumber: primitiveBytes(serial, 'serial number'),
    subjectNameDer: encodeDer(subject),
    subjectCommonName: commonNameOf(subject),
    subjectPublicKeyInfoDer: encodeDer(spki),
    extensions,
  };
}

/**
 * The most specific (last) commonName attribute of a Name (RFC 6125 §2.3.1 calls earlier ones
 * less specific), read structurally: a DN string with escaped commas cannot fool it.
 */
function commonNameOf(name: Asn1): string | undefined {
  let commonName: string | undefined;
  for (const rdn of sequenceChildren(name, 'Name')) {
    if (!isUniversal(rdn, Tag.SET)) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'malformed RelativeDistinguishedName');
    for (const attribute of childrenOf(rdn, 'RelativeDistinguishedName')) {
      const [type, value] = sequenceChildren(attribute, 'AttributeTypeAndValue');
      if (type === undefined || value === undefined) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'malformed AttributeTypeAndValue');
      if (readObjectIdentifier(type, 'attribute type') === OID.commonName) commonName = readDirectoryString(value, 'commonName');
    }
  }
  return commonName;
}

/** The subjectAltName entries, in certificate order; empty when the extension is absent. */
export function readSubjectAltNames(parts: CertificateParts): GeneralName[] {
  return asMalformed(() => readSubjectAltNamesUnchecked(parts), 'subjectAltName');
}

function readSubjectAltNamesUnchecked(parts: CertificateParts): GeneralName[] {
  const extension = parts.extensions.get(OID.subjectAltName);
  if (extension === undefined) return [];
  const names: GeneralName[] = [];
  for (const node of sequenceChildren(decodeDer(extension.value, 'subjectAltName'), 'subjectAltName')) {
    if (node.tagClass !== TagClass.CONTEXT_SPECIFIC) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'GeneralName without a context tag');
    switch (node.type as number) {
      case 0: {
        const [typeId, wrapped] = childrenOf(node, 'otherName');
        if (typeId === undefined || wrapped === undefined || !isContext(wrapped, 0)) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'malformed otherName');
        const [value] = childrenOf(wrapped, 'otherName value');
        if (value === undefined) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'malformed otherName');
        names.push({ kind: 'other', typeId: readObjectIdentifier(typeId, 'otherName type-id'), value });
        break;
      }
      case 1:
        names.push({ kind: 'email', value: readIa5Content(node, 'rfc822Name') });
        break;
      case 2:
        names.push({ kind: 'dns', value: readIa5Content(node, 'dNSName') });
        break;
      case 6:
        names.push({ kind: 'uri', value: readIa5Content(node, 'uniformResourceIdentifier') });
        break;
      case 7:
        names.push({ kind: 'ip', bytes: primitiveBytes(node, 'iPAddress') });
        break;
      default:
        names.push({ kind: 'unsupported', tag: node.type });
    }
  }
  return names;
}

