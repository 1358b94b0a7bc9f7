// Issue #8: every limit the gateway puts on what the network sends it, as one options object
// (`GatewayOptions.limits`) with its defaults. README.md lists each with its config key (the
// option path, e.g. `limits.preAuthTimeoutMs`) and what happens when it is reached.

import { TrustedProxies } from '@ambrosia/proxy-protocol';

/** Events per key within a window. */
export interface RateLimit {
  limit: number;
  windowMs: number;
}

export interface GatewayLimits {
  /** Largest stanza before SASL success (RFC 6120 §13.12); over it → `policy-violation`. */
  preAuthStanzaBytes: number;
  /** Largest stanza after SASL success (advertised with XEP-0478); over it → `policy-violation`. */
  stanzaBytes: number;
  /** Largest stanza on server-to-server streams (for the s2s listener, not built yet). */
  s2sStanzaBytes: number;
  /** Largest stanza a service may hand to this gateway over the service channel (the hub's receive limit). */
  serviceStanzaBytes: number;
  /**
   * Absolute deadline from accept (after the PROXY header) to SASL success; bytes arriving
   * meanwhile do not extend it. Exceeded → `connection-timeout`.
   */
  preAuthTimeoutMs: number;
  /** Connections per client address (addressKey: IPv4, IPv6 /64) not yet authenticated; 0 = off. Over → `policy-violation`. */
  maxUnauthenticatedPerIp: number;
  /** New connections per client address on this gateway (sliding window); limit 0 = off. Over → `policy-violation`. */
  connectionRatePerIp: RateLimit;
  /**
   * New connections per client address across the cluster (registry counter, fixed window),
   * checked after the local window, asynchronously; limit 0 = off. Over → `policy-violation`.
   */
  clusterConnectionRatePerIp: RateLimit;
  /** Bytes read per second per connection (token bucket); 0 = off. Over → reading pauses. */
  bytesPerSecond: number;
  /** The bucket's size: bytes a connection may send at once before the rate applies. */
  burstBytes: number;
  /** Client stanzas per second per session (StanzaRateGuard); 0 = off. Over → reading pauses. */
  stanzasPerSecond: number;
  /** Stanzas a session may send at once before the rate applies. */
  stanzaBurst: number;
  /** Stanzas beyond the rate a session may owe before it is cut with `policy-violation`. */
  maxStanzaDebt: number;
  /** Distinct client addresses the per-IP tables track at once; a new address beyond it is refused (fail closed). */
  maxTrackedAddresses: number;
  /**
   * Client addresses (CIDRs) exempt from the per-IP limits and the byte and stanza rates (never
   * from the deadlines and sizes). Default loopback: a peer on this host (local tooling, a
   * co-located proxy that sends no PROXY header) would otherwise put everyone under one address.
   * `[]` limits loopback too.
   */
  exemptAddresses: readonly string[];
}

export const DEFAULT_GATEWAY_LIMITS: Readonly<GatewayLimits> = Object.freeze({
  preAuthStanzaBytes: 8 * 1024,
  stanzaBytes: 256 * 1024,
  s2sStanzaBytes: 512 * 1024,
  serviceStanzaBytes: 512 * 1024,
  preAuthTimeoutMs: 30_000,
  maxUnauthenticatedPerIp: 16,
  connectionRatePerIp: Object.freeze({ limit: 30, windowMs: 10_000 }),
  clusterConnectionRatePerIp: Object.freeze({ limit: 120, windowMs: 60_000 }),
  bytesPerSecond: 32 * 1024,
  burstBytes: 256 * 1024,
  stanzasPerSecond: 50,
  stanzaBurst: 100,
  maxStanzaDebt: 200,
  maxTrackedAddresses: 100_000,
  exemptAddresses: Object.freeze(['127.0.0.0/8', '::1/128']),
}) as Readonly<GatewayLimits>;

/** What a caller may give: any subset, the rate limits partially too. */
export type GatewayLimitsOptions = Partial<Omit<GatewayLimits, 'connectionRatePerIp' | 'clusterConnectionRatePerIp'>> & {
  connectionRatePerIp?: Partial<RateLimit>;
  clusterConnectionRatePerIp?: Partial<RateLimit>;
};

/** Largest timer node accepts (2^31 - 1 ms). */
const MAX_TIMER_MS = 2_147_483_647;

function integer(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`gateway limit ${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

function defined<T extends object>(given: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(given ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Defaults overridden by the given values (undefined ones ignored); a bad value is a RangeError naming its key. */
export function resolveGatewayLimits(given?: GatewayLimitsOptions): Readonly<GatewayLimits> {
  const { connectionRatePerIp, clusterConnectionRatePerIp, ...rest } = given ?? {};
  const limits: GatewayLimits = {
    ...DEFAULT_GATEWAY_LIMITS,
    ...defined(rest),
    connectionRatePerIp: { ...DEFAULT_GATEWAY_LIMITS.connectionRatePerIp, ...defined(connectionRatePerIp) },
    clusterConnectionRatePerIp: { ...DEFAULT_GATEWAY_LIMITS.clusterConnectionRatePerIp, ...defined(clusterConnectionRatePerIp) },
  };
  integer('preAuthStanzaBytes', limits.preAuthStanzaBytes, 1024);
  integer('stanzaBytes', limits.stanzaBytes, 1024);
  integer('s2sStanzaBytes', limits.s2sStanzaBytes, 1024);
  integer('serviceStanzaBytes', limits.serviceStanzaBytes, 1024);
  integer('preAuthTimeoutMs', limits.preAuthTimeoutMs, 1, MAX_TIMER_MS);
  integer('maxUnauthenticatedPerIp', limits.maxUnauthenticatedPerIp, 0);
  integer('connectionRatePerIp.limit', limits.connectionRatePerIp.limit, 0);
  integer('connectionRatePerIp.windowMs', limits.connectionRatePerIp.windowMs, 1, MAX_TIMER_MS);
  integer('clusterConnectionRatePerIp.limit', limits.clusterConnectionRatePerIp.limit, 0);
  integer('clusterConnectionRatePerIp.windowMs', limits.clusterConnectionRatePerIp.windowMs, 1, MAX_TIMER_MS);
  integer('bytesPerSecond', limits.bytesPerSecond, 0);
  integer('burstBytes', limits.burstBytes, 1);
  integer('stanzasPerSecond', limits.stanzasPerSecond, 0);
  integer('stanzaBurst', limits.stanzaBurst, 1);
  integer('maxStanzaDebt', limits.maxStanzaDebt, 1);
  integer('maxTrackedAddresses', limits.maxTrackedAddresses, 1);
  if (!Array.isArray(limits.exemptAddresses) || limits.exemptAddresses.some((a) => typeof a !== 'string')) {
    throw new RangeError('gateway limit exemptAddresses must be an array of addresses or CIDRs');
  }
  // A bad entry throws a RangeError naming it (the matcher is @ambrosia/proxy-protocol's).
  new TrustedProxies(limits.exemptAddresses as string[]);
  limits.exemptAddresses = Object.freeze([...limits.exemptAddresses]);
  Object.freeze(limits.connectionRatePerIp);
  Object.freeze(limits.clusterConnectionRatePerIp);
  return Object.freeze(limits);
}

/** The names under which `stats().limits.tripped` counts each limit reached. */
export const LIMIT_NAMES = [
  'pre-auth-timeout',
  'unauthenticated-per-ip',
  'connection-rate-per-ip',
  'cluster-connection-rate-per-ip',
  'tracked-addresses',
  'byte-rate',
  'stanza-rate-slow',
  'stanza-rate-cut',
  'pre-auth-stanza-size',
  'stanza-size',
  'xml-limit',
  'tls-handshake-timeout',
  'negotiation-timeout',
  'idle-timeout',
  'send-buffer',
  'drain-timeout',
  'held-input',
  'proxy-refused',
] as const;

export type LimitName = (typeof LIMIT_NAMES)[number];
