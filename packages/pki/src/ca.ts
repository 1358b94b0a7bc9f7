/**
 * The cluster certificate authority and the certificates it issues:
 * - service-channel certificates for gateways, services and admins (role and permissions in
 *   subjectAltName URIs, see authorisation.ts), and
 * - XMPP domain certificates for the client- and server-facing listeners, issued by the CA or
 *   self-signed.
 */
import { X509Certificate, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { permissionUri, roleUri, type Role, type ServicePermission } from './authorisation.js';
import { decodeDer, primitiveBytes } from './der.js';
import { PkiError } from './errors.js';
import { generateKey, privateKeyPem, requireKeyType, signerFor, type KeyType } from './keys.js';
import { requireCommonName, requireDnsName, requireIpAddress, unicodeDnsName } from './names.js';
import { KeyUsage, OID, buildCertificate, keyIdentifierOf, readCertificate, srvName, xmppAddrName, type GeneralName } from './x509.js';

export interface CertificateAuthority {
  certPem: string;
  keyPem: string;
}

export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

export const DEFAULT_CA_COMMON_NAME = 'Ambrosia cluster CA';
export const DEFAULT_CA_VALIDITY_DAYS = 3650;
export const DEFAULT_CERTIFICATE_VALIDITY_DAYS = 365;
/** Longer than any sensible CA; mostly catches unit mistakes (seconds passed as days). */
export const MAX_VALIDITY_DAYS = 36_500;
/**
 * Certificates start this long before they are made, so a peer whose clock runs a little
 * behind the issuer's does not reject a certificate issued a moment ago as "not yet valid".
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;

interface Validity {
  validityDays?: number | undefined;
  /** Start of validity; defaults to now minus CLOCK_SKEW_ALLOWANCE_MS. Lets tests make expired certificates. */
  notBefore?: Date | undefined;
}

function validityPeriod(options: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  const days = options.validityDays ?? defaultDays;
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > MAX_VALIDITY_DAYS) {
    throw new PkiError('PKI_INVALID_ARGUMENT', `validityDays must be a number in (0, ${MAX_VALIDITY_DAYS}], got ${String(days)}`);
  }
  if (options.notBefore !== undefined && !(options.notBefore instanceof Date && Number.isFinite(options.notBefore.getTime()))) {
    throw new PkiError('PKI_INVALID_ARGUMENT', 'notBefore must be a valid Date');
  }
  const now = Date.now();
  const notBefore = options.notBefore ?? new Date(now - CLOCK_SKEW_ALLOWANCE_MS);
  const notAfter = new Date((options.notBefore?.getTime() ?? now) + days * DAY_MS);
  return { notBefore, notAfter };
}

export interface CreateCAOptions extends Validity {
  commonName?: string;
  keyType?: KeyType;
}

/** A new self-signed root: CA:TRUE with pathLen 0, so it can issue only end-entity certificates. */
export async function createCA(opts: CreateCAOptions = {}): Promise<CertificateAuthority> {
  const commonName = requireCommonName(opts.commonName ?? DEFAULT_CA_COMMON_NAME, 'commonName');
  const validity = validityPeriod(opts, DEFAULT_CA_VALIDITY_DAYS);
  const key = await generateKey(requireKeyType(opts.keyType), 'ca');
  const { pem } = buildCertificate({
    subjectCommonName: commonName,
    subjectPublicKey: key.publicKey,
    signer: signerFor(key.privateKey),
    ...validity,
    isCertificateAuthority: true,
    keyUsage: [KeyUsage.digitalSignature, KeyUsage.keyCertSign, KeyUsage.cRLSign],
  });
  return { certPem: pem, keyPem: privateKeyPem(key.privateKey) };
}

interface OpenedCA {
  certificate: X509Certificate;
  privateKey: KeyObject;
  subjectNameDer: Buffer;
  keyIdentifier: Buffer;
}

/** Parses the CA and checks that it is one and that certificate and key belong together. */
export function openCA(ca: CertificateAuthority): OpenedCA {
  let certificate: X509Certificate;
  let privateKey: KeyObject;
  try {
    certificate = new X509Certificate(ca.certPem);
    privateKey = createPrivateKey(ca.keyPem);
  } catch (cause) {
    throw new PkiError('PKI_INVALID_CA', 'the CA certificate or key cannot be parsed', { cause });
  }
  if (!certificate.ca) throw new PkiError('PKI_INVALID_CA', 'the CA certificate does not have basicConstraints CA:TRUE');
  if (!certificate.checkPrivateKey(privateKey)) throw new PkiError('PKI_INVALID_CA', 'the CA key does not match the CA certificate');
  const parts = readCertificate(certificate.raw);
  const keyUsage = parts.extensions.get(OID.keyUsage);
  if (keyUsage !== undefined && !canSignCertificates(keyUsage.value)) {
    throw new PkiError('PKI_INVALID_CA', 'the CA certificate\'s keyUsage does not include keyCertSign');
  }
  const subjectKeyIdentifier = parts.extensions.get(OID.subjectKeyIdentifier);
  const keyIdentifier =
    subjectKeyIdentifier !== undefined
      ? primitiveBytes(decodeDer(subjectKeyIdentifier.value, 'subjectKeyIdentifier'), 'subjectKeyIdentifier')
      : keyIdentifierOf(parts.subjectPublicKeyInfoDer);
  signerFor(privateKey); // rejects key types and sizes we do not sign with
  return { certificate, privateKey, subjectNameDer: parts.subjectNameDer, keyIdentifier };
}

/** keyUsage is a BIT STRING (RFC 5280 §4.2.1.3); after the unused-bits byte, bit 5 is keyCertSign. */
function canSignCertificates(keyUsageDer: Buffer): boolean {
  const bits = primitiveBytes(decodeDer(keyUsageDer, 'keyUsage'), 'keyUsage');
  return ((bits[1] ?? 0) & (0x80 >> KeyUsage.keyCertSign)) !== 0;
}

function checkWithinCA(ca: OpenedCA, validity: { notBefore: Date; notAfter: Date }, now = Date.now()): void {
  const caNotAfter = new Date(ca.certificate.validTo).getTime();
  if (caNotAfter <= now) throw new PkiError('PKI_CA_VALIDITY', `the CA certificate expired on ${ca.certificate.validTo}`);
  if (validity.notAfter.getTime() > caNotAfter) {
    throw new PkiError('PKI_CA_VALIDITY', `the certificate would outlive the CA (valid to ${ca.certificate.validTo}); ask for fewer validityDays or renew the CA`);
  }
}

/**
 * Extended key usage per role (RFC 5280 §4.2.1.12): a gateway serves the service channel and
 * may also dial other gateways; services and admins only ever connect to gateways, so their
 * certificates cannot be used to impersonate a gateway even if the role check were skipped.
 */
const ROLE_EXTENDED_KEY_USAGE: Record<Role, string[]> = {
  gateway: [OID.serverAuth, OID.clientAuth],
  service: [OID.clientAuth],
  admin: [OID.clientAuth],
};

function leafKeyUsage(keyType: KeyType): number[] {
  // keyEncipherment only matters for RSA key transport in TLS 1.2 and earlier; harmless otherwise.
  return keyType === 'rsa' ? [KeyUsage.digitalSignature, KeyUsage.keyEncipherment] : [KeyUsage.digitalSignature];
}

export interface IssueRequest extends Validity {
  role: Role;
  commonName: string;
  /** Host names the peer is reached at (gateways): dNSName SANs, checked by TLS clients. */
  dnsNames?: string[];
  /** IP addresses the peer is reached at (gateways): iPAddress SANs. */
  ipAddresses?: string[];
  /** `domain/type` pairs a service may register; only for role `service`. */
  permissions?: ServicePermission[];
  keyType?: KeyType;
}

/** A bound on what one certificate may carry; far more than any deployment needs. */
export const MAX_NAMES_PER_CERTIFICATE = 1000;

/** A service-channel certificate for a gateway, a service or an admin, signed by the cluster CA. */
export async function issueCertificate(ca: CertificateAuthority, req: IssueRequest): Promise<CertificateAndKey> {
  if (!ROLE_EXTENDED_KEY_USAGE[req.role]) throw new PkiError('PKI_INVALID_ARGUMENT', `role must be gateway, service or admin, got ${JSON.stringify(req.role)}`);
  const commonName = requireCommonName(req.commonName, 'commonName');
  const permissions = req.permissions ?? [];
  if (permissions.length > 0 && req.role !== 'service') {
    throw new PkiError('PKI_INVALID_ARGUMENT', `only service certificates carry permissions, not ${req.role} certificates`);
  }
  const names: GeneralName[] = [{ kind: 'uri', value: roleUri(req.role) }];
  const uris = new Set<string>();
  for (const permission of permissions) uris.add(permissionUri(permission));
  for (const uri of uris) names.push({ kind: 'uri', value: uri });
  for (const dnsName of new Set((req.dnsNames ?? []).map((name) => requireDnsName(name, 'dnsNames')))) names.push({ kind: 'dns', value: dnsName });
  for (const ip of req.ipAddresses ?? []) names.push({ kind: 'ip', bytes: requireIpAddress(ip, 'ipAddresses') });
  if (names.length > MAX_NAMES_PER_CERTIFICATE) throw new PkiError('PKI_INVALID_ARGUMENT', `at most ${MAX_NAMES_PER_CERTIFICATE} names per certificate`);

  return issueLeaf(ca, req, commonName, names, ROLE_EXTENDED_KEY_USAGE[req.role]);
}

/** A fresh end-entity key and certificate signed by the cluster CA, within the CA's validity. */
async function issueLeaf(
  ca: CertificateAuthority,
  opts: Validity & { keyType?: KeyType },
  commonName: string,
  names: GeneralName[],
  extendedKeyUsage: string[],
): Promise<CertificateAndKey> {
  const opened = openCA(ca);
  const validity = validityPeriod(opts, DEFAULT_CERTIFICATE_VALIDITY_DAYS);
  checkWithinCA(opened, validity);
  const keyType = requireKeyType(opts.keyType);
  const key = await generateKey(keyType, 'leaf');
  const { pem } = buildCertificate({
    subjectCommonName: commonName,
    subjectPublicKey: key.publicKey,
    issuerNameDer: opened.subjectNameDer,
    issuerKeyIdentifier: opened.keyIdentifier,
    signer: signerFor(opened.privateKey),
    ...validity,
    isCertificateAuthority: false,
    keyUsage: leafKeyUsage(keyType),
    extendedKeyUsage,
    subjectAltNames: names,
  });
  return { certPem: pem, keyPem: privateKeyPem(key.privateKey) };
}

export interface DomainCertificateOptions extends Validity {
  /** XMPP domains (DNS names, IDNs allowed) or IP literals the certificate is for. */
  domains: string[];
  keyType?: KeyType;
}

/**
 * Names for an XMPP server certificate, RFC 6120 §13.7.1.2: DNS-ID (required support), SRV-IDs
 * `_xmpp-client.<domain>` and `_xmpp-server.<domain>` (RFC 4985; SHOULD), and XmppAddr (§13.7.1.4,
 * for older peers and for SASL EXTERNAL on s2s, XEP-0178). DNS-ID and SRV-ID use A-labels,
 * XmppAddr the domainpart as a JID is written (U-labels). An IP literal gets iPAddress + XmppAddr.
 */
function xmppDomainNames(domains: string[]): { commonName: string; names: GeneralName[] } {
  if (!Array.isArray(domains) || domains.length === 0) throw new PkiError('PKI_INVALID_ARGUMENT', 'at least one domain is required');
  if (domains.length * 4 > MAX_NAMES_PER_CERTIFICATE) throw new PkiError('PKI_INVALID_ARGUMENT', `at most ${MAX_NAMES_PER_CERTIFICATE / 4} domains per certificate`);
  const names: GeneralName[] = [];
  const seen = new Set<string>();
  let commonName: string | undefined;
  for (const domain of domains) {
    if (typeof domain === 'string' && isIP(domain) !== 0) {
      const bytes = requireIpAddress(domain, 'domains');
      if (seen.has(domain)) continue;
      seen.add(domain);
      names.push({ kind: 'ip', bytes }, xmppAddrName(domain));
      commonName ??= domain;
      continue;
    }
    const ascii = requireDnsName(domain, 'domains');
    if (seen.has(ascii)) continue;
    seen.add(ascii);
    names.push({ kind: 'dns', value: ascii }, srvName(`_xmpp-client.${ascii}`), srvName(`_xmpp-server.${ascii}`), xmppAddrName(unicodeDnsName(ascii)));
    // The CN is informational only (RFC 6125 §6.4.4 prefers SANs); it must fit ub-common-name.
    commonName ??= ascii.length <= 64 ? ascii : 'XMPP service';
  }
  return { commonName: commonName ?? 'XMPP service', names };
}

/** serverAuth for c2s/s2s listeners, clientAuth for outbound s2s presenting the same certificate. */
const DOMAIN_EXTENDED_KEY_USAGE = [OID.serverAuth, OID.clientAuth];

/**
 * A self-signed certificate for XMPP domains: what a gateway uses when no certificate is
 * configured and what `ambrosia dev` hands out. Clients must trust this very certificate.
 */
export async function selfSignedCertificate(opts: DomainCertificateOptions): Promise<CertificateAndKey> {
  const { commonName, names } = xmppDomainNames(opts.domains);
  const validity = validityPeriod(opts, DEFAULT_CERTIFICATE_VALIDITY_DAYS);
  const keyType = requireKeyType(opts.keyType);
  const key = await generateKey(keyType, 'leaf');
  const { pem } = buildCertificate({
    subjectCommonName: commonName,
    subjectPublicKey: key.publicKey,
    signer: signerFor(key.privateKey),
    ...validity,
    isCertificateAuthority: false,
    // An end-entity certificate: no keyCertSign (RFC 5280 §4.2.1.3 reserves it for cA:TRUE).
    // OpenSSL, like other stacks, accepts such a certificate when it is itself the trust anchor.
    keyUsage: leafKeyUsage(keyType),
    extendedKeyUsage: DOMAIN_EXTENDED_KEY_USAGE,
    subjectAltNames: names,
  });
  return { certPem: pem, keyPem: privateKeyPem(key.privateKey) };
}

/** An XMPP domain certificate issued by the cluster CA: clients trust the CA once for every domain. */
export async function issueDomainCertificate(ca: CertificateAuthority, opts: DomainCertificateOptions): Promise<CertificateAndKey> {
  const { commonName, names } = xmppDomainNames(opts.domains);
  return issueLeaf(ca, opts, commonName, names, DOMAIN_EXTENDED_KEY_USAGE);
}

/** The public key of a PEM certificate and of a PEM private key are the same key. */
export function keyMatchesCertificate(certPem: string, keyPem: string): boolean {
  try {
    const fromCert = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
    const fromKey = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' });
    return fromCert.equals(fromKey);
  } catch {
    return false;
  }
}
