/**
 * A Sentinel group: one primary, one replica, three Sentinels with quorum 2, all on loopback.
 * Small timeouts let a failover finish in seconds. Sentinel behaviour referenced below is from
 * https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/ ("Sentinel API",
 * "Configuration propagation", "Slaves selection and priority").
 */
import { RedisReplyError, TestingRedisError, hasCode, replyPrefix } from './errors.js';
import { registerTopology, unregisterTopology } from './lifecycle.js';
import { pairsToMap, parseInfo, sendCommand, sendCommands, type RespValue } from './resp.js';
import { LOOPBACK, launch, type RedisServer } from './server.js';
import { waitFor } from './wait.js';

/** Sentinels needed to agree that the primary is down (and to authorise an automatic failover). */
const QUORUM = 2;
const SENTINEL_COUNT = 3;
/** Default `down-after-milliseconds`: how long the primary may be silent before it counts as down. */
export const DEFAULT_DOWN_AFTER_MS = 1000;
/**
 * `failover-timeout`: bounds a failover that stalls, and spaces automatic retries (2x). A
 * successful forced failover never waits for it, so a small value only speeds up recovery.
 */
const FAILOVER_TIMEOUT_MS = 5000;
/** Bound on the group becoming ready (replication, Sentinels discovering each other). */
const GROUP_READY_TIMEOUT_MS = 30_000;
/** Bound on failover(): from SENTINEL FAILOVER until the old primary replicates from the new one. */
const FAILOVER_WAIT_MS = 30_000;
const ADMIN_TIMEOUT_MS = 2000;

export interface SentinelGroup {
  readonly masterName: string;
  /** The server the Sentinels report as primary, as of start or the last failover(). */
  readonly primary: RedisServer;
  readonly replica: RedisServer;
  readonly sentinels: RedisServer[];
  readonly sentinelAddresses: Array<{ host: string; port: number }>;
  /** `redis-sentinel://127.0.0.1:<p1>,127.0.0.1:<p2>,127.0.0.1:<p3>/<masterName>` */
  readonly url: string;
  /**
   * SENTINEL FAILOVER, then waits until all three Sentinels report the new primary, it accepts
   * writes, and the old primary (if running) replicates from it.
   */
  failover(): Promise<{ newPrimaryPort: number }>;
  /** Stops the Sentinels first (so they do not react), then the replica, then the primary. */
  stop(): Promise<void>;
}

export interface StartSentinelGroupOptions {
  /** Default `mymaster`. Letters, digits, `-`, `_`, `.` only. */
  masterName?: string;
  /** Sentinel `down-after-milliseconds`; default 1000. */
  downAfterMs?: number;
}

function admin(port: number, args: Array<string | number>): Promise<RespValue> {
  return sendCommand({ host: LOOPBACK, port }, args, { timeoutMs: ADMIN_TIMEOUT_MS });
}

async function replicationInfo(port: number): Promise<Map<string, string>> {
  return parseInfo(await admin(port, ['INFO', 'replication']));
}

/** The primary port one Sentinel reports for `masterName` (SENTINEL GET-MASTER-ADDR-BY-NAME). */
async function reportedPrimaryPort(sentinelPort: number, masterName: string): Promise<number | undefined> {
  const reply = await admin(sentinelPort, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName]);
  if (!Array.isArray(reply) || reply.length !== 2) return undefined;
  const port = Number(reply[1]);
  return Number.isInteger(port) ? port : undefined;
}

/** Replicas one Sentinel knows for `masterName`, each as a field map (SENTINEL REPLICAS). */
async function knownReplicas(sentinelPort: number, masterName: string): Promise<Array<Map<string, string>>> {
  const reply = await admin(sentinelPort, ['SENTINEL', 'REPLICAS', masterName]);
  return Array.isArray(reply) ? reply.map((entry) => pairsToMap(entry)) : [];
}

/**
 * True when the Sentinel sees `replicaPort` as a healthy replica: flagged `slave` only (no
 * s_down, disconnected...), with its link to the primary up. Only such a replica can be chosen
 * by a failover ("Slaves selection and priority").
 */
function healthyReplica(replicas: Array<Map<string, string>>, replicaPort: number, requireLinkOk: boolean): boolean {
  return replicas.some(
    (fields) =>
      Number(fields.get('port')) === replicaPort &&
      fields.get('flags') === 'slave' &&
      (!requireLinkOk || fields.get('master-link-status') === 'ok'),
  );
}

async function waitForReplicationLink(replica: RedisServer, primaryPort: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `replica ${replica.port} to sync from ${primaryPort}`,
    async () => {
      const info = await replicationInfo(replica.port);
      if (info.get('role') !== 'slave' || Number(info.get('master_port')) !== primaryPort) {
        return { notYet: `role ${info.get('role')} of ${info.get('master_port') ?? 'none'}` };
      }
      if (info.get('master_link_status') !== 'up') return { notYet: `master_link_status ${info.get('master_link_status')}` };
      return { done: undefined };
    },
    { timeoutMs },
  );
}

class ManagedSentinelGroup implements SentinelGroup {
  readonly masterName: string;
  readonly sentinels: RedisServer[];
  readonly #dataServers: [RedisServer, RedisServer];
  /** Index in #dataServers of the current primary. */
  #primaryIndex = 0;
  #stopped = false;
  #failoverInProgress: Promise<{ newPrimaryPort: number }> | undefined;

  constructor(masterName: string, primary: RedisServer, replica: RedisServer, sentinels: RedisServer[]) {
    this.masterName = masterName;
    this.#dataServers = [primary, replica];
    this.sentinels = sentinels;
  }

  get primary(): RedisServer {
    return this.#dataServers[this.#primaryIndex] as RedisServer;
  }

  get replica(): RedisServer {
    return this.#dataServers[1 - this.#primaryIndex] as RedisServer;
  }

  get sentinelAddresses(): Array<{ host: string; port: number }> {
    return this.sentinels.map((sentinel) => ({ host: sentinel.host, port: sentinel.port }));
  }

  get url(): string {
    return `redis-sentinel://${this.sentinels.map((sentinel) => `${sentinel.host}:${sentinel.port}`).join(',')}/${this.masterName}`;
  }

  /**
   * Waits until every running Sentinel sees the primary, the replica and the other Sentinels.
   * `replicaLinkReported`: also wait for the Sentinels to report the replica's link as ok, which
   * they learn from INFO only every 10 s; on start the first INFO already shows it.
   */
  async waitUntilSettled(timeoutMs: number, replicaLinkReported: boolean): Promise<void> {
    const primaryPort = this.primary.port;
    const replicaPort = this.replica.port;
    const liveSentinels = this.sentinels.filter((sentinel) => sentinel.running);
    await waitFor(
      `Sentinels of ${this.masterName} to agree on primary ${primaryPort} and replica ${replicaPort}`,
      async () => {
        for (const sentinel of liveSentinels) {
          const master = pairsToMap(await admin(sentinel.port, ['SENTINEL', 'MASTER', this.masterName]));
          if (Number(master.get('port')) !== primaryPort) return { notYet: `sentinel ${sentinel.port} reports primary ${master.get('port')}` };
          if (master.get('flags') !== 'master') return { notYet: `sentinel ${sentinel.port} flags primary ${master.get('flags')}` };
          // Sentinels find each other through hello messages on the primary, every 2 s ("Sentinels and replicas auto discovery").
          const others = Number(master.get('num-other-sentinels'));
          if (others !== liveSentinels.length - 1) return { notYet: `sentinel ${sentinel.port} knows ${others} other Sentinels` };
          if (!healthyReplica(await knownReplicas(sentinel.port, this.masterName), replicaPort, replicaLinkReported)) {
            return { notYet: `sentinel ${sentinel.port} does not see replica ${replicaPort} healthy yet` };
          }
        }
        return { done: undefined };
      },
      { timeoutMs, maxIntervalMs: 250 },
    );
  }

  failover(): Promise<{ newPrimaryPort: number }> {
    // One failover at a time: a second SENTINEL FAILOVER would only get -INPROG.
    const previous = this.#failoverInProgress ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.#failover());
    this.#failoverInProgress = next;
    return next;
  }

  async #failover(): Promise<{ newPrimaryPort: number }> {
    if (this.#stopped) throw new TestingRedisError('ERR_REDIS_STOPPED', `Sentinel group ${this.masterName} was stopped`);
    const deadline = Date.now() + FAILOVER_WAIT_MS;
    const remaining = (): number => Math.max(1, deadline - Date.now());
    const liveSentinels = this.sentinels.filter((sentinel) => sentinel.running);
    const leader = liveSentinels[0];
    if (leader === undefined) throw new TestingRedisError('ERR_REDIS_STOPPED', `no Sentinel of ${this.masterName} is running`);

    const oldPrimaryPort = (await reportedPrimaryPort(leader.port, this.masterName)) ?? this.primary.port;

    // SENTINEL FAILOVER forces a failover without asking the other Sentinels ("Sentinel API").
    // -NOGOODSLAVE: the Sentinel has no fresh INFO from a healthy replica yet (e.g. just after a
    // previous failover); -INPROG: a failover (perhaps automatic) is running. Both pass with time.
    await waitFor(
      `SENTINEL FAILOVER ${this.masterName} to be accepted`,
      async () => {
        try {
          await admin(leader.port, ['SENTINEL', 'FAILOVER', this.masterName]);
          return { done: undefined };
        } catch (error) {
          const prefix = replyPrefix(error);
          if (prefix === 'NOGOODSLAVE' || prefix === 'INPROG') return { notYet: (error as Error).message };
          return { fail: error as Error };
        }
      },
      { timeoutMs: remaining(), maxIntervalMs: 250 },
    );

    // Every Sentinel learns the new configuration (higher epoch) from hello messages ("Configuration propagation").
    const newPrimaryPort = await waitFor<number>(
      `all Sentinels of ${this.masterName} to report a primary other than ${oldPrimaryPort}`,
      async () => {
        const reported = await Promise.all(liveSentinels.map((sentinel) => reportedPrimaryPort(sentinel.port, this.masterName)));
        const first = reported[0];
        if (first === undefined || first === oldPrimaryPort || reported.some((port) => port !== first)) {
          return { notYet: `Sentinels report ${reported.join(', ')}` };
        }
        return { done: first };
      },
      { timeoutMs: remaining(), maxIntervalMs: 100 },
    );

    const newIndex = this.#dataServers.findIndex((server) => server.port === newPrimaryPort);
    if (newIndex === -1) {
      throw new TestingRedisError('ERR_REDIS_START_FAILED', `Sentinels promoted ${newPrimaryPort}, which is not a server of this group`);
    }
    const newPrimary = this.#dataServers[newIndex] as RedisServer;
    const oldPrimary = this.#dataServers[1 - newIndex] as RedisServer;

    // DEL of a key that does not exist is a write (a read-only replica answers -READONLY) that changes nothing.
    await waitFor(
      `new primary ${newPrimaryPort} to accept writes`,
      async () => {
        const [reply] = await sendCommands({ host: LOOPBACK, port: newPrimaryPort }, [['DEL', '__ambrosia_testing_redis__:write-probe']], {
          timeoutMs: ADMIN_TIMEOUT_MS,
        });
        if (reply instanceof RedisReplyError) return { notYet: reply.message };
        return { done: undefined };
      },
      { timeoutMs: remaining() },
    );
    this.#primaryIndex = newIndex;

    if (oldPrimary.running) {
      await this.#demote(oldPrimary, newPrimaryPort);
      await waitForReplicationLink(oldPrimary, newPrimaryPort, remaining());
      // So that the next failover() finds a replica the Sentinels consider eligible.
      await this.waitUntilSettled(remaining(), false);
    }
    return { newPrimaryPort };
  }

  /**
   * Sentinel turns the old primary into a replica of the new one only after it has seen it report
   * the wrong role for 4 hello periods and a later INFO (about 10 s); meanwhile it accepts writes
   * that will be lost. Do now exactly what Sentinel will do (same MULTI block as Sentinel's
   * sentinelSendSlaveOf): REPLICAOF, persist it, and disconnect clients so they rediscover the
   * primary through the Sentinels.
   */
  async #demote(oldPrimary: RedisServer, newPrimaryPort: number): Promise<void> {
    const info = await replicationInfo(oldPrimary.port);
    if (info.get('role') === 'slave' && Number(info.get('master_port')) === newPrimaryPort) return;
    const replies = await sendCommands(
      { host: LOOPBACK, port: oldPrimary.port },
      [['MULTI'], ['REPLICAOF', LOOPBACK, newPrimaryPort], ['CONFIG', 'REWRITE'], ['CLIENT', 'KILL', 'TYPE', 'normal'], ['CLIENT', 'KILL', 'TYPE', 'pubsub'], ['EXEC']],
      { timeoutMs: ADMIN_TIMEOUT_MS },
    );
    const exec = replies[replies.length - 1];
    const failure = [...replies, ...(Array.isArray(exec) ? exec : [])].find((reply) => reply instanceof RedisReplyError);
    if (failure instanceof RedisReplyError) throw failure;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    unregisterTopology(this);
    await this.#failoverInProgress?.catch(() => undefined);
    const failures: unknown[] = [];
    for (const batch of [this.sentinels, [this.replica], [this.primary]]) {
      const results = await Promise.allSettled(batch.map((server) => server.stop()));
      for (const result of results) if (result.status === 'rejected') failures.push(result.reason);
    }
    if (failures.length > 0) throw failures[0];
  }
}

/**
 * Starts a primary, a replica of it, and three Sentinels monitoring it (quorum 2); resolves once
 * the replica is in sync and every Sentinel knows the replica and the two other Sentinels.
 */
export async function startSentinelGroup(opts: StartSentinelGroupOptions = {}): Promise<SentinelGroup> {
  const masterName = opts.masterName ?? 'mymaster';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(masterName)) {
    throw new TestingRedisError('ERR_REDIS_INVALID_OPTION', `master name ${JSON.stringify(masterName)}: use letters, digits, ".", "_" or "-"`);
  }
  const downAfterMs = opts.downAfterMs ?? DEFAULT_DOWN_AFTER_MS;
  if (!Number.isInteger(downAfterMs) || downAfterMs < 100) {
    throw new TestingRedisError('ERR_REDIS_INVALID_OPTION', `downAfterMs ${downAfterMs}: use an integer of at least 100`);
  }

  const started: RedisServer[] = [];
  try {
    const primary = await launch({ kind: 'redis' });
    started.push(primary);
    // replicaof in redis.conf, not on the command line: after a failover Sentinel rewrites the
    // file (CONFIG REWRITE), and a restart must keep the role Sentinel gave, not the original one.
    const replica = await launch({ kind: 'redis', configure: async () => [`replicaof ${LOOPBACK} ${primary.port}`] });
    started.push(replica);
    // The Sentinels read the replica from the primary's INFO as soon as they connect, so wait
    // for the link first instead of for their next 10 s INFO round.
    await waitForReplicationLink(replica, primary.port, GROUP_READY_TIMEOUT_MS);

    const sentinelConfig = [
      `sentinel monitor ${masterName} ${LOOPBACK} ${primary.port} ${QUORUM}`,
      `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
      `sentinel failover-timeout ${masterName} ${FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${masterName} 1`,
    ];
    const launched = await Promise.allSettled(
      Array.from({ length: SENTINEL_COUNT }, () => launch({ kind: 'sentinel', configure: async () => sentinelConfig })),
    );
    const sentinels: RedisServer[] = [];
    for (const result of launched) if (result.status === 'fulfilled') sentinels.push(result.value);
    started.push(...sentinels);
    const launchFailure = launched.find((result) => result.status === 'rejected');
    if (launchFailure !== undefined) throw launchFailure.reason;

    const group = new ManagedSentinelGroup(masterName, primary, replica, sentinels);
    await group.waitUntilSettled(GROUP_READY_TIMEOUT_MS, true);
    // Quorum and failover authorisation both reachable (SENTINEL CKQUORUM).
    for (const sentinel of sentinels) await admin(sentinel.port, ['SENTINEL', 'CKQUORUM', masterName]);
    registerTopology(group);
    return group;
  } catch (error) {
    await Promise.allSettled(started.reverse().map((server) => server.stop()));
    if (hasCode(error, 'ERR_REDIS_TIMEOUT')) {
      throw new TestingRedisError('ERR_REDIS_TIMEOUT', `Sentinel group ${masterName} did not become ready: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}
