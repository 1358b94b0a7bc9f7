// The ioredis client every adapter on Redis uses, built one way for standalone, Sentinel and
// Cluster. Failure behaviour (docs/registry.md, "When Redis fails", holds for every adapter):
//  - nothing queues: the offline queue is off and in-flight commands are not resent after a
//    reconnect, so a call made while Redis is unreachable fails at once and the caller decides
//    (refuse, retry later) instead of waiting on an unbounded queue;
//  - a command that gets no answer fails after `commandTimeoutMs` (its effect is then unknown);
//  - reconnection is automatic, with exponential backoff capped at `reconnectBackoff.maxMs`;
//  - with Sentinel, READONLY (a demoted primary) makes the client reconnect, so the Sentinels
//    lead it to the new primary; the failed write still fails (the adapter maps it).

import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { parseRedisUrl, type RedisTopology } from './url.js';

/** A connection as createRedisConnection returns it: a client for standalone and Sentinel, a Cluster for Cluster. */
export type RedisConnection = Redis | Cluster;

/** The tuning every adapter on Redis accepts, with the same names and defaults. */
export interface RedisConnectionSettings {
  /** A command without an answer fails after this long. Default 2000. */
  commandTimeoutMs?: number;
  /** A connection attempt gives up after this long (then backs off and retries). Default 5000. */
  connectTimeoutMs?: number;
  /** Reconnection delay: baseMs doubled per attempt, capped at maxMs, plus up to 10% jitter. Default 50 / 2000. */
  reconnectBackoff?: { baseMs?: number; maxMs?: number };
  /** TLS options for rediss:// and ?tls=true (CA, client certificate, servername). */
  tls?: ConnectionOptions;
  /** CLIENT SETNAME, to find the connection in CLIENT LIST. Default "ambrosia". */
  connectionName?: string;
}

export interface RedisConnectionOptions extends RedisConnectionSettings {
  /** One of the forms parseRedisUrl accepts, or a topology it returned. */
  url: string | RedisTopology;
  /**
   * Sends the commands issued in one event-loop turn as one pipeline. Default true; false for a
   * connection that only subscribes.
   */
  autoPipelining?: boolean;
}

export const CONNECTION_DEFAULTS = {
  commandTimeoutMs: 2000,
  connectTimeoutMs: 5000,
  reconnectBaseMs: 50,
  reconnectMaxMs: 2000,
  connectionName: 'ambrosia',
} as const;

/** How long ioredis waits before retrying a command that met a failover, CLUSTERDOWN or TRYAGAIN. */
const CLUSTER_RETRY_DELAYS = { retryDelayOnFailover: 200, retryDelayOnClusterDown: 200, retryDelayOnTryAgain: 100 } as const;
/** MOVED/ASK redirections followed per command before it fails. */
const MAX_REDIRECTIONS = 16;
/** A CLUSTER SLOTS refresh without an answer is abandoned after this long. */
const SLOTS_REFRESH_TIMEOUT_MS = 2000;
/** The exponent stops growing here, so a long outage cannot overflow the delay. */
const MAX_DOUBLINGS = 20;

/**
 * The delay before reconnection attempt `times` (1, 2, ...): baseMs doubled per attempt, capped at
 * maxMs, plus up to 10% jitter so nodes that lost Redis together do not come back in lockstep.
 */
export function reconnectDelay(baseMs: number, maxMs: number, random: () => number = Math.random): (times: number) => number {
  return (times) => {
    const delay = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(times - 1, 0), MAX_DOUBLINGS));
    return Math.round(delay + random() * delay * 0.1);
  };
}

/**
 * A lazily connecting ioredis client (or Cluster) for the URL: nothing is sent until `connect()`
 * or waitUntilReady. Throws RedisUrlError (REDIS_URL_INVALID) for a bad URL. Listen for 'error'
 * on the result: ioredis prints connection errors nobody listens to.
 */
export function createRedisConnection(options: RedisConnectionOptions): RedisConnection {
  const topology = typeof options.url === 'string' ? parseRedisUrl(options.url) : options.url;
  const {
    baseMs = CONNECTION_DEFAULTS.reconnectBaseMs,
    maxMs = CONNECTION_DEFAULTS.reconnectMaxMs,
  } = options.reconnectBackoff ?? {};
  const retry = reconnectDelay(baseMs, maxMs);
  const tls = topology.tls ? (options.tls ?? {}) : undefined;
  const autoPipelining = options.autoPipelining ?? true;
  const perNode: RedisOptions = {
    lazyConnect: true,
    // Nothing waits for a connection: calls fail at once while Redis is unreachable.
    enableOfflineQueue: false,
    // In-flight calls fail when the connection drops; they are never replayed later.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: options.commandTimeoutMs ?? CONNECTION_DEFAULTS.commandTimeoutMs,
    connectTimeout: options.connectTimeoutMs ?? CONNECTION_DEFAULTS.connectTimeoutMs,
    connectionName: options.connectionName ?? CONNECTION_DEFAULTS.connectionName,
    ...(topology.username !== undefined ? { username: topology.username } : {}),
    ...(topology.password !== undefined ? { password: topology.password } : {}),
    ...(tls !== undefined ? { tls } : {}),
  };
  if (topology.mode === 'cluster') {
    const clusterOptions: ClusterOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      enableAutoPipelining: autoPipelining,
      clusterRetryStrategy: retry,
      ...CLUSTER_RETRY_DELAYS,
      maxRedirections: MAX_REDIRECTIONS,
      slotsRefreshTimeout: SLOTS_REFRESH_TIMEOUT_MS,
      redisOptions: perNode,
    };
    return new Cluster(
      topology.nodes.map(({ host, port }) => ({ host, port })),
      clusterOptions,
    );
  }
  const single: RedisOptions = { ...perNode, enableAutoPipelining: autoPipelining, retryStrategy: retry, db: topology.db };
  if (topology.mode === 'standalone') return new Redis({ ...single, host: topology.host, port: topology.port });
  return new Redis({
    ...single,
    sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
    name: topology.masterName,
    role: 'master',
    sentinelRetryStrategy: retry,
    // Subscribes to the Sentinels' +switch-master: follow a failover at once, not at the next error.
    failoverDetector: true,
    ...(topology.sentinelPassword !== undefined ? { sentinelPassword: topology.sentinelPassword } : {}),
    ...(tls !== undefined ? { enableTLSForSentinelMode: true } : {}),
    // A demoted primary answers READONLY: reconnect, and the Sentinels name the new primary.
    reconnectOnError: (error) => error.message.startsWith('READONLY'),
  });
}

/** True when the connection is a Cluster (commands such as INFO must then go to each primary). */
export function isCluster(connection: RedisConnection): connection is Cluster {
  return connection instanceof Cluster;
}
