// Options beyond the agreed api.ts (all optional), their defaults, and their validation.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEFAULT_RECEIVE_LIMITS, parseRegistration, type EndpointLimits, type JsonObject, type ReceiveLimits, type Registration, type UserLookupResult } from '@ambrosia/service-protocol';
import type { DomainServiceOptions } from './api.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './backoff.js';

/** USER_LOOKUP (docs/service-protocol.md §13.5): SASL named a user the registry does not know. */
export interface UserLookupQuery {
  domain: string;
  user: string;
  /** SASL mechanisms the gateway offers, e.g. SCRAM-SHA-256. */
  mechanisms: readonly string[];
}

/** Answer `undefined` for "unknown". */
export type UserLookupHandler = (query: UserLookupQuery) => UserLookupResult | undefined | Promise<UserLookupResult | undefined>;

export interface DomainServiceSettings extends DomainServiceOptions {
  /** HELLO `software`; default `ambrosia-service-sdk/0.1.0`. */
  software?: string;
  /** Check the dialled host against the gateway certificate's DNS/IP names (RFC 6125); default true. */
  verifyHostname?: boolean;
  /** USER_LOOKUP answers (§13.5); also settable with `onUserLookup()`. Without one: `unknown`. */
  userLookup?: UserLookupHandler;
  /** Stanzas and events queued or running, all gateways together; beyond, reading stops. Default 16 384. */
  maxQueued?: number;
  /** Items queued or running in one lane; beyond, the gateway feeding it stops being read. Default 4 096. */
  maxQueuedPerLane?: number;
  /**
   * What each channel accepts as a receiver (§6.4). Unacknowledged messages count against it, and
   * the SDK acks only after the handler settled, so this is each gateway's share of the queue: a
   * gateway cannot send more. Default: the protocol's defaults with `maxUnackedMessages` 4 096.
   */
  receiveLimits?: Partial<ReceiveLimits>;
  /** The endpoint's local limits (§15): send queue high-water and hard limit, timeouts. */
  channelLimits?: Partial<EndpointLimits>;
  /** Redial delays: capped exponential backoff with jitter. Default 100 ms doubling to 10 s. */
  reconnectBackoff?: Partial<BackoffOptions>;
  /** How long a send waits for its gateway's channel to (re)open before giving up. Default 10 000 ms. */
  reconnectWaitMs?: number;
  /** TLS handshake deadline per dial. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** start() rejects (and stops) when no gateway registered this instance within it. Default 60 000 ms. */
  startTimeoutMs?: number;
  /** Periodic re-read of the registry's gateways (events do it sooner). Default 5 000 ms. */
  discoveryIntervalMs?: number;
  /** Stanza keys remembered as handled, for duplicate suppression (§4.2, §10.5). Default 100 000. */
  maxRememberedKeys?: number;
  /** Senders waiting for a full channel to drain; beyond, sends reject with `queue-full`. Default 4 096. */
  maxWaitingSenders?: number;
  /** SEE_OTHER_HOST_QUERY / USER_LOOKUP handlers running at once; beyond, answered `unavailable`. Default 256. */
  maxConcurrentRequests?: number;
  /** Default graceful stop deadline. Default 10 000 ms. */
  stopTimeoutMs?: number;
}

export const SDK_SOFTWARE = 'ambrosia-service-sdk/0.1.0';

export const DEFAULTS = Object.freeze({
  concurrency: 256,
  maxQueued: 16_384,
  maxQueuedPerLane: 4_096,
  maxUnackedMessages: 4_096,
  reconnectWaitMs: 10_000,
  connectTimeoutMs: 10_000,
  startTimeoutMs: 60_000,
  discoveryIntervalMs: 5_000,
  maxRememberedKeys: 100_000,
  maxWaitingSenders: 4_096,
  maxConcurrentRequests: 256,
  stopTimeoutMs: 10_000,
});

export interface ResolvedSettings {
  instance: string;
  software: string;
  registrations: Registration[];
  verifyHostname: boolean;
  concurrency: number;
  maxQueued: number;
  maxQueuedPerLane: number;
  receiveLimits: ReceiveLimits;
  channelLimits: Partial<EndpointLimits>;
  backoff: BackoffOptions;
  reconnectWaitMs: number;
  connectTimeoutMs: number;
  startTimeoutMs: number;
  discoveryIntervalMs: number;
  maxRememberedKeys: number;
  maxWaitingSenders: number;
  maxConcurrentRequests: number;
  stopTimeoutMs: number;
}

function positiveInteger(name: string, value: number | undefined, fallback: number, min = 1): number {
  const chosen = value ?? fallback;
  if (!Number.isSafeInteger(chosen) || chosen < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got ${String(value)}`);
  return chosen;
}

export function resolveSettings(options: DomainServiceSettings): ResolvedSettings {
  if (options === null || typeof options !== 'object') throw new TypeError('DomainService needs options');
  if (!Array.isArray(options.registrations) || options.registrations.length === 0) throw new TypeError('registrations: at least one domain/type to register');
  const registrations: Registration[] = [];
  for (const spec of options.registrations) {
    const parsed = parseRegistration(spec);
    if (typeof parsed === 'string') throw new TypeError(`registrations: ${parsed}`);
    if (spec.weight !== undefined && !(Number.isFinite(spec.weight) && spec.weight > 0)) throw new RangeError(`registrations: weight of ${parsed.domain}/${parsed.type} must be a positive number`);
    registrations.push(parsed);
  }
  if (options.registry === undefined && (options.gateways === undefined || options.gateways.length === 0)) {
    throw new TypeError('DomainService needs a registry or a gateways list (or both)');
  }
  for (const gateway of options.gateways ?? []) {
    if (typeof gateway.host !== 'string' || gateway.host.length === 0 || !Number.isInteger(gateway.port) || gateway.port <= 0 || gateway.port > 65_535) {
      throw new TypeError(`gateways: ${JSON.stringify(gateway)} needs a host and a port`);
    }
  }
  for (const field of ['cert', 'key', 'ca'] as const) {
    const value = options.tls?.[field];
    if (!(typeof value === 'string' || Buffer.isBuffer(value)) || value.length === 0) throw new TypeError(`tls.${field}: PEM required`);
  }
  const receiveLimits: ReceiveLimits = { ...DEFAULT_RECEIVE_LIMITS, maxUnackedMessages: DEFAULTS.maxUnackedMessages, ...options.receiveLimits };
  const backoff = { ...DEFAULT_BACKOFF, ...options.reconnectBackoff };
  if (!(backoff.initialMs > 0 && backoff.maxMs >= backoff.initialMs)) throw new RangeError('reconnectBackoff: 0 < initialMs ≤ maxMs');
  return {
    instance: options.instance ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    software: options.software ?? SDK_SOFTWARE,
    registrations,
    verifyHostname: options.verifyHostname ?? true,
    concurrency: positiveInteger('concurrency', options.concurrency, DEFAULTS.concurrency),
    maxQueued: positiveInteger('maxQueued', options.maxQueued, DEFAULTS.maxQueued),
    maxQueuedPerLane: positiveInteger('maxQueuedPerLane', options.maxQueuedPerLane, DEFAULTS.maxQueuedPerLane),
    receiveLimits,
    channelLimits: { ...options.channelLimits },
    backoff,
    reconnectWaitMs: positiveInteger('reconnectWaitMs', options.reconnectWaitMs, DEFAULTS.reconnectWaitMs),
    connectTimeoutMs: positiveInteger('connectTimeoutMs', options.connectTimeoutMs, DEFAULTS.connectTimeoutMs),
    startTimeoutMs: positiveInteger('startTimeoutMs', options.startTimeoutMs, DEFAULTS.startTimeoutMs),
    discoveryIntervalMs: positiveInteger('discoveryIntervalMs', options.discoveryIntervalMs, DEFAULTS.discoveryIntervalMs),
    maxRememberedKeys: positiveInteger('maxRememberedKeys', options.maxRememberedKeys, DEFAULTS.maxRememberedKeys, 0),
    maxWaitingSenders: positiveInteger('maxWaitingSenders', options.maxWaitingSenders, DEFAULTS.maxWaitingSenders, 0),
    maxConcurrentRequests: positiveInteger('maxConcurrentRequests', options.maxConcurrentRequests, DEFAULTS.maxConcurrentRequests),
    stopTimeoutMs: positiveInteger('stopTimeoutMs', options.stopTimeoutMs, DEFAULTS.stopTimeoutMs),
  };
}

/** The wire shape of a USER_LOOKUP answer (§13.5). */
export function userLookupReply(result: UserLookupResult | undefined): JsonObject {
  if (result === undefined || result.outcome === 'unknown') return { outcome: 'unknown' };
  if (result.outcome === 'see-other-host') return { outcome: 'see-other-host', host: result.host };
  const credentials: JsonObject = {};
  for (const [mechanism, credential] of Object.entries(result.credentials)) {
    credentials[mechanism] = { salt: credential.salt, iterations: credential.iterations, storedKey: credential.storedKey, serverKey: credential.serverKey };
  }
  return { outcome: 'found', credentials };
}
