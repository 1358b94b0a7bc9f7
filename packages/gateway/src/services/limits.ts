// Every bound of the service hub and its default (README.md in this folder lists them with what
// happens when each is reached). The channel's own limits are service-protocol's (§15).

export interface ServiceHubLimits {
  /**
   * A stanza routed to a service must be acknowledged within this time, handovers after a
   * channel ended included; otherwise route() rejects with service-unavailable.
   */
  stanzaTimeoutMs: number;
  /** Stanzas and session events accepted by route()/sessionEvent() and not yet acknowledged. */
  maxPendingStanzas: number;
  /** Unacknowledged stanzas handed back by an ended channel while no instance can take them. */
  maxParkedStanzas: number;
  /** seeOtherHost(): how long the service may take to answer (§13.4). */
  seeOtherHostTimeoutMs: number;
  /** Connections the listener holds at once (TLS handshakes included); beyond, new ones are dropped. */
  maxConnections: number;
  /** Largest stanza a service may hand to the gateway, in bytes (parsed with these budgets). */
  maxServiceStanzaBytes: number;
  /** close(): how long the registry unregistrations may take once every channel is closed. */
  closeRegistryTimeoutMs: number;
}

export const DEFAULT_SERVICE_HUB_LIMITS: Readonly<ServiceHubLimits> = Object.freeze({
  stanzaTimeoutMs: 30_000,
  maxPendingStanzas: 262_144,
  maxParkedStanzas: 65_536,
  seeOtherHostTimeoutMs: 2_000,
  maxConnections: 4_096 + 256,
  maxServiceStanzaBytes: 16 * 1024 * 1024,
  closeRegistryTimeoutMs: 2_000,
});

/** Default TCP port of the service-channel listener (docs/service-protocol.md §1). */
export const DEFAULT_SERVICE_PORT = 5347;

/** Defaults overridden by the given values (undefined ones ignored); each must be a positive integer. */
export function resolveHubLimits(given: Partial<ServiceHubLimits> | undefined): ServiceHubLimits {
  const limits: ServiceHubLimits = { ...DEFAULT_SERVICE_HUB_LIMITS };
  for (const key of Object.keys(DEFAULT_SERVICE_HUB_LIMITS) as (keyof ServiceHubLimits)[]) {
    const value = given?.[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`service hub limit ${key} must be a positive integer, got ${String(value)}`);
    limits[key] = value;
  }
  return limits;
}
