// The key layout (docs/registry.md, "Key layout"). Every key starts with the configured prefix.
// Whatever a caller's identifier contains, its encoded form contains no "{", "}", ":" or "/",
// so it can neither open a hash tag nor be confused with a separator. Keys that one Lua script
// or MULTI touches together share a hash tag, so they live in one Redis Cluster slot.

import { RegistryError, type ServiceType } from '@ambrosia/registry';

/** Percent-encodes %, the characters with meaning in our keys, spaces and control characters. */
export function encodeKeyPart(part: string): string {
  return part.replace(/[%{}:/\s\u0000-\u001f\u007f]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

export function decodeKeyPart(encoded: string): string {
  return decodeURIComponent(encoded);
}

export interface KeyLayout {
  readonly prefix: string;
  /** Hash: every gateway's announcement, lease end, start time and incarnation (one slot). */
  readonly gateways: string;
  /** Hash: instanceId → registration of one domain/type. */
  service(domain: string, type: ServiceType): string;
  /** Set: "<type>|<encoded domain>" of every domain/type that may have instances. */
  readonly serviceIndex: string;
  /** Hash: resource → session of one bare JID. */
  sessions(bareJid: string): string;
  /** String: one XEP-0198 resumption record. */
  resumption(id: string): string;
  /** String: one see-other-host entry. */
  seeOtherHost(key: string): string;
  /** Sorted set (all scores 0): every see-other-host key, for paging in byte order. */
  readonly seeOtherHostIndex: string;
  /** Hash: user → credential record of one domain. Same slot as credentialIndex. */
  credentials(domain: string): string;
  /** Sorted set (all scores 0): the users of one domain, for paging in byte order. */
  credentialIndex(domain: string): string;
  /** String: a counter with a fixed window. */
  counter(key: string): string;
  /** Pub/sub channel for events and commands. */
  readonly events: string;
}

export function keyLayout(prefix: string): KeyLayout {
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(prefix)) {
    throw new RegistryError('REGISTRY_INVALID_ARGUMENT', 'prefix must be 1-64 characters of A-Z a-z 0-9 . _ -');
  }
  const p = prefix;
  return {
    prefix: p,
    gateways: `${p}:gw:{${p}-gateways}`,
    service: (domain, type) => `${p}:svc:{${encodeKeyPart(domain)}/${type}}`,
    serviceIndex: `${p}:svc-index`,
    sessions: (bareJid) => `${p}:sess:{${encodeKeyPart(bareJid)}}`,
    resumption: (id) => `${p}:sm:{${encodeKeyPart(id)}}`,
    seeOtherHost: (key) => `${p}:soh:{${encodeKeyPart(key)}}`,
    seeOtherHostIndex: `${p}:soh-index`,
    credentials: (domain) => `${p}:cred:{${encodeKeyPart(domain)}}:users`,
    credentialIndex: (domain) => `${p}:cred:{${encodeKeyPart(domain)}}:index`,
    counter: (key) => `${p}:ctr:{${encodeKeyPart(key)}}`,
    events: `${p}:events`,
  };
}

export function serviceIndexMember(domain: string, type: ServiceType): string {
  return `${type}|${encodeKeyPart(domain)}`;
}

export function parseServiceIndexMember(member: string): { domain: string; type: ServiceType } | undefined {
  const bar = member.indexOf('|');
  if (bar < 0) return undefined;
  const type = member.slice(0, bar);
  if (type !== 'client' && type !== 'server' && type !== 'component') return undefined;
  try {
    return { domain: decodeKeyPart(member.slice(bar + 1)), type };
  } catch {
    return undefined;
  }
}
