// What a peer's certificate allows on the channel (docs/service-protocol.md §2.2). The gateway
// reads the certificate (packages/pki: `authorisedChannelPeer`) and hands the result to the
// acceptor; this module only applies it. The shape matches pki's PeerAuthorisation.
import type { Registration, RegistrationRequest, ServiceType } from './messages.js';
import { SERVICE_TYPES } from './messages.js';

export type PeerRole = 'gateway' | 'service' | 'admin';

export interface ChannelPeer {
  role: PeerRole;
  /** `ambrosia:register:<domain>/<type>` URIs of the certificate; `*` matches every domain. */
  permissions: readonly { domain: string; type: string }[];
  /** For logs. */
  commonName?: string;
}

export const ANY_DOMAIN = '*';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const CANONICAL_DOMAIN = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** §13.3: lower-case LDH labels (IDNA A-labels), no trailing dot, at most 253 bytes. */
export function isCanonicalDomain(domain: string): boolean {
  return domain.length > 0 && domain.length <= 253 && CANONICAL_DOMAIN.test(domain);
}

export function isServiceType(type: string): type is ServiceType {
  return (SERVICE_TYPES as readonly string[]).includes(type);
}

/** Validates a registration's syntax; returns the typed registration or a reason. */
export function parseRegistration(request: RegistrationRequest): Registration | string {
  if (!isCanonicalDomain(request.domain)) return `"${request.domain}" is not a canonical domain (lower-case A-labels, no trailing dot)`;
  if (!isServiceType(request.type)) return `type must be one of ${SERVICE_TYPES.join(', ')}`;
  return { domain: request.domain, type: request.type };
}

/** §2.2: only the service role registers, and only what a register URI covers. */
export function mayRegister(peer: ChannelPeer, registration: Registration): boolean {
  if (peer.role !== 'service') return false;
  return peer.permissions.some((permission) => permission.type === registration.type && (permission.domain === ANY_DOMAIN || permission.domain === registration.domain));
}

export function registrationKey(registration: RegistrationRequest): string {
  return `${registration.domain}/${registration.type}`;
}
