// Channel bindings (RFC 5056) for SCRAM-PLUS: tls-exporter (RFC 9266) and tls-server-end-point
// (RFC 5929 §4), and their XEP-0440 advertisement. The stream layer hands in what it reads from
// its TLS socket; nothing here touches a socket.

import { createHash } from 'node:crypto';
import { CHANNEL_BINDING_TYPES, type ChannelBindingType, type ChannelBindings } from './types.js';
import { pssHashOid, signatureAlgorithm } from './x509.js';

/** XEP-0440 stream feature namespace: <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>. */
export const NS_SASL_CHANNEL_BINDING = 'urn:xmpp:sasl-cb:0';

/** RFC 9266 §2: label and length of the tls-exporter binding; the context is empty. */
export const TLS_EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
export const TLS_EXPORTER_LENGTH = 32;

/** What the stream layer knows about its TLS connection. A node TLSSocket provides all of it. */
export interface TlsConnectionInfo {
  /** `socket.getProtocol()`, e.g. 'TLSv1.3' */
  protocol: string | null | undefined;
  /** `socket.exportKeyingMaterial.bind(socket)` */
  exportKeyingMaterial?: (length: number, label: string, context: Buffer) => Buffer;
  /** DER of the server's own certificate: `socket.getX509Certificate()?.raw` on the server side. */
  serverCertificate?: Buffer;
}

const HASH_BY_SIGNATURE_OID: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};

const HASH_BY_DIGEST_OID: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';

/**
 * tls-server-end-point (RFC 5929 §4.1): the hash of the server certificate with the hash of its
 * signature algorithm, SHA-256 when that is MD5 or SHA-1. Undefined for certificates whose
 * signature uses no single hash (Ed25519, Ed448): RFC 5929 leaves those undefined.
 */
export function tlsServerEndPoint(certificateDer: Buffer): Buffer | undefined {
  const algorithm = signatureAlgorithm(certificateDer);
  if (!algorithm) return undefined;
  let hash: string | undefined;
  if (algorithm.oid === OID_RSASSA_PSS) {
    const digestOid = algorithm.parameters ? pssHashOid(algorithm.parameters) : undefined;
    hash = digestOid === undefined ? undefined : HASH_BY_DIGEST_OID[digestOid];
  } else {
    hash = HASH_BY_SIGNATURE_OID[algorithm.oid];
  }
  if (hash === undefined) return undefined;
  if (hash === 'md5' || hash === 'sha1') hash = 'sha256';
  return createHash(hash).update(certificateDer).digest();
}

/**
 * The channel bindings available on a TLS connection.
 * tls-exporter only on TLS 1.3: RFC 9266 §3 forbids it on TLS 1.2 without the extended master
 * secret, which node does not let us confirm.
 */
export function channelBindingsForTls(tls: TlsConnectionInfo): ChannelBindings {
  const bindings: ChannelBindings = {};
  if (tls.protocol === 'TLSv1.3' && tls.exportKeyingMaterial) {
    bindings['tls-exporter'] = tls.exportKeyingMaterial(TLS_EXPORTER_LENGTH, TLS_EXPORTER_LABEL, Buffer.alloc(0));
  }
  if (tls.serverCertificate) {
    const endPoint = tlsServerEndPoint(tls.serverCertificate);
    if (endPoint) bindings['tls-server-end-point'] = endPoint;
  }
  return bindings;
}

/**
 * XEP-0440: the channel-binding types to advertise in <sasl-channel-binding/>, strongest first
 * (XEP-0440 §4 prefers tls-exporter). With no argument, every type this package supports.
 */
export function channelBindingAdvertisement(available?: ChannelBindings): ChannelBindingType[] {
  return CHANNEL_BINDING_TYPES.filter((type) => available === undefined || available[type] !== undefined);
}

export function isChannelBindingType(name: string): name is ChannelBindingType {
  return (CHANNEL_BINDING_TYPES as readonly string[]).includes(name);
}

/** SCRAM server-error values (RFC 5802 §7) for a channel-binding negotiation that failed. */
export const UNSUPPORTED_CHANNEL_BINDING_TYPE = 'unsupported-channel-binding-type';
export const SERVER_DOES_SUPPORT_CHANNEL_BINDING = 'server-does-support-channel-binding';

/**
 * A failure decided from the gs2 header alone (RFC 5802 §6, RFC 9266), before any proof is
 * checked: it guesses nothing, so brute-force accounting must not count it.
 */
export function isChannelBindingNegotiationFailure(step: { readonly text?: string }): boolean {
  return step.text === UNSUPPORTED_CHANNEL_BINDING_TYPE || step.text === SERVER_DOES_SUPPORT_CHANNEL_BINDING;
}
