/**
 * What a service-channel certificate authorises, carried as subjectAltName URIs (README.md,
 * "Authorisation in certificates"):
 *
 *   ambrosia:role:gateway | ambrosia:role:service | ambrosia:role:admin     exactly one
 *   ambrosia:register:<domain>/<type>                                       services only
 *
 * <domain> is a canonical DNS name (lower-case A-labels) or `*` for every domain; <type> is
 * client, server or component. Reading fails closed: anything ambiguous or malformed in these
 * URIs yields no authorisation at all rather than a partial one.
 */
import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { PkiError } from './errors.js';
import { canonicalDnsName, requireDnsName } from './names.js';
import { readCertificate, readSubjectAltNames, type GeneralName } from './x509.js';

export type Role = 'gateway' | 'service' | 'admin';
export const ROLES: readonly Role[] = ['gateway', 'service', 'admin'];

export type RegistrationType = 'client' | 'server' | 'component';
export const REGISTRATION_TYPES: readonly RegistrationType[] = ['client', 'server', 'component'];

/** `domain` is a canonical DNS name, or `*` for any domain. */
export type ServicePermission = { domain: string; type: RegistrationType };

export const ANY_DOMAIN = '*';
export const ROLE_URI_PREFIX = 'ambrosia:role:';
export const REGISTER_URI_PREFIX = 'ambrosia:register:';

export interface PeerAuthorisation {
  role: Role;
  permissions: ServicePermission[];
  commonName: string;
  /** Upper-case hex, as `openssl x509 -serial` prints it: for logs and deny-lists. */
  serialNumber: string;
}

function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

function isRegistrationType(value: string): value is RegistrationType {
  return (REGISTRATION_TYPES as readonly string[]).includes(value);
}

export function roleUri(role: Role): string {
  return `${ROLE_URI_PREFIX}${role}`;
}

/** Validates and canonicalises a permission; throws PKI_INVALID_ARGUMENT. */
function canonicalPermission(permission: ServicePermission): ServicePermission {
  if (!isRegistrationType(permission?.type)) {
    throw new PkiError('PKI_INVALID_ARGUMENT', `permission type must be one of ${REGISTRATION_TYPES.join(', ')}, got ${JSON.stringify(permission?.type)}`);
  }
  const domain = permission.domain === ANY_DOMAIN ? ANY_DOMAIN : requireDnsName(permission.domain, 'permission domain');
  return { domain, type: permission.type };
}

export function permissionUri(permission: ServicePermission): string {
  const { domain, type } = canonicalPermission(permission);
  return `${REGISTER_URI_PREFIX}${domain}/${type}`;
}

function parsePermissionUri(uri: string): ServicePermission | undefined {
  const rest = uri.slice(REGISTER_URI_PREFIX.length);
  const slash = rest.lastIndexOf('/');
  if (slash <= 0) return undefined;
  const domain = rest.slice(0, slash);
  const type = rest.slice(slash + 1);
  if (!isRegistrationType(type)) return undefined;
  // Only the canonical spelling is accepted: a CA never writes any other.
  if (domain !== ANY_DOMAIN && canonicalDnsName(domain) !== domain) return undefined;
  return { domain, type };
}

/** The authorisation in a set of subjectAltNames; undefined when absent, ambiguous or malformed. */
function authorisationFromNames(names: GeneralName[]): { role: Role; permissions: ServicePermission[] } | undefined {
  const roles = new Set<Role>();
  const permissions: ServicePermission[] = [];
  const seen = new Set<string>();
  for (const name of names) {
    if (name.kind !== 'uri') continue;
    if (name.value.startsWith(ROLE_URI_PREFIX)) {
      const role = name.value.slice(ROLE_URI_PREFIX.length);
      if (!isRole(role)) return undefined;
      roles.add(role);
    } else if (name.value.startsWith(REGISTER_URI_PREFIX)) {
      const permission = parsePermissionUri(name.value);
      if (permission === undefined) return undefined;
      const key = `${permission.domain}/${permission.type}`;
      if (!seen.has(key)) {
        seen.add(key);
        permissions.push(permission);
      }
    }
    // Other ambrosia: URIs are reserved for later extensions and ignored here.
  }
  const [role, ...others] = roles;
  if (role === undefined || others.length > 0) return undefined;
  // Only a service registers routes; an admin or gateway certificate claiming to is malformed.
  if (permissions.length > 0 && role !== 'service') return undefined;
  return { role, permissions };
}

function rawDer(cert: PeerCertificate | X509Certificate): Buffer | undefined {
  const raw = (cert as { raw?: unknown } | undefined)?.raw;
  return Buffer.isBuffer(raw) && raw.length > 0 ? raw : undefined;
}

/**
 * The role and permissions a service-channel certificate grants, or undefined.
 *
 * This reads names only; it does not check who issued the certificate. Call it on a peer
 * certificate the TLS stack has verified against the cluster CA (`socket.authorized`), or use
 * `authorisedChannelPeer(socket)`, which checks that first.
 */
export function readPeerAuthorisation(cert: PeerCertificate | X509Certificate): PeerAuthorisation | undefined {
  const der = rawDer(cert);
  if (der === undefined) return undefined;
  try {
    const parts = readCertificate(der);
    const authorisation = authorisationFromNames(readSubjectAltNames(parts));
    if (authorisation === undefined) return undefined;
    return {
      ...authorisation,
      commonName: parts.subjectCommonName ?? '',
      serialNumber: parts.serialNumber.toString('hex').toUpperCase(),
    };
  } catch {
    return undefined;
  }
}

/**
 * Whether a peer may register `domain/type` (design: services register `domain/type` pairs).
 * Only the service role registers; `*` in a certificate matches every domain.
 */
export function mayRegister(auth: PeerAuthorisation | { role: Role; permissions: ServicePermission[] } | undefined, domain: string, type: string): boolean {
  if (auth === undefined || auth.role !== 'service' || !isRegistrationType(type)) return false;
  const canonical = canonicalDnsName(domain);
  if (canonical === undefined) return false;
  return auth.permissions.some((permission) => permission.type === type && (permission.domain === ANY_DOMAIN || permission.domain === canonical));
}
