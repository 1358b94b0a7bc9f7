// The service instances connected to this gateway, per domain/type: what route() chooses from.
// One entry per (domain, type, instance name); a newer channel of the same instance replaces the
// older one (docs/service-protocol.md §14.1 reason `replaced`).
import type { ChannelEndpoint, Registration, ServiceType } from '@ambrosia/service-protocol';
import { hashString, type RendezvousCandidate, type StringHash } from './rendezvous.js';

export interface LocalInstance extends RendezvousCandidate {
  readonly domain: string;
  readonly type: ServiceType;
  /** The instance name from HELLO (§6.1): the identity rendezvous hashing ranks, as every gateway does. */
  readonly id: string;
  readonly hash: StringHash;
  readonly channel: ChannelEndpoint;
}

export function serviceKey(domain: string, type: ServiceType): string {
  return `${domain}/${type}`;
}

export class InstanceTable {
  private readonly byService = new Map<string, Map<string, LocalInstance>>();
  private count = 0;

  /** Adds the instance; returns the entry it replaced (another channel of the same instance), if any. */
  add(registration: Registration, instanceId: string, channel: ChannelEndpoint): { added: LocalInstance; replaced: LocalInstance | undefined } {
    const key = serviceKey(registration.domain, registration.type);
    let instances = this.byService.get(key);
    if (instances === undefined) {
      instances = new Map();
      this.byService.set(key, instances);
    }
    const previous = instances.get(instanceId);
    if (previous?.channel === channel) return { added: previous, replaced: undefined };
    const added: LocalInstance = { domain: registration.domain, type: registration.type, id: instanceId, hash: previous?.hash ?? hashString(instanceId), channel };
    instances.set(instanceId, added);
    if (previous === undefined) this.count++;
    return { added, replaced: previous };
  }

  /** Removes the entry only if `channel` still holds it (a replaced channel removes nothing). */
  remove(registration: Registration, instanceId: string, channel: ChannelEndpoint): LocalInstance | undefined {
    const key = serviceKey(registration.domain, registration.type);
    const instances = this.byService.get(key);
    const entry = instances?.get(instanceId);
    if (instances === undefined || entry === undefined || entry.channel !== channel) return undefined;
    instances.delete(instanceId);
    this.count--;
    if (instances.size === 0) this.byService.delete(key);
    return entry;
  }

  get(domain: string, type: ServiceType, instanceId: string): LocalInstance | undefined {
    return this.byService.get(serviceKey(domain, type))?.get(instanceId);
  }

  /** The instances of domain/type, in no particular order. */
  instances(domain: string, type: ServiceType): Iterable<LocalInstance> {
    return this.byService.get(serviceKey(domain, type))?.values() ?? [];
  }

  has(domain: string, type: ServiceType): boolean {
    return this.byService.has(serviceKey(domain, type));
  }

  get size(): number {
    return this.count;
  }

  get services(): number {
    return this.byService.size;
  }
}
