/**
 * A Redis Cluster built by hand, the way `redis-cli --cluster create` does it but with every step
 * checked and bounded (no redis-cli needed): assign slots, give each node a distinct config epoch,
 * CLUSTER MEET, attach replicas, then wait until every node agrees on the whole configuration.
 * Reference: https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/
 */
import { redisVersion } from './binaries.js';
import { RedisReplyError, TestingRedisError, hasCode } from './errors.js';
import { registerTopology, unregisterTopology } from './lifecycle.js';
import { freePort } from './ports.js';
import { parseInfo, sendCommand, type RespValue } from './resp.js';
import { LOOPBACK, launch, type RedisServer } from './server.js';
import { waitFor } from './wait.js';

/** Hash slots of a Redis Cluster (cluster spec, "Key distribution model"). */
export const CLUSTER_SLOTS = 16384;
/** Default `cluster-node-timeout`: how long a node may be unreachable before it is flagged failing. */
export const DEFAULT_NODE_TIMEOUT_MS = 2000;
/** Upper bound on nodes one call starts (each is a process). */
const MAX_NODES = 64;
const CLUSTER_READY_TIMEOUT_MS = 30_000;
const ADMIN_TIMEOUT_MS = 2000;

export interface RedisCluster {
  /**
   * Every node, primaries first (`nodes[i]` for i < primaries), then the replicas: replica j of
   * primary i is `nodes[primaries + i * replicasPerPrimary + j]`. Roles are those at creation.
   */
  readonly nodes: RedisServer[];
  readonly startupNodes: Array<{ host: string; port: number }>;
  /** `redis-cluster://127.0.0.1:<p1>,127.0.0.1:<p2>,...` listing every node, primaries first. */
  readonly url: string;
  /** Stops the replicas, then the primaries. Idempotent. */
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** Default 3. */
  primaries?: number;
  /** Default 0. */
  replicasPerPrimary?: number;
  /** `cluster-node-timeout`; default 2000. */
  nodeTimeoutMs?: number;
}

function admin(port: number, args: Array<string | number>): Promise<RespValue> {
  return sendCommand({ host: LOOPBACK, port }, args, { timeoutMs: ADMIN_TIMEOUT_MS });
}

/** One line of CLUSTER NODES (cluster spec, "CLUSTER NODES" output format). */
interface NodeLine {
  id: string;
  port: number;
  flags: Set<string>;
  masterId: string;
  linkState: string;
  slots: string;
}

function parseClusterNodes(reply: RespValue): NodeLine[] {
  if (typeof reply !== 'string') return [];
  const lines: NodeLine[] = [];
  for (const line of reply.split('\n')) {
    const fields = line.trim().split(' ');
    if (fields.length < 8) continue;
    // <ip:port@cport[,hostname]>
    const address = fields[1] ?? '';
    const port = Number(address.slice(address.lastIndexOf(':') + 1, address.indexOf('@')));
    lines.push({
      id: fields[0] ?? '',
      port,
      flags: new Set((fields[2] ?? '').split(',')),
      masterId: fields[3] ?? '-',
      linkState: fields[7] ?? '',
      slots: fields.slice(8).sort().join(' '),
    });
  }
  return lines;
}

const UNHEALTHY_FLAGS = ['handshake', 'noaddr', 'fail', 'fail?', 'nofailover'];

class ManagedCluster implements RedisCluster {
  readonly nodes: RedisServer[];
  readonly #primaryCount: number;
  #stopped = false;

  constructor(nodes: RedisServer[], primaryCount: number) {
    this.nodes = nodes;
    this.#primaryCount = primaryCount;
  }

  get startupNodes(): Array<{ host: string; port: number }> {
    return this.nodes.map((node) => ({ host: node.host, port: node.port }));
  }

  get url(): string {
    return `redis-cluster://${this.nodes.map((node) => `${node.host}:${node.port}`).join(',')}`;
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    unregisterTopology(this);
    const failures: unknown[] = [];
    for (const batch of [this.nodes.slice(this.#primaryCount), this.nodes.slice(0, this.#primaryCount)]) {
      const results = await Promise.allSettled(batch.map((node) => node.stop()));
      for (const result of results) if (result.status === 'rejected') failures.push(result.reason);
    }
    if (failures.length > 0) throw failures[0];
  }
}

function positiveInteger(name: string, value: number, minimum: number): void {
  if (!Number.isInteger(value) || value < minimum) {
    throw new TestingRedisError('ERR_REDIS_INVALID_OPTION', `${name} ${value}: use an integer of at least ${minimum}`);
  }
}

/**
 * Starts `primaries` primaries sharing the 16384 slots evenly, each with `replicasPerPrimary`
 * replicas, and resolves once every node reports cluster_state:ok and agrees on slots and roles.
 */
export async function startCluster(opts: StartClusterOptions = {}): Promise<RedisCluster> {
  const primaryCount = opts.primaries ?? 3;
  const replicasPerPrimary = opts.replicasPerPrimary ?? 0;
  const nodeTimeoutMs = opts.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
  positiveInteger('primaries', primaryCount, 1);
  positiveInteger('replicasPerPrimary', replicasPerPrimary, 0);
  positiveInteger('nodeTimeoutMs', nodeTimeoutMs, 100);
  const nodeCount = primaryCount * (1 + replicasPerPrimary);
  if (nodeCount > MAX_NODES) throw new TestingRedisError('ERR_REDIS_INVALID_OPTION', `${nodeCount} nodes requested; at most ${MAX_NODES}`);
  if (primaryCount > CLUSTER_SLOTS) throw new TestingRedisError('ERR_REDIS_INVALID_OPTION', `more primaries than slots`);

  const version = await redisVersion();
  if (version.major < 7) {
    // cluster-port (a bus port chosen freely rather than port + 10000) and ADDSLOTSRANGE need 7.0.
    throw new TestingRedisError('ERR_REDIS_VERSION', `startCluster needs Redis 7.0 or later; redis-server is ${version.text}`);
  }

  const busPorts = new Map<number, number>();
  const launched = await Promise.allSettled(
    Array.from({ length: nodeCount }, () =>
      launch({
        kind: 'redis',
        configure: async (port) => {
          // The bus port is its own free port: port + 10000 may exceed 65535 or be taken.
          const busPort = await freePort(LOOPBACK);
          busPorts.set(port, busPort);
          return [
            'cluster-enabled yes',
            'cluster-config-file nodes.conf',
            `cluster-port ${busPort}`,
            `cluster-node-timeout ${nodeTimeoutMs}`,
            // A replica may take over however long it was disconnected: tests kill nodes at will.
            'cluster-replica-validity-factor 0',
          ];
        },
      }),
    ),
  );
  const nodes: RedisServer[] = [];
  for (const result of launched) if (result.status === 'fulfilled') nodes.push(result.value);
  try {
    const launchFailure = launched.find((result) => result.status === 'rejected');
    if (launchFailure !== undefined) throw launchFailure.reason;

    const primaries = nodes.slice(0, primaryCount);
    const replicas = nodes.slice(primaryCount);

    // Distinct config epochs before the nodes meet, so no epoch collision has to be resolved
    // (cluster spec, "Configuration epoch"; redis-cli does the same).
    await Promise.all(nodes.map((node, index) => admin(node.port, ['CLUSTER', 'SET-CONFIG-EPOCH', index + 1])));
    await Promise.all(
      primaries.map((node, index) => {
        const first = Math.floor((index * CLUSTER_SLOTS) / primaryCount);
        const last = Math.floor(((index + 1) * CLUSTER_SLOTS) / primaryCount) - 1;
        return admin(node.port, ['CLUSTER', 'ADDSLOTSRANGE', first, last]);
      }),
    );
    const introducer = nodes[0] as RedisServer;
    for (const node of nodes.slice(1)) {
      await admin(introducer.port, ['CLUSTER', 'MEET', LOOPBACK, node.port, busPorts.get(node.port) ?? node.port + 10000]);
    }

    const ids = await Promise.all(nodes.map(async (node) => String(await admin(node.port, ['CLUSTER', 'MYID']))));
    // Gossip spreads the meeting; a replica can only follow a primary it knows.
    await waitFor(
      `all ${nodeCount} cluster nodes to know each other`,
      async () => {
        for (const node of nodes) {
          const known = parseClusterNodes(await admin(node.port, ['CLUSTER', 'NODES']));
          const settled = known.filter((line) => !line.flags.has('handshake') && !line.flags.has('noaddr'));
          if (settled.length !== nodeCount) return { notYet: `node ${node.port} knows ${settled.length} of ${nodeCount}` };
        }
        return { done: undefined };
      },
      { timeoutMs: CLUSTER_READY_TIMEOUT_MS },
    );

    const expectedMaster = new Map<string, string>();
    await Promise.all(
      replicas.map((node, offset) => {
        const primaryId = ids[Math.floor(offset / replicasPerPrimary)] as string;
        expectedMaster.set(ids[primaryCount + offset] as string, primaryId);
        return admin(node.port, ['CLUSTER', 'REPLICATE', primaryId]);
      }),
    );

    await waitFor(
      `cluster of ${nodeCount} nodes to report cluster_state:ok and agree on its configuration`,
      async () => {
        let reference: string | undefined;
        for (const node of nodes) {
          const info = parseInfo(await admin(node.port, ['CLUSTER', 'INFO']));
          if (info.get('cluster_state') !== 'ok') return { notYet: `node ${node.port} cluster_state ${info.get('cluster_state')}` };
          if (Number(info.get('cluster_slots_ok')) !== CLUSTER_SLOTS) return { notYet: `node ${node.port} cluster_slots_ok ${info.get('cluster_slots_ok')}` };
          if (Number(info.get('cluster_known_nodes')) !== nodeCount) return { notYet: `node ${node.port} knows ${info.get('cluster_known_nodes')} nodes` };
          if (Number(info.get('cluster_size')) !== primaryCount) return { notYet: `node ${node.port} cluster_size ${info.get('cluster_size')}` };
          const lines = parseClusterNodes(await admin(node.port, ['CLUSTER', 'NODES']));
          for (const line of lines) {
            const bad = UNHEALTHY_FLAGS.find((flag) => line.flags.has(flag));
            if (bad !== undefined) return { notYet: `node ${node.port} flags ${line.port} ${bad}` };
            if (!line.flags.has('myself') && line.linkState !== 'connected') return { notYet: `node ${node.port} link to ${line.port} ${line.linkState}` };
            const master = expectedMaster.get(line.id);
            if (master !== undefined && line.masterId !== master) return { notYet: `node ${node.port} sees ${line.port} following ${line.masterId}` };
          }
          // Same slots and roles from every node's point of view (what redis-cli calls the config signature).
          const signature = lines
            .map((line) => `${line.id}:${line.masterId}:${line.slots}`)
            .sort()
            .join('|');
          if (reference === undefined) reference = signature;
          else if (signature !== reference) return { notYet: `node ${node.port} disagrees on the configuration` };
        }
        for (const replica of replicas) {
          const replication = parseInfo(await admin(replica.port, ['INFO', 'replication']));
          if (replication.get('master_link_status') !== 'up') return { notYet: `replica ${replica.port} link ${replication.get('master_link_status')}` };
        }
        return { done: undefined };
      },
      { timeoutMs: CLUSTER_READY_TIMEOUT_MS, maxIntervalMs: 250 },
    );

    const cluster = new ManagedCluster(nodes, primaryCount);
    registerTopology(cluster);
    return cluster;
  } catch (error) {
    await Promise.allSettled(nodes.map((node) => node.stop()));
    if (error instanceof RedisReplyError || hasCode(error, 'ERR_REDIS_TIMEOUT')) {
      throw new TestingRedisError(hasCode(error, 'ERR_REDIS_TIMEOUT') ? 'ERR_REDIS_TIMEOUT' : 'ERR_REDIS_START_FAILED', `cluster creation failed: ${(error as Error).message}`, { cause: error });
    }
    throw error;
  }
}
