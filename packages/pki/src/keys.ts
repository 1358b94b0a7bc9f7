/**
 * Keys come from node:crypto (native, off the main thread); node-forge's pure-JS RSA key
 * generation would block the event loop for a noticeable time. Certificates are signed with
 * node:crypto too, which is what makes ECDSA certificates possible at all: forge can encode
 * them but has no ECDSA signer.
 */
import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { objectIdentifier, nullValue, sequence, type Asn1 } from './der.js';
import { PkiError } from './errors.js';

export type KeyType = 'ec' | 'rsa';

/**
 * ECDSA P-256 by default. Measured (bench/handshake-bench.mjs, figures in README.md): against
 * RSA-2048 a gateway spends about 35 % less CPU per client-facing TLS 1.3 handshake and about
 * 15 % less per mutual service-channel handshake (Node's per-connection costs dilute the 12x
 * cheaper signature), key generation takes well under a millisecond instead of ~160 ms, and
 * certificates are half the size.
 */
export const DEFAULT_KEY_TYPE: KeyType = 'ec';

const generateKeyPairAsync = promisify(generateKeyPair);

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/**
 * P-256 for every EC key (~128-bit security). RSA: 2048 bits for leaf certificates, 3072 for a
 * CA, whose key lives for years (NIST SP 800-57 Part 1 rev. 5, table 2: 2048 bits until 2030).
 */
export async function generateKey(type: KeyType, purpose: 'ca' | 'leaf'): Promise<KeyPair> {
  if (type === 'ec') return generateKeyPairAsync('ec', { namedCurve: 'prime256v1' });
  if (type === 'rsa') return generateKeyPairAsync('rsa', { modulusLength: purpose === 'ca' ? 3072 : 2048, publicExponent: 0x10001 });
  throw new PkiError('PKI_INVALID_ARGUMENT', `keyType must be 'ec' or 'rsa', got ${JSON.stringify(type)}`);
}

export function requireKeyType(type: KeyType | undefined): KeyType {
  if (type === undefined) return DEFAULT_KEY_TYPE;
  if (type !== 'ec' && type !== 'rsa') throw new PkiError('PKI_INVALID_ARGUMENT', `keyType must be 'ec' or 'rsa', got ${JSON.stringify(type)}`);
  return type;
}

export function privateKeyPem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

export function subjectPublicKeyInfoDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA_WITH_SHA384 = '1.2.840.10045.4.3.3';
const OID_SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

export interface Signer {
  /** The AlgorithmIdentifier written in both TBSCertificate.signature and Certificate.signatureAlgorithm. */
  algorithm(): Asn1;
  sign(data: Uint8Array): Buffer;
}

/**
 * How a CA key signs: ECDSA with the hash matching the curve (RFC 5758 §3.2, parameters
 * absent), RSA with PKCS#1 v1.5 and SHA-256 (RFC 4055 §5, parameters NULL). Only keys this
 * package can create or an operator is likely to bring (P-256, P-384, RSA >= 2048) are accepted.
 */
export function signerFor(privateKey: KeyObject): Signer {
  const details = privateKey.asymmetricKeyDetails ?? {};
  if (privateKey.asymmetricKeyType === 'ec') {
    const curve = details.namedCurve;
    const digest = curve === 'prime256v1' ? 'sha256' : curve === 'secp384r1' ? 'sha384' : undefined;
    if (digest === undefined) throw new PkiError('PKI_INVALID_CA', `unsupported EC curve ${String(curve)}; use P-256 or P-384`);
    const oid = digest === 'sha256' ? OID_ECDSA_WITH_SHA256 : OID_ECDSA_WITH_SHA384;
    // node:crypto emits the DER ECDSA-Sig-Value X.509 expects (dsaEncoding defaults to 'der').
    return { algorithm: () => sequence(objectIdentifier(oid)), sign: (data) => sign(digest, data, privateKey) };
  }
  if (privateKey.asymmetricKeyType === 'rsa') {
    if ((details.modulusLength ?? 0) < 2048) throw new PkiError('PKI_INVALID_CA', 'RSA keys shorter than 2048 bits are not accepted');
    return {
      algorithm: () => sequence(objectIdentifier(OID_SHA256_WITH_RSA), nullValue()),
      sign: (data) => sign('sha256', data, privateKey),
    };
  }
  throw new PkiError('PKI_INVALID_CA', `unsupported key type ${String(privateKey.asymmetricKeyType)}; use EC or RSA`);
}
