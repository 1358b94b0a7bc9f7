// The registry's public contract: everything more than one node must know (docs/registry.md).
// Every implementation returns this same `Registry`; the compliance suite (./compliance.ts)
// pins its behaviour.

// ---------------------------------------------------------------------------------------------
// Credentials and counters: shapes fixed by the contract other packages code against.

export type ScramHash = 'SHA-1' | 'SHA-256' | 'SHA-512';

/** RFC 5802 §3: what a server stores per hash; never the password. */
export interface ScramCredential {
  /** base64 */
  salt: string;
  iterations: number;
  /** base64 */
  storedKey: string;
  /** base64 */
  serverKey: string;
}

export interface CredentialRecord {
  scram: Partial<Record<ScramHash, ScramCredential>>;
  disabled?: boolean;
  /** ms since the epoch */
  createdAt: number;
  updatedAt: number;
}

export interface CredentialStore {
  get(domain: string, user: string): Promise<CredentialRecord | undefined>;
  /** Resolves false (and writes nothing) if `onlyIfAbsent` and the user exists. */
  put(domain: string, user: string, record: CredentialRecord, opts?: { onlyIfAbsent?: boolean }): Promise<boolean>;
  delete(domain: string, user: string): Promise<boolean>;
  /**
   * Users of a domain sorted by their UTF-8 bytes, `limit` per page (default 100, at most 1000).
   * `cursor` is opaque: pass back the one returned to get the next page; none means no more.
   * Paging is stable: users added or removed while paging never repeat or shift a page.
   */
  list(domain: string, opts?: { cursor?: string; limit?: number }): Promise<{ users: string[]; cursor?: string }>;
}

export interface Counters {
  /**
   * Adds `by` (default 1) and resolves the value after the increment. Fixed window: the key
   * expires `windowMs` after its FIRST increment, later increments do not extend it.
   */
  increment(key: string, windowMs: number, by?: number): Promise<number>;
  /** 0 when absent or expired. */
  get(key: string): Promise<number>;
  reset(key: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Gateways

export type GatewayState = 'active' | 'draining';

export interface GatewayAnnouncement {
  id: string;
  /** Host names or IP addresses where the gateway is reachable by other nodes. */
  addresses: string[];
  /** Listener name → port, e.g. `{ c2s: 5222, s2s: 5269, service: 5347, bosh: 5280 }`. */
  ports: Record<string, number>;
  /** The gateway's own load figure (e.g. sessions held); compared only between gateways. */
  load: number;
  state: GatewayState;
}

export interface GatewayInfo extends Readonly<GatewayAnnouncement> {
  /** The registry incarnation (process) that holds the lease; a restarted gateway gets a new one. */
  readonly incarnation: string;
  /** When this incarnation first announced itself (ms, the store's clock: stable across reads). */
  readonly startedAt: number;
  /** When the lease ends unless renewed (ms, local clock). */
  readonly expiresAt: number;
}

export interface LeaseOptions {
  /** Lease length; default the registry's `leaseTtlMs`. At least twice the heartbeat interval. */
  ttlMs?: number;
}

export interface GatewayDirectory {
  /**
   * Takes (or updates) the lease of a gateway. The registry then owns it: it renews the lease on
   * every heartbeat and writes it again if the store lost it. Call again to change load or state.
   */
  announce(gateway: GatewayAnnouncement, opts?: LeaseOptions): Promise<GatewayInfo>;
  /**
   * Ends the lease now and unbinds the sessions this registry bound for that gateway
   * (graceful shutdown). Resumption records stay: clients may resume elsewhere.
   */
  withdraw(id: string): Promise<boolean>;
  /** Live gateways read from the store (not the cache), sorted by id. */
  list(): Promise<GatewayInfo[]>;
}

// ---------------------------------------------------------------------------------------------
// Services

export type ServiceType = 'client' | 'server' | 'component';
export const SERVICE_TYPES: readonly ServiceType[] = ['client', 'server', 'component'];

export interface ServiceRegistration {
  domain: string;
  type: ServiceType;
  instanceId: string;
  /** The gateway the instance is connected to: its membership is a lease renewed by this registry. */
  gatewayId: string;
  /** Relative share for weighted rendezvous hashing; default 1. */
  weight?: number;
  /**
   * A draining instance takes no new users (routing keys) while another instance can; what a user
   * has in flight there stays there (the gateway's affinity). Default false.
   */
  draining?: boolean;
  /**
   * Fencing token for weight and draining. Omit it to get a new epoch greater than any this
   * registry or the store has seen for the instance; pass one (e.g. relayed from the instance)
   * and it is applied only if not lower than the stored epoch. A stale epoch never wins.
   */
  epoch?: number;
}

export interface ServiceInstance {
  readonly domain: string;
  readonly type: ServiceType;
  readonly instanceId: string;
  readonly weight: number;
  readonly draining: boolean;
  readonly epoch: number;
  /** Gateways the instance is connected to (live memberships), sorted. */
  readonly gateways: readonly string[];
  /** When the last membership ends unless renewed (ms, local clock). */
  readonly expiresAt: number;
}

export interface ServiceRegistrationResult {
  /** The instance as stored after the call. */
  instance: ServiceInstance;
  /** False if the given epoch was lower than the stored one: weight and draining were kept. */
  accepted: boolean;
}

/** What an administrator may change on a live instance without being its gateway. */
export interface ServiceAttributes {
  /** Relative share for weighted rendezvous hashing, 0..1e6 (six decimals kept). */
  weight?: number;
  /** See ServiceRegistration.draining. */
  draining?: boolean;
}

export interface ServiceDirectory {
  /** Registers (or renews, or changes) an instance's membership on a gateway; owned and renewed. */
  register(registration: ServiceRegistration, opts?: LeaseOptions): Promise<ServiceRegistrationResult>;
  /**
   * Changes the weight and/or draining flag of a live instance from any registry (an admin tool):
   * writes a new epoch above the stored one (and above any this registry has seen) and leaves the
   * memberships alone; the owning gateways adopt the newer epoch when they renew. Every registry
   * reloads the instance and reports `service-updated`. Resolves the instance as stored; rejects
   * with REGISTRY_NOT_FOUND if it has no live membership, REGISTRY_INVALID_ARGUMENT if neither
   * attribute is given.
   */
  setAttributes(domain: string, type: ServiceType, instanceId: string, attributes: ServiceAttributes): Promise<ServiceInstance>;
  /**
   * Removes one gateway membership (or, without `gatewayId`, the whole instance). Resolves true
   * if the instance is gone as a result: peers drop it at once instead of at lease expiry.
   */
  unregister(domain: string, type: ServiceType, instanceId: string, gatewayId?: string): Promise<boolean>;
  /** Live instances read from the store (not the cache), sorted by instance id. */
  list(domain: string, type: ServiceType): Promise<ServiceInstance[]>;
}

/**
 * The routing hot path: synchronous reads from the local cache, kept current by events and a
 * periodic reload. Throws `REGISTRY_STALE` when the cache is older than the staleness limit
 * (the store has been unreachable too long) or was never loaded (await `ready()` first).
 */
export interface RoutingView {
  /** Live instances for domain/type sorted by instance id, draining ones included (flagged). */
  instances(domain: string, type: ServiceType): readonly ServiceInstance[];
  /** Every domain/type with at least one live instance. */
  services(): ReadonlyArray<{ readonly domain: string; readonly type: ServiceType }>;
  gateway(id: string): GatewayInfo | undefined;
  /** Live gateways sorted by id. */
  gateways(): readonly GatewayInfo[];
}

// ---------------------------------------------------------------------------------------------
// Sessions and XEP-0198 resumption

export interface SessionBinding {
  bareJid: string;
  resource: string;
  /** Must be a gateway announced through this registry: a session lives as long as its gateway. */
  gatewayId: string;
  sessionId: string;
  /** RFC 6121 §4.7.2.3: -128..127 */
  priority: number;
  /** Has sent available presence (RFC 6121 §4.2). */
  available: boolean;
}

export interface SessionRecord extends Readonly<SessionBinding> {
  /** When the session was bound (ms, store clock). */
  readonly boundAt: number;
}

export interface BindResult {
  /** False only with `onlyIfAbsent` when a live session holds the resource. */
  bound: boolean;
  /** The live session that held the resource before (replaced, or blocking when not bound). */
  previous?: SessionRecord;
}

export interface SessionDirectory {
  /**
   * Binds a full JID to a session on a gateway (RFC 6120 §7). A live session on the same resource
   * is replaced (and returned so the caller can kick it, §7.7.2.2) unless `onlyIfAbsent`.
   * Owned: renewed by heartbeat and written again if the store lost it.
   */
  bind(binding: SessionBinding, opts?: { onlyIfAbsent?: boolean }): Promise<BindResult>;
  /** Changes priority/availability; false if that session no longer holds the resource. */
  update(bareJid: string, resource: string, sessionId: string, patch: { priority?: number; available?: boolean }): Promise<boolean>;
  /** Removes the binding only if `sessionId` still holds it (never a newer session). */
  unbind(bareJid: string, resource: string, sessionId: string): Promise<boolean>;
  /** Live sessions of a bare JID sorted by resource; served from a short-lived cache. */
  get(bareJid: string): Promise<SessionRecord[]>;
}

/** XEP-0198 §5: what a gateway needs to resume a stream, possibly on another gateway. */
export interface ResumptionState {
  /** The SM-ID given to the client (XEP-0198 §5 `<enabled id=.../>`). */
  id: string;
  fullJid: string;
  gatewayId: string;
  sessionId: string;
  /** Stanzas received from the client and handled by the server (the `h` the server reports). */
  inbound: number;
  /** The last `h` the client acknowledged for stanzas sent to it. */
  outbound: number;
}

export interface ResumptionRecord extends Readonly<ResumptionState> {
  /** Bumped by every claim: fences an older owner's writes. */
  readonly epoch: number;
  /** ms, local clock */
  readonly expiresAt: number;
}

export interface ResumptionStore {
  /**
   * Creates a record that expires after `ttlMs`, owned by this registry; as its owner, replaces it.
   * Rejects with REGISTRY_NOT_OWNER if the id exists and this registry does not own it (any more).
   */
  put(state: ResumptionState, ttlMs: number): Promise<ResumptionRecord>;
  get(id: string): Promise<ResumptionRecord | undefined>;
  /**
   * Moves the record to a new gateway/session atomically (XEP-0198 §5 resumption on another
   * node): resolves the record as it was, or undefined if absent/expired. The previous owner's
   * later writes are fenced off by the new epoch.
   */
  claim(id: string, gatewayId: string, sessionId: string): Promise<ResumptionRecord | undefined>;
  /** Updates counters/expiry if this registry still owns the record; false otherwise. */
  update(id: string, patch: { inbound?: number; outbound?: number; ttlMs?: number }): Promise<boolean>;
  /**
   * A registry that owns (or owned) the record deletes only its own epoch, so a gateway whose
   * session moved elsewhere cannot delete the new owner's record. Any other registry (an admin
   * tool) deletes whatever is there.
   */
  delete(id: string): Promise<boolean>;
}

// ---------------------------------------------------------------------------------------------
// See-other-host (RFC 6120 §4.9.3.19)

export interface SeeOtherHostEntry {
  /** A bare JID or a domain. */
  readonly key: string;
  /** `host[:port]`, an IPv6 literal in brackets. */
  readonly target: string;
  /** ms, local clock; absent when the entry never expires. */
  readonly expiresAt?: number;
}

export interface SeeOtherHostMap {
  set(key: string, target: string, opts?: { ttlMs?: number }): Promise<void>;
  /** Exact key; served from a short-lived cache invalidated by events. */
  get(key: string): Promise<SeeOtherHostEntry | undefined>;
  /** The bare JID's entry, else its domain's (a JID without `@` is a domain). */
  resolve(bareJidOrDomain: string): Promise<SeeOtherHostEntry | undefined>;
  delete(key: string): Promise<boolean>;
  /** Entries sorted by key (UTF-8 bytes), paged like credentials. */
  list(opts?: { cursor?: string; limit?: number }): Promise<{ entries: SeeOtherHostEntry[]; cursor?: string }>;
}

// ---------------------------------------------------------------------------------------------
// Events and commands: delivered to every registry on the cluster (pub/sub: at most once).

export interface KickCommand {
  bareJid: string;
  resource?: string;
  sessionId?: string;
  /** Only this gateway should act; absent: whichever gateway holds the session. */
  gatewayId?: string;
  reason?: string;
}

export type RegistryHealthStatus = 'ok' | 'degraded' | 'unavailable';

export interface RegistryHealth {
  /**
   * ok: connected and current. degraded: the store is unreachable or read-only; reads are served
   * from the snapshot, writes fail fast. unavailable: the snapshot is older than the staleness
   * limit (or was never loaded); routing reads throw REGISTRY_STALE.
   */
  status: RegistryHealthStatus;
  /** ms, local clock, when status last changed */
  since: number;
  /** Age of the routing snapshot (ms). */
  snapshotAgeMs: number;
  /** Why it is not ok, for logs and readiness output. */
  reason?: string;
}

export type RegistryEvent =
  | { type: 'service-joined'; instance: ServiceInstance }
  | { type: 'service-updated'; instance: ServiceInstance }
  | { type: 'service-left'; domain: string; serviceType: ServiceType; instanceId: string; reason: 'unregistered' | 'expired' }
  | { type: 'gateway-joined'; gateway: GatewayInfo }
  | { type: 'gateway-updated'; gateway: GatewayInfo }
  | { type: 'gateway-left'; gatewayId: string; reason: 'withdrawn' | 'expired' }
  | { type: 'see-other-host-changed'; key: string }
  | { type: 'kick'; command: KickCommand }
  | { type: 'drain'; gatewayId: string }
  /** The cache was reloaded after events may have been lost (reconnect): reconcile derived state. */
  | { type: 'resync' }
  | { type: 'health-changed'; health: RegistryHealth };

export type RegistryEventListener = (event: RegistryEvent) => void;

export interface RegistryEvents {
  /** Service and gateway events are derived from the routing cache, so every registry sees them. */
  subscribe(listener: RegistryEventListener): () => void;
}

export interface RegistryCommands {
  /** Every gateway receives a `kick` event; the one holding the session acts. */
  kick(command: KickCommand): Promise<void>;
  /** Every gateway receives a `drain` event; the named gateway acts. */
  drain(gatewayId: string): Promise<void>;
}

// ---------------------------------------------------------------------------------------------

export interface Registry {
  /** Unique per registry instance; stamped on the leases it owns. */
  readonly incarnation: string;
  /** Resolves once the store is reachable and the routing snapshot is loaded. */
  ready(opts?: { timeoutMs?: number }): Promise<void>;
  health(): RegistryHealth;
  /**
   * Renews every lease this registry owns, re-asserts everything it owns if the store lost it
   * (restart, failover, flush) and reloads the routing snapshot. Runs on its own every
   * `heartbeatIntervalMs`; call it directly in tests or after a known disruption.
   */
  heartbeat(): Promise<void>;
  /** Stops timers and disconnects. Leases are not withdrawn (they expire); withdraw first for a clean exit. */
  close(): Promise<void>;

  readonly gateways: GatewayDirectory;
  readonly services: ServiceDirectory;
  readonly routing: RoutingView;
  readonly sessions: SessionDirectory;
  readonly resumptions: ResumptionStore;
  readonly seeOtherHost: SeeOtherHostMap;
  readonly credentials: CredentialStore;
  readonly counters: Counters;
  readonly events: RegistryEvents;
  readonly commands: RegistryCommands;
}
