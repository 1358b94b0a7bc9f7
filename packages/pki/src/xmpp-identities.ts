/**
 * The XMPP identities a certificate presents (RFC 6120 §13.7.1, RFC 6125), read structurally
 * from subjectAltName: for SASL EXTERNAL (XEP-0178) and s2s peer verification (XEP-0220).
 * Matching a reference identity against these is the caller's job; this only extracts them.
 */
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { Tag, isUniversal, readIa5Content, readUtf8 } from './der.js';
import { PkiError } from './errors.js';
import { formatIpAddress } from './names.js';
import { OID, readCertificate, readSubjectAltNames } from './x509.js';

export interface XmppIdentities {
  /** id-on-xmppAddr otherNames (RFC 6120 §13.7.1.4): JIDs, usually bare domains, as written (UTF-8). */
  xmppAddrs: string[];
  /** dNSName entries (DNS-IDs), as written: A-labels, possibly with a `*.` wildcard. */
  dnsNames: string[];
  /** id-on-dnsSRV otherNames (SRV-IDs, RFC 4985), e.g. `_xmpp-server.example.org`. */
  srvNames: string[];
  /** iPAddress entries in text form. */
  ipAddresses: string[];
  /** The subject's most specific commonName (a CN-ID: a last resort, RFC 6125 §6.4.4). */
  commonName: string | undefined;
}

/**
 * Throws PKI_MALFORMED_CERTIFICATE when the certificate itself is not DER. An individual
 * subjectAltName entry of the wrong shape is skipped, not fatal: publicly issued certificates
 * carry names this code has no use for, and one odd entry must not hide the others.
 */
export function readXmppIdentities(cert: PeerCertificate | X509Certificate | Uint8Array): XmppIdentities {
  const der = cert instanceof Uint8Array ? cert : (cert as { raw?: unknown }).raw;
  if (!(der instanceof Uint8Array) || der.length === 0) throw new PkiError('PKI_MALFORMED_CERTIFICATE', 'no certificate');
  const parts = readCertificate(der);
  const identities: XmppIdentities = { xmppAddrs: [], dnsNames: [], srvNames: [], ipAddresses: [], commonName: parts.subjectCommonName };
  for (const name of readSubjectAltNames(parts)) {
    try {
      if (name.kind === 'dns') identities.dnsNames.push(name.value);
      else if (name.kind === 'ip') {
        const text = formatIpAddress(name.bytes);
        if (text !== undefined) identities.ipAddresses.push(text);
      } else if (name.kind === 'other' && name.typeId === OID.xmppAddr) {
        identities.xmppAddrs.push(readUtf8(name.value, 'XmppAddr'));
      } else if (name.kind === 'other' && name.typeId === OID.srvName && isUniversal(name.value, Tag.IA5STRING)) {
        identities.srvNames.push(readIa5Content(name.value, 'SRVName'));
      }
    } catch {
      // A malformed entry (say, an XmppAddr that is not a UTF8String) is no identity at all.
    }
  }
  return identities;
}
