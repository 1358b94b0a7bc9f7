// The registry's storage driver on Redis: standalone, Sentinel and Cluster, connected through
// @ambrosia/redis-connection. Failure behaviour (docs/registry.md, "When Redis fails"), the
// connection's with the registry's codes:
//  - nothing queues: a call made while Redis is unreachable fails at once with REGISTRY_UNAVAILABLE;
//  - a command that gets no answer fails after `commandTimeoutMs`;
//  - reconnection is automatic, with exponential backoff capped at `reconnectBackoff.maxMs`;
//  - READONLY (a demoted primary) fails the write with REGISTRY_READONLY; with Sentinel the
//    connection is re-established so the Sentinels lead it to the new primary.

import type { EventEmitter } from 'node:events';
import {
  RegistryError,
  type BackendSignal,
  type RegistryErrorCode,
  type BindExpectation,
  type CredentialRecord,
  type RegistryBackend,
  type ServiceRegisterArgs,
  type ServiceRegisterResult,
  type ServiceSetAttributesArgs,
  type ServiceType,
  type StoredGateway,
  type StoredInstance,
  type StoredResumption,
  type StoredSeeOtherHost,
  type StoredSession,
} from '@ambrosia/registry';
import {
  classifyRedisError,
  CONNECTION_DEFAULTS,
  createRedisConnection,
  defineScripts,
  errorMessage,
  isCluster,
  isRedisNotReadyError,
  parseRedisUrl,
  waitUntilReady,
  type RedisConnection,
  type RedisConnectionSettings,
  type RedisFailure,
  type RedisTopology,
  type ScriptCaller,
} from '@ambrosia/redis-connection';
import { keyLayout, parseServiceIndexMember, serviceIndexMember, type KeyLayout } from './keys.js';
import { SCRIPTS, type ScriptName } from './scripts.js';

export interface RedisBackendOptions extends RedisConnectionSettings {
  /** One of the forms of @ambrosia/redis-connection (docs/registry.md, "Connecting"). */
  url: string;
  /** Every key and the event channel start with it. Default "ambrosia". */
  prefix?: string;
  /**
   * CLIENT SETNAME prefix, to find the registry's connections in CLIENT LIST: the command
   * connection is "<name>-registry", the subscription "<name>-registry-events". Default "ambrosia".
   */
  connectionName?: string;
}

/** The registry's code for each kind of failure the connection layer tells apart. */
const REGISTRY_CODES: Record<RedisFailure, RegistryErrorCode> = {
  'invalid-url': 'REGISTRY_INVALID_ARGUMENT',
  readonly: 'REGISTRY_READONLY',
  rejected: 'REGISTRY_BACKEND_ERROR',
  unavailable: 'REGISTRY_UNAVAILABLE',
};

function toRegistryError(e: unknown): RegistryError {
  if (e instanceof RegistryError) return e;
  return new RegistryError(REGISTRY_CODES[classifyRedisError(e)], errorMessage(e), { cause: e });
}

function parseJson<T>(raw: unknown, what: string): T {
  if (typeof raw !== 'string') throw new RegistryError('REGISTRY_CORRUPT', `${what}: expected a string`);
  try {
    return JSON.parse(raw) as T;
  } catch (e) {
    throw new RegistryError('REGISTRY_CORRUPT', `${what}: not JSON`, { cause: e });
  }
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

interface InstanceJson {
  w: number;
  d: boolean;
  e: string;
  u: string;
  g: Record<string, string> | unknown[];
}
interface SessionJson {
  g: string;
  s: string;
  p: number;
  a: boolean;
  n: string;
  q: string;
  b: string;
  l: string;
}
interface ResumptionJson {
  i: string;
  j: string;
  g: string;
  s: string;
  in: number;
  out: number;
  e: number;
}

export class RedisBackend implements RegistryBackend {
  readonly kind: string;
  readonly keys: KeyLayout;
  private readonly topology: RedisTopology;
  private readonly commands: RedisConnection;
  private readonly subscriber: RedisConnection;
  private readonly scripts: Record<ScriptName, ScriptCaller>;
  private readonly signalListeners: Array<(signal: BackendSignal) => void> = [];
  private readonly connectTimeoutMs: number;
  private handler: ((message: string) => void) | undefined;
  private commandsUp = false;
  private eventsUp = false;
  private lastCommandError: string | undefined;
  private lastEventsError: string | undefined;
  private closed = false;

  constructor(options: RedisBackendOptions) {
    try {
      this.topology = parseRedisUrl(options.url);
    } catch (e) {
      throw toRegistryError(e); // REGISTRY_INVALID_ARGUMENT, as callers of this package expect
    }
    this.keys = keyLayout(options.prefix ?? 'ambrosia');
    this.kind = `redis-${this.topology.mode}`;
    this.connectTimeoutMs = options.connectTimeoutMs ?? CONNECTION_DEFAULTS.connectTimeoutMs;
    this.commands = this.connection(options, 'registry');
    this.subscriber = this.connection(options, 'registry-events');
    this.scripts = defineScripts(this.commands, SCRIPTS);
    this.wireCommandEvents();
    this.wireSubscriberEvents();
  }

  private connection(options: RedisBackendOptions, role: 'registry' | 'registry-events'): RedisConnection {
    return createRedisConnection({
      ...options,
      url: this.topology,
      connectionName: `${options.connectionName ?? CONNECTION_DEFAULTS.connectionName}-${role}`,
      // The subscription carries no commands to pipeline.
      autoPipelining: role === 'registry',
    });
  }

  private signal(signal: BackendSignal): void {
    for (const listener of this.signalListeners) listener(signal);
  }

  private wireCommandEvents(): void {
    // Both Redis and Cluster are event emitters; their own overloads do not merge into one union.
    const c: EventEmitter = this.commands;
    c.on('error', (e: unknown) => {
      this.lastCommandError = errorMessage(e);
    });
    c.on('ready', () => {
      if (this.closed) return;
      this.commandsUp = true;
      this.lastCommandError = undefined;
      this.signal({ kind: 'connected' });
    });
    const down = () => {
      if (!this.commandsUp || this.closed) return;
      this.commandsUp = false;
      this.signal({ kind: 'disconnected', reason: this.lastCommandError ?? 'connection closed' });
    };
    c.on('close', down);
    c.on('end', down);
  }

  private wireSubscriberEvents(): void {
    const s: EventEmitter = this.subscriber;
    s.on('error', (e: unknown) => {
      this.lastEventsError = errorMessage(e);
    });
    s.on('message', (channel: string, message: string) => {
      if (channel === this.keys.events && this.handler !== undefined && !this.closed) this.handler(message);
    });
    s.on('ready', () => {
      if (this.handler === undefined || this.closed) return;
      // Subscribe again explicitly and signal only once Redis confirmed: the registry reloads
      // its picture on this signal, which must not race an inactive subscription.
      void this.subscriber
        .subscribe(this.keys.events)
        .then(() => this.markSubscribed())
        .catch((e: unknown) => {
          this.lastEventsError = errorMessage(e);
        });
    });
    const down = () => {
      if (!this.eventsUp || this.closed) return;
      this.eventsUp = false;
      this.signal({ kind: 'unsubscribed', reason: this.lastEventsError ?? 'connection closed' });
    };
    s.on('close', down);
    s.on('end', down);
  }

  /** Signals 'subscribed' once per time the subscription comes up (first subscribe or a reconnection). */
  private markSubscribed(): void {
    if (this.closed || this.eventsUp) return;
    this.eventsUp = true;
    this.lastEventsError = undefined;
    this.signal({ kind: 'subscribed' });
  }

  private async whenReady(connection: RedisConnection, what: 'command' | 'events'): Promise<void> {
    if (this.closed) throw new RegistryError('REGISTRY_CLOSED');
    try {
      await waitUntilReady(connection, this.connectTimeoutMs);
    } catch (e) {
      if (!isRedisNotReadyError(e)) throw toRegistryError(e);
      // The reason kept since the connection last was up says more than the wait alone saw.
      const why = (what === 'events' ? this.lastEventsError : this.lastCommandError) ?? e.lastError;
      throw new RegistryError('REGISTRY_UNAVAILABLE', `no ${what} connection to Redis within ${this.connectTimeoutMs} ms${why ? `: ${why}` : ''}`, { cause: e });
    }
  }

  async connect(): Promise<void> {
    await this.whenReady(this.commands, 'command');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.commands.disconnect();
    this.subscriber.disconnect();
  }

  onSignal(listener: (signal: BackendSignal) => void): void {
    this.signalListeners.push(listener);
  }

  private async run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.closed) throw new RegistryError('REGISTRY_CLOSED');
    try {
      return await operation();
    } catch (e) {
      throw toRegistryError(e);
    }
  }

  /** The run_id of every primary: it changes when a server restarts or another takes over. */
  async generation(): Promise<string> {
    return this.run(async () => {
      const runId = (info: string) => /(?:^|\r?\n)run_id:([0-9a-f]+)/.exec(info)?.[1] ?? '';
      if (isCluster(this.commands)) {
        const primaries = this.commands.nodes('master');
        if (primaries.length === 0) throw new RegistryError('REGISTRY_UNAVAILABLE', 'no cluster primaries known');
        const ids = await Promise.all(primaries.map(async (node) => runId(await node.info('server'))));
        return ids.sort().join(',');
      }
      return runId(await this.commands.info('server'));
    });
  }

  // -- gateways --------------------------------------------------------------------------------

  /** A gateway from its hash fields (i:, n:, s:, e:), as gatewayPut and gatewayList both read them. */
  private parseGateway(id: string, info: string, incarnation: string, startedAt: string, expiresAt: string): StoredGateway {
    const parsed = parseJson<Pick<StoredGateway, 'addresses' | 'ports' | 'load' | 'state'>>(info, `gateway ${id}`);
    return { id, ...parsed, incarnation, startedAt: Number(startedAt), expiresAt: Number(expiresAt) };
  }

  private parseGateways(reply: unknown[]): { now: number; gateways: StoredGateway[] } {
    const now = Number(reply[0]);
    const fields = new Map<string, Map<string, string>>();
    for (let i = 1; i + 1 < reply.length; i += 2) {
      const field = String(reply[i]);
      const kind = field.slice(0, 2);
      const id = field.slice(2);
      let entry = fields.get(id);
      if (entry === undefined) fields.set(id, (entry = new Map()));
      entry.set(kind, String(reply[i + 1]));
    }
    const gateways: StoredGateway[] = [];
    for (const [id, entry] of fields) {
      const info = entry.get('i:');
      const expiresAt = entry.get('e:');
      const startedAt = entry.get('s:');
      const incarnation = entry.get('n:');
      if (info === undefined || expiresAt === undefined || startedAt === undefined || incarnation === undefined) continue;
      gateways.push(this.parseGateway(id, info, incarnation, startedAt, expiresAt));
    }
    return { now, gateways };
  }

  async gatewayPut(gateway: Omit<StoredGateway, 'expiresAt' | 'startedAt'>, ttlMs: number) {
    return this.run(async () => {
      const json = JSON.stringify({ addresses: gateway.addresses, ports: gateway.ports, load: gateway.load, state: gateway.state });
      const reply = (await this.scripts.gatewayPut(this.keys.gateways, gateway.id, gateway.incarnation, json, ttlMs)) as unknown[];
      const now = Number(reply[0]);
      const record: StoredGateway = { ...gateway, startedAt: Number(reply[1]), expiresAt: Number(reply[2]) };
      const [prevJson, prevExpires, prevStarted, prevIncarnation] = [str(reply[3]), str(reply[4]), str(reply[5]), str(reply[6])];
      if (prevJson === undefined || prevExpires === undefined || prevStarted === undefined || prevIncarnation === undefined) return { now, record };
      return { now, record, previous: this.parseGateway(gateway.id, prevJson, prevIncarnation, prevStarted, prevExpires) };
    });
  }

  async gatewayRenew(id: string, incarnation: string, ttlMs: number): Promise<boolean> {
    return this.run(async () => Number(await this.scripts.gatewayRenew(this.keys.gateways, id, incarnation, ttlMs)) === 1);
  }

  async gatewayRemove(id: string, incarnation?: string): Promise<boolean> {
    return this.run(async () => Number(await this.scripts.gatewayRemove(this.keys.gateways, id, incarnation ?? '')) === 1);
  }

  async gatewayList() {
    return this.run(async () => this.parseGateways((await this.scripts.hashWithTime(this.keys.gateways)) as unknown[]));
  }

  // -- services --------------------------------------------------------------------------------

  private parseInstance(instanceId: string, raw: unknown): StoredInstance {
    const json = parseJson<InstanceJson>(raw, `service instance ${instanceId}`);
    const gateways: Record<string, number> = {};
    // cjson writes an empty table as {} but a table it thinks is an array as []: accept both.
    if (!Array.isArray(json.g)) for (const [g, end] of Object.entries(json.g)) gateways[g] = Number(end);
    return { instanceId, weight: Number(json.w), draining: json.d === true, epoch: Number(json.e), updatedAt: Number(json.u), gateways };
  }

  async serviceRegister(args: ServiceRegisterArgs): Promise<ServiceRegisterResult> {
    return this.run(async () => {
      // The index first: a reader that finds the index entry before the hash just sees no instance yet.
      // Renewals repeat the SADD, which heals an entry removed by a racing unregister.
      const indexed = this.commands.sadd(this.keys.serviceIndex, serviceIndexMember(args.domain, args.type));
      const reply = (await this.scripts.serviceRegister(
        this.keys.service(args.domain, args.type),
        args.instanceId,
        args.gatewayId,
        args.weight,
        args.draining ? '1' : '0',
        args.epoch === undefined ? '' : args.epoch,
        args.epochFloor,
        args.ttlMs,
      )) as unknown[];
      await indexed;
      return {
        now: Number(reply[0]),
        instance: this.parseInstance(args.instanceId, reply[1]),
        accepted: Number(reply[2]) === 1,
        joined: Number(reply[3]) === 1,
      };
    });
  }

  async serviceSetAttributes(args: ServiceSetAttributesArgs) {
    return this.run(async () => {
      const reply = (await this.scripts.serviceSetAttributes(
        this.keys.service(args.domain, args.type),
        args.instanceId,
        args.weight === undefined ? '' : args.weight,
        args.draining === undefined ? '' : args.draining ? '1' : '0',
        args.epochFloor,
      )) as unknown[];
      if (reply[1] === undefined || reply[1] === null) return undefined;
      return { now: Number(reply[0]), instance: this.parseInstance(args.instanceId, reply[1]) };
    });
  }

  async serviceUnregister(domain: string, type: ServiceType, instanceId: string, gatewayId?: string) {
    return this.run(async () => {
      const reply = (await this.scripts.serviceUnregister(this.keys.service(domain, type), instanceId, gatewayId ?? '')) as unknown[];
      if (Number(reply[1]) === 0) await this.commands.srem(this.keys.serviceIndex, serviceIndexMember(domain, type));
      return { instanceRemoved: Number(reply[0]) === 1 };
    });
  }

  async serviceList(domain: string, type: ServiceType) {
    return this.run(async () => {
      const reply = (await this.scripts.hashWithTime(this.keys.service(domain, type))) as unknown[];
      const now = Number(reply[0]);
      const instances: StoredInstance[] = [];
      for (let i = 1; i + 1 < reply.length; i += 2) instances.push(this.parseInstance(String(reply[i]), reply[i + 1]));
      if (instances.length === 0) {
        // The hash expired with its last lease: drop the index entry (an owner's renewal re-adds it).
        await this.commands.srem(this.keys.serviceIndex, serviceIndexMember(domain, type)).catch(() => 0);
      }
      return { now, instances };
    });
  }

  async serviceKeys() {
    return this.run(async () => {
      const members = await this.commands.smembers(this.keys.serviceIndex);
      return members.map(parseServiceIndexMember).filter((k): k is { domain: string; type: ServiceType } => k !== undefined);
    });
  }

  // -- sessions --------------------------------------------------------------------------------

  private parseSession(resource: string, raw: unknown): StoredSession {
    const j = parseJson<SessionJson>(raw, `session ${resource}`);
    return {
      resource,
      gatewayId: j.g,
      sessionId: j.s,
      priority: Number(j.p),
      available: j.a === true,
      incarnation: j.n,
      seq: Number(j.q),
      boundAt: Number(j.b),
      leaseUntil: Number(j.l),
    };
  }

  async sessionBind(bareJid: string, entry: Omit<StoredSession, 'seq' | 'boundAt' | 'leaseUntil'>, expect: BindExpectation | undefined, leaseMs: number) {
    return this.run(async () => {
      const json = JSON.stringify({ g: entry.gatewayId, s: entry.sessionId, p: entry.priority, a: entry.available, n: entry.incarnation });
      const mode = expect === undefined ? '' : 'absent' in expect ? 'absent' : 'seq';
      const expected = expect !== undefined && 'seq' in expect ? expect.seq : '';
      const reply = (await this.scripts.sessionBind(this.keys.sessions(bareJid), entry.resource, json, mode, expected, leaseMs)) as unknown[];
      const written = str(reply[1]);
      const current = str(reply[2]);
      return {
        ok: Number(reply[0]) === 1,
        ...(written !== undefined ? { written: this.parseSession(entry.resource, written) } : {}),
        ...(current !== undefined ? { current: this.parseSession(entry.resource, current) } : {}),
      };
    });
  }

  async sessionReassert(bareJid: string, entry: Omit<StoredSession, 'leaseUntil'>, leaseMs: number): Promise<'written' | 'superseded'> {
    return this.run(async () => {
      const json = JSON.stringify({
        g: entry.gatewayId,
        s: entry.sessionId,
        p: entry.priority,
        a: entry.available,
        n: entry.incarnation,
        q: String(entry.seq),
        b: String(entry.boundAt),
      });
      const reply = await this.scripts.sessionReassert(this.keys.sessions(bareJid), entry.resource, json, leaseMs);
      return Number(reply) === 1 ? 'written' : 'superseded';
    });
  }

  async sessionUpdate(bareJid: string, resource: string, sessionId: string, patch: { priority?: number; available?: boolean }) {
    return this.run(async () => {
      const reply = await this.scripts.sessionUpdate(
        this.keys.sessions(bareJid),
        resource,
        sessionId,
        patch.priority === undefined ? '' : patch.priority,
        patch.available === undefined ? '' : patch.available ? '1' : '0',
      );
      return typeof reply === 'string' ? this.parseSession(resource, reply) : undefined;
    });
  }

  async sessionUnbind(bareJid: string, resource: string, sessionId: string, seq?: number): Promise<boolean> {
    return this.run(async () => Number(await this.scripts.sessionUnbind(this.keys.sessions(bareJid), resource, sessionId, seq ?? '')) === 1);
  }

  async sessionGet(bareJid: string) {
    return this.run(async () => {
      const reply = (await this.scripts.hashWithTime(this.keys.sessions(bareJid))) as unknown[];
      const now = Number(reply[0]);
      const entries: StoredSession[] = [];
      for (let i = 1; i + 1 < reply.length; i += 2) {
        const session = this.parseSession(String(reply[i]), reply[i + 1]);
        if (session.leaseUntil > now) entries.push(session);
      }
      return { now, entries };
    });
  }

  // -- resumption ------------------------------------------------------------------------------

  private parseResumption(raw: unknown): StoredResumption {
    const j = parseJson<ResumptionJson>(raw, 'resumption record');
    return { id: j.i, fullJid: j.j, gatewayId: j.g, sessionId: j.s, inbound: Number(j.in), outbound: Number(j.out), epoch: Number(j.e) };
  }

  async resumptionPut(state: Omit<StoredResumption, 'epoch'>, ttlMs: number, epoch?: number) {
    return this.run(async () => {
      const record: StoredResumption = { ...state, epoch: epoch ?? 1 };
      const json = JSON.stringify({ i: record.id, j: record.fullJid, g: record.gatewayId, s: record.sessionId, in: record.inbound, out: record.outbound, e: record.epoch });
      const reply = (await this.scripts.resumptionPut(this.keys.resumption(state.id), json, epoch ?? '', ttlMs)) as unknown[];
      const now = Number(reply[1]);
      if (Number(reply[0]) !== 1) return { ok: false, now };
      return { ok: true, record, expiresAt: Number(reply[2]), now };
    });
  }

  async resumptionGet(id: string) {
    return this.run(async () => {
      const [raw, pttl, now] = (await this.scripts.stringWithTtl(this.keys.resumption(id))) as [unknown, unknown, unknown];
      if (typeof raw !== 'string' || Number(pttl) <= 0) return undefined;
      return { now: Number(now), record: this.parseResumption(raw), expiresAt: Number(now) + Number(pttl) };
    });
  }

  async resumptionClaim(id: string, gatewayId: string, sessionId: string) {
    return this.run(async () => {
      const reply = (await this.scripts.resumptionClaim(this.keys.resumption(id), gatewayId, sessionId)) as unknown[] | null;
      if (!Array.isArray(reply)) return undefined;
      return { previous: this.parseResumption(reply[0]), record: this.parseResumption(reply[1]), now: Number(reply[2]), expiresAt: Number(reply[3]) };
    });
  }

  async resumptionUpdate(id: string, epoch: number, patch: { inbound?: number; outbound?: number }, ttlMs?: number): Promise<boolean> {
    return this.run(
      async () =>
        Number(await this.scripts.resumptionUpdate(this.keys.resumption(id), epoch, patch.inbound ?? '', patch.outbound ?? '', ttlMs ?? '')) === 1,
    );
  }

  async resumptionDelete(id: string, epoch?: number): Promise<boolean> {
    return this.run(async () => Number(await this.scripts.resumptionDelete(this.keys.resumption(id), epoch ?? '')) === 1);
  }

  // -- see-other-host --------------------------------------------------------------------------

  async sohSet(key: string, target: string, ttlMs?: number): Promise<void> {
    await this.run(async () => {
      // The index first, so a listed key always has had a value; list() drops index entries whose value expired.
      await this.commands.zadd(this.keys.seeOtherHostIndex, 0, key);
      const json = JSON.stringify({ t: target });
      if (ttlMs === undefined) await this.commands.set(this.keys.seeOtherHost(key), json);
      else await this.commands.set(this.keys.seeOtherHost(key), json, 'PX', ttlMs);
    });
  }

  private async sohFetch(key: string): Promise<{ now: number; entry: StoredSeeOtherHost } | undefined> {
    const [raw, pttl, now] = (await this.scripts.stringWithTtl(this.keys.seeOtherHost(key))) as [unknown, unknown, unknown];
    if (typeof raw !== 'string') return undefined;
    const { t } = parseJson<{ t: string }>(raw, `see-other-host ${key}`);
    const ttl = Number(pttl);
    const entry: StoredSeeOtherHost = ttl > 0 ? { key, target: t, expiresAt: Number(now) + ttl } : { key, target: t };
    return { now: Number(now), entry };
  }

  async sohGet(key: string) {
    return this.run(() => this.sohFetch(key));
  }

  async sohDelete(key: string): Promise<boolean> {
    return this.run(async () => {
      const removed = await this.commands.del(this.keys.seeOtherHost(key));
      await this.commands.zrem(this.keys.seeOtherHostIndex, key);
      return removed > 0;
    });
  }

  async sohList(after: string | undefined, limit: number) {
    return this.run(async () => {
      const entries: StoredSeeOtherHost[] = [];
      let now = 0;
      let cursor = after;
      // Collect limit + 1 live entries (the extra one says whether there is a next page).
      while (entries.length <= limit) {
        const want = limit + 1 - entries.length;
        const batch = await this.commands.zrangebylex(this.keys.seeOtherHostIndex, cursor === undefined ? '-' : `(${cursor}`, '+', 'LIMIT', 0, want);
        if (batch.length === 0) break;
        const fetched = await Promise.all(batch.map((key) => this.sohFetch(key)));
        const expired: string[] = [];
        for (const [i, found] of fetched.entries()) {
          if (found === undefined) {
            expired.push(batch[i] as string);
          } else {
            now = Math.max(now, found.now);
            entries.push(found.entry);
          }
        }
        // One ZREM per page for the index entries whose value expired, not one round trip each.
        if (expired.length > 0) await this.commands.zrem(this.keys.seeOtherHostIndex, ...expired);
        cursor = batch[batch.length - 1];
        if (batch.length < want) break;
      }
      if (now === 0) now = Number(((await this.scripts.hashWithTime(this.keys.seeOtherHostIndex)) as unknown[])[0]);
      return { now, entries: entries.slice(0, limit), more: entries.length > limit };
    });
  }

  // -- credentials -----------------------------------------------------------------------------

  async credGet(domain: string, user: string) {
    return this.run(async () => {
      const raw = await this.commands.hget(this.keys.credentials(domain), user);
      return raw === null ? undefined : parseJson<CredentialRecord>(raw, `credentials of ${user}`);
    });
  }

  async credPut(domain: string, user: string, record: CredentialRecord, onlyIfAbsent: boolean): Promise<boolean> {
    return this.run(
      async () =>
        Number(
          await this.scripts.credentialPut(this.keys.credentials(domain), this.keys.credentialIndex(domain), user, JSON.stringify(record), onlyIfAbsent ? '1' : '0'),
        ) === 1,
    );
  }

  async credDelete(domain: string, user: string): Promise<boolean> {
    return this.run(async () => Number(await this.scripts.credentialDelete(this.keys.credentials(domain), this.keys.credentialIndex(domain), user)) === 1);
  }

  async credList(domain: string, after: string | undefined, limit: number) {
    return this.run(async () => {
      const users = await this.commands.zrangebylex(this.keys.credentialIndex(domain), after === undefined ? '-' : `(${after}`, '+', 'LIMIT', 0, limit + 1);
      return { users: users.slice(0, limit), more: users.length > limit };
    });
  }

  // -- counters --------------------------------------------------------------------------------

  async counterIncrement(key: string, windowMs: number, by: number): Promise<number> {
    return this.run(async () => Number(await this.scripts.counterIncrement(this.keys.counter(key), by, windowMs)));
  }

  async counterGet(key: string): Promise<number> {
    return this.run(async () => {
      const raw = await this.commands.get(this.keys.counter(key));
      return raw === null ? 0 : Number(raw);
    });
  }

  async counterReset(key: string): Promise<void> {
    await this.run(async () => this.commands.del(this.keys.counter(key)));
  }

  // -- events ----------------------------------------------------------------------------------

  async publish(message: string): Promise<void> {
    await this.run(async () => this.commands.publish(this.keys.events, message));
  }

  async subscribe(handler: (message: string) => void): Promise<void> {
    this.handler = handler;
    await this.run(async () => {
      await this.whenReady(this.subscriber, 'events');
      if (this.eventsUp) return;
      await this.subscriber.subscribe(this.keys.events);
      this.markSubscribed();
    });
  }
}
