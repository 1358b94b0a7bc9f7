// Stanzas and session events on their way to service instances: which instance takes each one
// (weighted rendezvous hashing of the routing key, sticky while a key has messages in flight so
// one user's stanzas stay in order), the wait for the service's ack, and the hand-over of what
// an ended channel never acknowledged to another instance (docs/service-protocol.md §10.5).
import { performance } from 'node:perf_hooks';
import { StanzaError } from '@ambrosia/errors';
import type { Registry, ServiceInstance } from '@ambrosia/registry';
import { type ServiceType, type SessionEventMessage, type StanzaInput, type UnackedMessage, isChannelError } from '@ambrosia/service-protocol';
import type { ChannelEndpoint } from '@ambrosia/service-protocol';
import { type InstanceTable, type LocalInstance, serviceKey } from './instance-table.js';
import type { ServiceHubLimits } from './limits.js';
import { type StringHash, hashString, pickByRendezvous } from './rendezvous.js';

/** Where a message goes: the service of domain/type, and the key that picks the instance. */
export interface DispatchTarget {
  domain: string;
  type: ServiceType;
  routingKey: string;
}

type Outbound = StanzaInput | SessionEventMessage;

interface Pending {
  readonly target: DispatchTarget;
  readonly keyHash: StringHash;
  readonly affinityKey: string;
  readonly lane: string;
  readonly message: Outbound;
  /** Stanzas: sent again after a channel ended with it unacknowledged (§4.2 REDELIVERED). */
  redelivered: boolean;
  /** Bumped on every send, so the outcome of an abandoned attempt is ignored. */
  attempt: number;
  instance: LocalInstance | undefined;
  parked: boolean;
  settled: boolean;
  /** performance.now() after which it is given up (stanzaTimeoutMs after dispatch). */
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface Affinity {
  instance: LocalInstance;
  inflight: number;
}

export interface DispatcherStats {
  /** Messages accepted and not yet acknowledged (including parked ones). */
  pending: number;
  /** Messages waiting for an instance after theirs ended. */
  parked: number;
  /** Sends to a channel, first attempts and hand-overs. */
  sent: number;
  acked: number;
  /** Hand-overs of unacknowledged messages to another instance (§10.5). */
  reroutes: number;
  /** Messages given up: no instance, deadline, queue full, too large. */
  failed: number;
  timeouts: number;
}

export interface InstanceAttributes {
  weight: number;
  draining: boolean;
}

export class Dispatcher {
  private readonly byStanzaKey = new Map<string, Pending>();
  private readonly byEvent = new Map<SessionEventMessage, Pending>();
  private readonly parked = new Map<string, Set<Pending>>();
  private readonly affinity = new Map<string, Affinity>();
  /**
   * Every pending message in dispatch order, which is deadline order (one timeout for all): one
   * timer for the oldest deadline replaces a timer per stanza.
   */
  private readonly byDeadline = new Set<Pending>();
  private deadlineTimer: NodeJS.Timeout | undefined;
  private pendingCount = 0;
  private parkedCount = 0;
  private closing = false;
  private readonly counters = { sent: 0, acked: 0, reroutes: 0, failed: 0, timeouts: 0 };

  constructor(
    private readonly table: InstanceTable,
    private readonly registry: Registry,
    private readonly limits: ServiceHubLimits,
  ) {}

  /** Is this stanza key held by a message in flight? (Keys must be unique among pending stanzas.) */
  hasStanzaKey(key: string): boolean {
    return this.byStanzaKey.has(key);
  }

  /**
   * Sends `message` to the instance chosen for the target and resolves when it acknowledged it
   * (after hand-overs, if its channel ends first). Rejects with a StanzaError:
   * service-unavailable (no instance, or nobody took it within stanzaTimeoutMs),
   * resource-constraint (too many pending, or the channel's queue is full), policy-violation (too large).
   */
  dispatch(target: DispatchTarget, lane: string, message: Outbound, options: { parkIfNone?: boolean } = {}): Promise<void> {
    if (this.closing) return Promise.reject(unavailable('the gateway is shutting down'));
    if (this.pendingCount >= this.limits.maxPendingStanzas) {
      this.counters.failed++;
      return Promise.reject(new StanzaError('resource-constraint', { text: `${this.pendingCount} stanzas wait for services (limit ${this.limits.maxPendingStanzas})` }));
    }
    const keyHash = hashString(target.routingKey);
    const affinityKey = `${serviceKey(target.domain, target.type)}\n${target.routingKey}`;
    const instance = this.choose(target, keyHash, affinityKey);
    // parkIfNone: the domain is served elsewhere in the cluster, so an instance is expected here
    // soon (this gateway just started, or the instance is reconnecting): wait, bounded by
    // stanzaTimeoutMs and maxParkedStanzas, instead of refusing.
    if (instance === undefined && (options.parkIfNone !== true || this.parkedCount >= this.limits.maxParkedStanzas)) {
      this.counters.failed++;
      return Promise.reject(unavailable(`no instance of ${target.domain}/${target.type} is connected`));
    }
    return new Promise<void>((resolve, reject) => {
      const pending: Pending = {
        target,
        keyHash,
        affinityKey,
        lane,
        message,
        redelivered: message.kind === 'stanza' && message.context.redelivered === true,
        attempt: 0,
        instance: undefined,
        parked: false,
        settled: false,
        deadline: performance.now() + this.limits.stanzaTimeoutMs,
        resolve,
        reject,
      };
      this.byDeadline.add(pending);
      this.armDeadlineTimer();
      this.pendingCount++;
      if (message.kind === 'stanza') this.byStanzaKey.set(message.context.key ?? '', pending);
      else this.byEvent.set(message, pending);
      if (instance === undefined) this.park(pending);
      else this.send(pending, instance);
    });
  }

  /** The instance a message for `target` would go to now (seeOtherHost asks it). */
  pick(target: DispatchTarget): LocalInstance | undefined {
    return this.choose(target, hashString(target.routingKey), `${serviceKey(target.domain, target.type)}\n${target.routingKey}`);
  }

  /**
   * A channel ended: its entries are already out of the table. What it never acknowledged goes,
   * in the order the channel sent it, to the instances now chosen for each key (§10.5).
   */
  channelClosed(channel: ChannelEndpoint, unacked: readonly UnackedMessage[]): void {
    for (const entry of unacked) {
      const message = entry.message;
      const pending = message.kind === 'stanza' ? this.byStanzaKey.get(message.context.key) : message.kind === 'session-event' ? this.byEvent.get(message) : undefined;
      if (pending === undefined || pending.settled || pending.instance?.channel !== channel) continue;
      // Never written (id 0): nobody can have seen it, so it is not a redelivery.
      this.handOver(pending, entry.id !== 0);
    }
  }

  /** An instance of domain/type became available: what waited for one goes to it, in order. */
  instanceAdded(domain: string, type: ServiceType): void {
    const key = serviceKey(domain, type);
    const waiting = this.parked.get(key);
    if (waiting === undefined) return;
    this.parked.delete(key);
    for (const pending of waiting) {
      pending.parked = false;
      this.parkedCount--;
      if (!pending.settled) this.handOver(pending, false);
    }
  }

  /** Refuses new messages and fails the parked ones (nothing will take them). */
  close(): void {
    this.closing = true;
    for (const waiting of [...this.parked.values()]) {
      for (const pending of waiting) this.settle(pending, unavailable('the gateway is shutting down'));
    }
  }

  /** After every channel ended: fails whatever is still pending (nothing can ack it any more). */
  abandon(): void {
    for (const pending of [...this.byDeadline]) this.settle(pending, unavailable('the gateway is shutting down'));
    if (this.deadlineTimer !== undefined) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
  }

  stats(): DispatcherStats {
    return { pending: this.pendingCount, parked: this.parkedCount, ...this.counters };
  }

  /** Weight and draining flag of an instance as the registry's routing cache has them. */
  attributes(domain: string, type: ServiceType, instanceId: string): InstanceAttributes {
    const listed = this.registryInstances(domain, type);
    for (const instance of listed) if (instance.instanceId === instanceId) return { weight: instance.weight, draining: instance.draining };
    return { weight: 1, draining: false };
  }

  // -------------------------------------------------------------------------------------------

  private registryInstances(domain: string, type: ServiceType): readonly ServiceInstance[] {
    try {
      return this.registry.routing.instances(domain, type);
    } catch {
      // REGISTRY_STALE or not loaded yet: route on the local table alone, every weight 1.
      return [];
    }
  }

  private usable(instance: LocalInstance): boolean {
    const state = instance.channel.state;
    return state !== 'closing' && state !== 'closed' && this.table.get(instance.domain, instance.type, instance.id)?.channel === instance.channel;
  }

  private choose(target: DispatchTarget, keyHash: StringHash, affinityKey: string): LocalInstance | undefined {
    // A key with messages in flight stays where they are: a user's stanzas must not overtake each other.
    const sticky = this.affinity.get(affinityKey);
    if (sticky !== undefined && this.usable(sticky.instance)) return sticky.instance;
    const all: LocalInstance[] = [];
    for (const instance of this.table.instances(target.domain, target.type)) if (this.usable(instance)) all.push(instance);
    if (all.length <= 1) return all[0];
    const listed = this.registryInstances(target.domain, target.type);
    const attributes = new Map<string, ServiceInstance>();
    for (const instance of listed) attributes.set(instance.instanceId, instance);
    const weightOf = (instance: LocalInstance): number => attributes.get(instance.id)?.weight ?? 1;
    // New keys skip draining, zero-weight and detached instances when another can take them.
    const preferred = all.filter((instance) => instance.channel.state !== 'detached' && attributes.get(instance.id)?.draining !== true && weightOf(instance) > 0);
    if (preferred.length > 0) return pickByRendezvous(keyHash, preferred, weightOf);
    return pickByRendezvous(keyHash, all, (instance) => Math.max(weightOf(instance), 1e-6));
  }

  private send(pending: Pending, instance: LocalInstance): void {
    const attempt = ++pending.attempt;
    pending.instance = instance;
    const affinity = this.affinity.get(pending.affinityKey);
    if (affinity !== undefined && affinity.instance === instance) affinity.inflight++;
    else this.affinity.set(pending.affinityKey, { instance, inflight: 1 });
    // The message is ours (built by the hub), and the channel copies the context when it queues it.
    if (pending.message.kind === 'stanza') pending.message.context.redelivered = pending.redelivered;
    this.counters.sent++;
    let sent: Promise<void>;
    try {
      sent = instance.channel.send(pending.message, { lane: pending.lane });
    } catch (error) {
      // Not encodable (a field over its §4.2 size): no instance would take it.
      this.settle(pending, new StanzaError('internal-server-error', { text: `the stanza cannot be sent to a service: ${error instanceof Error ? error.message : String(error)}` }));
      return;
    }
    sent.then(
      () => {
        if (pending.attempt !== attempt || pending.settled) return;
        this.counters.acked++;
        this.settle(pending, undefined);
      },
      (error: unknown) => {
        if (pending.attempt !== attempt || pending.settled) return;
        if (isChannelError(error) && error.code === 'channel-closed') {
          // Normally channelClosed() has handed it over already; this covers a message the
          // channel refused because it was ending.
          this.handOver(pending, false);
          return;
        }
        const code = isChannelError(error) ? error.code : '';
        this.settle(
          pending,
          code === 'queue-full'
            ? new StanzaError('resource-constraint', { text: 'the service is not keeping up' })
            : code === 'message-too-large'
              ? new StanzaError('policy-violation', { text: 'the stanza is larger than the service accepts' })
              : unavailable(`the service channel refused the stanza (${code || String(error)})`),
        );
      },
    );
  }

  /** Takes a message off its instance and gives it to the one chosen now, or parks it. */
  private handOver(pending: Pending, wasSent: boolean): void {
    this.release(pending);
    pending.attempt++;
    if (wasSent && pending.message.kind === 'stanza') pending.redelivered = true;
    if (wasSent) this.counters.reroutes++;
    const instance = this.closing ? undefined : this.choose(pending.target, pending.keyHash, pending.affinityKey);
    if (instance !== undefined) {
      this.send(pending, instance);
      return;
    }
    if (this.closing || this.parkedCount >= this.limits.maxParkedStanzas) {
      this.settle(pending, unavailable(this.closing ? 'the gateway is shutting down' : `no instance of ${pending.target.domain}/${pending.target.type} is connected`));
      return;
    }
    this.park(pending);
  }

  /** Holds a message until an instance of its domain/type is added (instanceAdded) or its deadline. */
  private park(pending: Pending): void {
    const key = serviceKey(pending.target.domain, pending.target.type);
    let waiting = this.parked.get(key);
    if (waiting === undefined) {
      waiting = new Set();
      this.parked.set(key, waiting);
    }
    waiting.add(pending);
    pending.parked = true;
    this.parkedCount++;
  }

  private armDeadlineTimer(): void {
    if (this.deadlineTimer !== undefined) return;
    const oldest = this.byDeadline.values().next().value as Pending | undefined;
    if (oldest === undefined) return;
    this.deadlineTimer = setTimeout(() => this.expireDeadlines(), Math.max(1, oldest.deadline - performance.now()));
    this.deadlineTimer.unref();
  }

  private expireDeadlines(): void {
    this.deadlineTimer = undefined;
    const now = performance.now();
    for (const pending of this.byDeadline) {
      if (pending.deadline > now) break;
      this.counters.timeouts++;
      this.settle(pending, unavailableAfterTimeout(pending, this.limits.stanzaTimeoutMs));
    }
    this.armDeadlineTimer();
  }

  /** Forgets which instance holds the message (its key's affinity counts one less there). */
  private release(pending: Pending): void {
    const instance = pending.instance;
    if (instance === undefined) return;
    pending.instance = undefined;
    const affinity = this.affinity.get(pending.affinityKey);
    if (affinity !== undefined && affinity.instance === instance && --affinity.inflight <= 0) this.affinity.delete(pending.affinityKey);
  }

  private settle(pending: Pending, error: Error | undefined): void {
    if (pending.settled) return;
    pending.settled = true;
    this.byDeadline.delete(pending);
    this.release(pending);
    if (pending.parked) {
      pending.parked = false;
      this.parkedCount--;
      const key = serviceKey(pending.target.domain, pending.target.type);
      const waiting = this.parked.get(key);
      waiting?.delete(pending);
      if (waiting?.size === 0) this.parked.delete(key);
    }
    if (pending.message.kind === 'stanza') {
      const key = pending.message.context.key ?? '';
      if (this.byStanzaKey.get(key) === pending) this.byStanzaKey.delete(key);
    } else {
      this.byEvent.delete(pending.message);
    }
    this.pendingCount--;
    if (error === undefined) {
      pending.resolve();
    } else {
      this.counters.failed++;
      pending.reject(error);
    }
  }
}

function unavailableAfterTimeout(pending: Pending, timeoutMs: number): StanzaError {
  return unavailable(`no instance of ${pending.target.domain}/${pending.target.type} acknowledged it within ${timeoutMs} ms`);
}

function unavailable(text: string): StanzaError {
  return new StanzaError('service-unavailable', { text });
}
