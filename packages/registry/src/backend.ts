// The storage driver under a registry. A backend stores and fetches; everything else (what this
// process owns, heartbeats, re-assertion, caches, health, events derived from the cache) lives
// once in ./client.ts, so the memory and Redis registries behave the same by construction.
//
// Times in stored records are the STORE's clock (ms): leases are judged by one clock, whatever
// the skew between nodes. Calls that return records also return the store's `now`, so the client
// converts to its local clock. Every method rejects with a RegistryError (see ./errors.ts).

import type { CredentialRecord, GatewayState, ResumptionState, ServiceType } from './types.js';

export interface StoredGateway {
  id: string;
  addresses: string[];
  ports: Record<string, number>;
  load: number;
  state: GatewayState;
  incarnation: string;
  startedAt: number;
  expiresAt: number;
}

export interface StoredInstance {
  instanceId: string;
  weight: number;
  draining: boolean;
  epoch: number;
  updatedAt: number;
  /** gateway id → membership lease end */
  gateways: Record<string, number>;
}

export interface StoredSession {
  resource: string;
  gatewayId: string;
  sessionId: string;
  priority: number;
  available: boolean;
  /** Incarnation of the registry that bound it: the session lives while that gateway lease does. */
  incarnation: string;
  /** Fencing sequence: a later bind has a higher one; re-assertion never overwrites a higher one. */
  seq: number;
  boundAt: number;
  /** Garbage-collection lease, renewed by the owner (docs/registry.md, "sessions"). */
  leaseUntil: number;
}

/** The state with its fencing epoch (raised by every claim, so a stale holder's writes fail). */
export interface StoredResumption extends ResumptionState {
  epoch: number;
}

export interface StoredSeeOtherHost {
  key: string;
  target: string;
  expiresAt?: number;
}

export interface ServiceRegisterArgs {
  domain: string;
  type: ServiceType;
  instanceId: string;
  gatewayId: string;
  weight: number;
  draining: boolean;
  /** Explicit epoch: attributes applied only if not lower than the stored epoch. */
  epoch?: number;
  /** Without `epoch`: the new epoch is max(stored, epochFloor) + 1. */
  epochFloor: number;
  ttlMs: number;
}

export interface ServiceRegisterResult {
  now: number;
  instance: StoredInstance;
  accepted: boolean;
  /** The instance had no live membership before this call. */
  joined: boolean;
}

export interface ServiceSetAttributesArgs {
  domain: string;
  type: ServiceType;
  instanceId: string;
  /** Absent: kept as stored. */
  weight?: number;
  draining?: boolean;
  /** The new epoch is max(stored, epochFloor) + 1. */
  epochFloor: number;
}

/** Compare-and-set condition for a session bind. */
export type BindExpectation = { absent: true } | { seq: number };

export type BackendSignal =
  /** The command connection is (again) usable. */
  | { kind: 'connected' }
  | { kind: 'disconnected'; reason: string }
  /** The event subscription is (again) established; events may have been missed before it. */
  | { kind: 'subscribed' }
  | { kind: 'unsubscribed'; reason: string };

export interface RegistryBackend {
  /** For logs and health reasons, e.g. "memory", "redis-sentinel". */
  readonly kind: string;
  /** Resolves once usable; rejects with REGISTRY_UNAVAILABLE (the backend keeps retrying). */
  connect(): Promise<void>;
  close(): Promise<void>;
  onSignal(listener: (signal: BackendSignal) => void): void;
  /**
   * A token that changes when the store may have lost data: a restart, a failover to another
   * server, a flush. The client re-asserts everything it owns when it changes.
   */
  generation(): Promise<string>;

  gatewayPut(gateway: Omit<StoredGateway, 'expiresAt' | 'startedAt'>, ttlMs: number): Promise<{ now: number; record: StoredGateway; previous?: StoredGateway }>;
  /** Extends the lease of that incarnation; false if it is missing (or another incarnation's). */
  gatewayRenew(id: string, incarnation: string, ttlMs: number): Promise<boolean>;
  /** Removes the lease (only that incarnation's when given). */
  gatewayRemove(id: string, incarnation?: string): Promise<boolean>;
  gatewayList(): Promise<{ now: number; gateways: StoredGateway[] }>;

  serviceRegister(args: ServiceRegisterArgs): Promise<ServiceRegisterResult>;
  /**
   * Writes the given attributes with a new epoch, memberships untouched. Undefined (nothing
   * written) if the instance has no live membership.
   */
  serviceSetAttributes(args: ServiceSetAttributesArgs): Promise<{ now: number; instance: StoredInstance } | undefined>;
  serviceUnregister(domain: string, type: ServiceType, instanceId: string, gatewayId?: string): Promise<{ instanceRemoved: boolean }>;
  serviceList(domain: string, type: ServiceType): Promise<{ now: number; instances: StoredInstance[] }>;
  /** Every domain/type that may have instances (an index; entries may be empty). */
  serviceKeys(): Promise<Array<{ domain: string; type: ServiceType }>>;

  /** Writes a new binding (new seq, boundAt) if `expect` holds; returns the entry it replaced or that blocked it. */
  sessionBind(
    bareJid: string,
    entry: Omit<StoredSession, 'seq' | 'boundAt' | 'leaseUntil'>,
    expect: BindExpectation | undefined,
    leaseMs: number,
  ): Promise<{ ok: boolean; written?: StoredSession; current?: StoredSession }>;
  /** Writes `entry` (keeping its seq and boundAt) unless a higher seq holds the resource. Renews its lease. */
  sessionReassert(bareJid: string, entry: Omit<StoredSession, 'leaseUntil'>, leaseMs: number): Promise<'written' | 'superseded'>;
  sessionUpdate(bareJid: string, resource: string, sessionId: string, patch: { priority?: number; available?: boolean }): Promise<StoredSession | undefined>;
  /** Removes the entry if it is `sessionId`'s (or, with `seq`, exactly that binding). */
  sessionUnbind(bareJid: string, resource: string, sessionId: string, seq?: number): Promise<boolean>;
  sessionGet(bareJid: string): Promise<{ now: number; entries: StoredSession[] }>;

  /** Without `epoch`: creates the record (epoch 1) only if the id is free. With it: written unless a higher epoch is stored. */
  resumptionPut(
    state: Omit<StoredResumption, 'epoch'>,
    ttlMs: number,
    epoch?: number,
  ): Promise<{ ok: boolean; record?: StoredResumption; expiresAt?: number; now: number }>;
  resumptionGet(id: string): Promise<{ now: number; record: StoredResumption; expiresAt: number } | undefined>;
  resumptionClaim(
    id: string,
    gatewayId: string,
    sessionId: string,
  ): Promise<{ now: number; previous: StoredResumption; record: StoredResumption; expiresAt: number } | undefined>;
  /** Only if the stored epoch is `epoch`. */
  resumptionUpdate(id: string, epoch: number, patch: { inbound?: number; outbound?: number }, ttlMs?: number): Promise<boolean>;
  resumptionDelete(id: string, epoch?: number): Promise<boolean>;

  sohSet(key: string, target: string, ttlMs?: number): Promise<void>;
  sohGet(key: string): Promise<{ now: number; entry: StoredSeeOtherHost } | undefined>;
  sohDelete(key: string): Promise<boolean>;
  /** Keys strictly after `after` in UTF-8 byte order. */
  sohList(after: string | undefined, limit: number): Promise<{ now: number; entries: StoredSeeOtherHost[]; more: boolean }>;

  credGet(domain: string, user: string): Promise<CredentialRecord | undefined>;
  credPut(domain: string, user: string, record: CredentialRecord, onlyIfAbsent: boolean): Promise<boolean>;
  credDelete(domain: string, user: string): Promise<boolean>;
  /** Users strictly after `after` in UTF-8 byte order. */
  credList(domain: string, after: string | undefined, limit: number): Promise<{ users: string[]; more: boolean }>;

  counterIncrement(key: string, windowMs: number, by: number): Promise<number>;
  counterGet(key: string): Promise<number>;
  counterReset(key: string): Promise<void>;

  /** Broadcasts to every subscriber of the store, this one included. */
  publish(message: string): Promise<void>;
  /** Called once by the client; messages arrive until close(). */
  subscribe(handler: (message: string) => void): Promise<void>;
}
