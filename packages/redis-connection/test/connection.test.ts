// The connection against real redis-server, Sentinel and Cluster processes: what each URL form
// connects to, and the failure behaviour the adapters rely on (nothing queues, commands time out,
// bounded waits, reconnection by itself, READONLY told apart).

import {
  classifyRedisError,
  createRedisConnection,
  defineScripts,
  isCluster,
  isRedisNotReadyError,
  reconnectDelay,
  waitUntilReady,
  type RedisConnection,
  type RedisConnectionOptions,
} from '@ambrosia/redis-connection';
import { freePort, sendCommand, startCluster, startRedis, startSentinelGroup, stopAll, type RedisServer } from '@ambrosia/testing-redis';
import { ReplyError } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const open: RedisConnection[] = [];

function connection(url: string, options: Omit<RedisConnectionOptions, 'url'> = {}): RedisConnection {
  const created = createRedisConnection({ url, connectTimeoutMs: 2000, reconnectBackoff: { baseMs: 20, maxMs: 200 }, ...options });
  created.on('error', () => {});
  open.push(created);
  return created;
}

async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

afterEach(() => {
  for (const c of open.splice(0)) c.disconnect();
});
afterAll(() => stopAll());

describe('standalone', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });

  it('connects lazily, to the database and with the name the URL and options give', async () => {
    const c = connection(`${server.url}/3`, { connectionName: 'ambrosia-test' });
    expect(c.status).toBe('wait'); // nothing is sent before waitUntilReady or connect()
    await waitUntilReady(c, 2000);
    await waitUntilReady(c, 2000); // already ready: resolves at once
    expect(isCluster(c)).toBe(false);
    const info = String(await c.call('CLIENT', 'INFO'));
    expect(info).toContain('db=3');
    expect(info).toContain('name=ambrosia-test');
  });

  it('authenticates with the user and password of the URL', async () => {
    await sendCommand({ port: server.port }, ['ACL', 'SETUSER', 'alice', 'on', '>s3cr:et@', '~*', '+@all']);
    const c = connection(`redis://alice:${encodeURIComponent('s3cr:et@')}@${server.host}:${server.port}`);
    await waitUntilReady(c, 2000);
    expect(await c.call('ACL', 'WHOAMI')).toBe('alice');
  });

  it('queues nothing: a command before the connection is up fails at once', async () => {
    const c = connection(server.url);
    const error = await failureOf(c.get('k'));
    expect(String(error)).toMatch(/enableOfflineQueue|writeable/i);
    expect(classifyRedisError(error)).toBe('unavailable');
  });

  it('fails a command that gets no answer after commandTimeoutMs, and tells the kinds of failure apart', async () => {
    const c = connection(server.url, { commandTimeoutMs: 200 });
    await waitUntilReady(c, 2000);
    const stalled = failureOf(c.call('DEBUG', 'SLEEP', '1'));
    const error = await failureOf(c.get('k'));
    expect(String(error)).toMatch(/timed out/i);
    expect(classifyRedisError(error)).toBe('unavailable');
    await stalled;
    await sleep(1000); // let the server wake up before the next test
    await c.set('string', 'x');
    const rejected = await failureOf(c.lpush('string', 'y'));
    expect(String(rejected)).toMatch(/^ReplyError: WRONGTYPE/);
    expect(classifyRedisError(rejected)).toBe('rejected');
    // "Not now" replies are transient, whatever their origin.
    expect(classifyRedisError(new ReplyError('LOADING Redis is loading the dataset in memory'))).toBe('unavailable');
    expect(classifyRedisError(new ReplyError('CLUSTERDOWN The cluster is down'))).toBe('unavailable');
  });

  it('runs defined scripts, also after the server lost its script cache', async () => {
    const c = connection(server.url);
    await waitUntilReady(c, 2000);
    const scripts = defineScripts(c, {
      incrBy: { numberOfKeys: 1, lua: "return redis.call('INCRBY', KEYS[1], ARGV[1])" },
      echo: { numberOfKeys: 0, lua: 'return ARGV[1]' },
    });
    expect(await scripts.incrBy('script:n', 2)).toBe(2);
    await c.call('SCRIPT', 'FLUSH');
    expect(await scripts.incrBy('script:n', 3)).toBe(5);
    expect(await scripts.echo('hi')).toBe('hi');
  });

  it('reports a write refused by a read-only replica as readonly', async () => {
    const replica = await startRedis();
    try {
      await sendCommand({ port: replica.port }, ['REPLICAOF', '127.0.0.1', server.port]);
      const c = connection(replica.url);
      await waitUntilReady(c, 2000);
      const error = await failureOf(c.set('k', 'v'));
      expect(classifyRedisError(error)).toBe('readonly');
    } finally {
      await replica.stop();
    }
  });

  it('reconnects by itself after an outage, with the backoff capped', async () => {
    const own = await startRedis();
    const c = connection(own.url, { commandTimeoutMs: 500 });
    await waitUntilReady(c, 2000);
    await own.kill();
    expect(classifyRedisError(await failureOf(c.get('k')))).toBe('unavailable');
    await sleep(300); // several attempts at 20, 40, 80... ms, capped at 200
    await own.restart();
    await waitUntilReady(c, 5000);
    expect(await c.ping()).toBe('PONG');
    await own.stop();
  });
});

describe('waitUntilReady', () => {
  it('rejects with REDIS_NOT_READY and the last error when nothing listens', async () => {
    const port = await freePort();
    const c = connection(`redis://127.0.0.1:${port}`);
    const error = await failureOf(waitUntilReady(c, 300));
    expect(isRedisNotReadyError(error)).toBe(true);
    expect((error as { lastError?: string }).lastError).toMatch(/ECONNREFUSED/);
    expect((error as Error).message).toMatch(/^no connection to Redis within 300 ms: .*ECONNREFUSED/);
    expect(c.listenerCount('ready')).toBe(0); // the wait left nothing behind
    expect(classifyRedisError(error)).toBe('unavailable');
  });
});

describe('Sentinel and Cluster', () => {
  it('reaches the primary through the Sentinels', async () => {
    const group = await startSentinelGroup();
    try {
      const c = connection(`${group.url}?db=1`);
      await waitUntilReady(c, 5000);
      expect(isCluster(c)).toBe(false);
      await c.set('sentinel:k', 'v');
      expect(String(await c.info('replication'))).toContain('role:master');
      expect(String(await c.call('CLIENT', 'INFO'))).toContain('db=1');
    } finally {
      await group.stop();
    }
  });

  it('spreads keys over every primary of a cluster', async () => {
    const cluster = await startCluster({ primaries: 3 });
    try {
      const c = connection(cluster.url);
      await waitUntilReady(c, 5000);
      expect(isCluster(c)).toBe(true);
      if (!isCluster(c)) return;
      for (let i = 0; i < 30; i++) await c.set(`cluster:${i}`, String(i));
      expect(await c.get('cluster:17')).toBe('17');
      const counts = await Promise.all(c.nodes('master').map((node) => node.dbsize()));
      expect(counts).toHaveLength(3);
      for (const count of counts) expect(count).toBeGreaterThan(0);
    } finally {
      await cluster.stop();
    }
  });
});

describe('reconnectDelay', () => {
  it('doubles from baseMs, caps at maxMs and adds at most 10% jitter', () => {
    const none = reconnectDelay(50, 2000, () => 0);
    expect([1, 2, 3, 4, 5, 6, 7, 100, 1e9].map(none)).toEqual([50, 100, 200, 400, 800, 1600, 2000, 2000, 2000]);
    expect(none(0)).toBe(50);
    const most = reconnectDelay(50, 2000, () => 0.999999);
    expect(most(1)).toBe(55);
    expect(most(100)).toBe(2200);
  });
});
