// What registries tell each other over the store's broadcast channel. These are hints to reload
// or invalidate a cache entry, plus commands; the public events (types.ts) are derived from the
// cache, so a registry that missed a hint still converges on the next reload.

import type { KickCommand, ServiceType } from './types.js';
import { SERVICE_TYPES } from './types.js';

export type WireEvent =
  /** Instances of domain/type changed; `removed`: that instance is gone now, not at lease end. */
  | { t: 'services'; domain: string; type: ServiceType; removed?: string }
  | { t: 'gateways'; removed?: string }
  | { t: 'session'; bareJid: string }
  | { t: 'soh'; key: string }
  | { t: 'kick'; command: KickCommand }
  | { t: 'drain'; gatewayId: string };

/** Messages above this are ignored: nothing the registry sends comes close. */
export const MAX_WIRE_EVENT_BYTES = 64 * 1024;
const VERSION = 1;

export function encodeWireEvent(event: WireEvent, origin: string): string {
  return JSON.stringify({ v: VERSION, o: origin, ...event });
}

function str(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}
function optStr(v: unknown): boolean {
  return v === undefined || typeof v === 'string';
}

/** Undefined for anything malformed or from a future version: never throws on peer input. */
export function decodeWireEvent(message: string): { origin: string; event: WireEvent } | undefined {
  if (message.length > MAX_WIRE_EVENT_BYTES) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(message);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const m = raw as Record<string, unknown>;
  if (m.v !== VERSION || !str(m.o)) return undefined;
  const origin = m.o;
  switch (m.t) {
    case 'services':
      if (!str(m.domain) || !SERVICE_TYPES.includes(m.type as ServiceType) || !optStr(m.removed)) return undefined;
      return { origin, event: { t: 'services', domain: m.domain, type: m.type as ServiceType, ...(str(m.removed) ? { removed: m.removed } : {}) } };
    case 'gateways':
      if (!optStr(m.removed)) return undefined;
      return { origin, event: { t: 'gateways', ...(str(m.removed) ? { removed: m.removed } : {}) } };
    case 'session':
      return str(m.bareJid) ? { origin, event: { t: 'session', bareJid: m.bareJid } } : undefined;
    case 'soh':
      return str(m.key) ? { origin, event: { t: 'soh', key: m.key } } : undefined;
    case 'drain':
      return str(m.gatewayId) ? { origin, event: { t: 'drain', gatewayId: m.gatewayId } } : undefined;
    case 'kick': {
      const c = m.command as Record<string, unknown> | null;
      if (typeof c !== 'object' || c === null || !str(c.bareJid)) return undefined;
      if (!optStr(c.resource) || !optStr(c.sessionId) || !optStr(c.gatewayId) || !optStr(c.reason)) return undefined;
      const command: KickCommand = { bareJid: c.bareJid };
      if (typeof c.resource === 'string') command.resource = c.resource;
      if (typeof c.sessionId === 'string') command.sessionId = c.sessionId;
      if (typeof c.gatewayId === 'string') command.gatewayId = c.gatewayId;
      if (typeof c.reason === 'string') command.reason = c.reason;
      return { origin, event: { t: 'kick', command } };
    }
    default:
      return undefined;
  }
}
