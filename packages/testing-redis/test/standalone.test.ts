import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort, sendCommand, startRedis, stopAll, type RedisServer } from '../src/index.js';
import { processGone } from './helpers/processes.js';

const clients: Redis[] = [];

function connect(server: RedisServer): Redis {
  // No retries: a test that reaches a dead server should fail, not wait.
  const client = new Redis(server.port, server.host, { maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: false });
  clients.push(client);
  return client;
}

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});
afterAll(async () => {
  await stopAll();
});

async function configValue(server: RedisServer, name: string): Promise<string | undefined> {
  const reply = await sendCommand(server, ['CONFIG', 'GET', name]);
  return Array.isArray(reply) && typeof reply[1] === 'string' ? reply[1] : undefined;
}

describe('freePort', () => {
  it('hands out distinct, bindable loopback ports, never the machine Redis ports', async () => {
    const ports = await Promise.all(Array.from({ length: 20 }, () => freePort()));
    expect(new Set(ports).size).toBe(ports.length);
    for (const port of ports) expect([6379, 16379, 26379]).not.toContain(port);
    const port = ports[0] as number;
    const server = createServer();
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
});

describe('startRedis', () => {
  it('starts a loopback-only, non-persistent server and stop() leaves no process and no directory', async () => {
    const server = await startRedis();
    expect(server.host).toBe('127.0.0.1');
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(server.dir.startsWith(tmpdir())).toBe(true);
    expect(server.running).toBe(true);
    expect(processGone(server.pid)).toBe(false);

    const client = connect(server);
    expect(await client.ping()).toBe('PONG');
    expect(await client.set('greeting', 'hello')).toBe('OK');
    expect(await configValue(server, 'bind')).toBe('127.0.0.1');
    expect(await configValue(server, 'save')).toBe('');
    expect(await configValue(server, 'appendonly')).toBe('no');
    expect(await configValue(server, 'dir')).toBe(server.dir);

    const pid = server.pid;
    await server.stop();
    expect(processGone(pid)).toBe(true);
    expect(existsSync(server.dir)).toBe(false);
    expect(server.running).toBe(false);
    await server.stop(); // idempotent
    await expect(server.restart()).rejects.toMatchObject({ code: 'ERR_REDIS_STOPPED' });
  });

  it('passes extra arguments and honours a requested port', async () => {
    const port = await freePort();
    const server = await startRedis({ port, args: ['--maxmemory', '12mb', '--maxmemory-policy', 'allkeys-lru'] });
    expect(server.port).toBe(port);
    expect(await configValue(server, 'maxmemory')).toBe(String(12 * 1024 * 1024));
    expect(await configValue(server, 'maxmemory-policy')).toBe('allkeys-lru');
    await server.stop();
  });

  it('reports a requested port that another process holds, and refuses 6379', async () => {
    // A silent stranger on the port: it accepts connections and never answers.
    const holder: Server = createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const address = holder.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    try {
      await expect(startRedis({ port })).rejects.toMatchObject({ code: 'ERR_REDIS_PORT_IN_USE' });
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
    await expect(startRedis({ port: 6379 })).rejects.toMatchObject({ code: 'ERR_REDIS_INVALID_OPTION' });
  });
});

describe('restart', () => {
  it('keeps the port and the data by default, with a new process', async () => {
    const server = await startRedis();
    const { port } = server;
    await connect(server).set('kept', 'yes');
    const firstPid = server.pid;

    await server.restart();
    expect(server.port).toBe(port);
    expect(server.pid).not.toBe(firstPid);
    expect(processGone(firstPid)).toBe(true);
    expect(await connect(server).get('kept')).toBe('yes');
    await server.stop();
  });

  it('with empty: true comes back on the same port without data', async () => {
    const server = await startRedis();
    const { port } = server;
    const client = connect(server);
    await client.set('lost', 'soon');
    expect(await client.dbsize()).toBe(1);

    await server.restart({ empty: true });
    expect(server.port).toBe(port);
    const after = connect(server);
    expect(await after.get('lost')).toBeNull();
    expect(await after.dbsize()).toBe(0);
    await server.stop();
  });

  it('after kill() loses the data without persistence and keeps it with persistence', async () => {
    const volatile = await startRedis();
    const durable = await startRedis({ persistence: true });
    expect(await configValue(durable, 'appendonly')).toBe('yes');
    // A snapshot from an earlier restart must not resurrect data after a crash.
    await connect(volatile).set('old', '1');
    await volatile.restart();
    await connect(volatile).set('new', '2');
    // With appendfsync everysec the write reaches the AOF file before the reply; a SIGKILL keeps it.
    await connect(durable).set('durable', 'yes');

    for (const server of [volatile, durable]) {
      const pid = server.pid;
      await server.kill();
      expect(server.running).toBe(false);
      expect(processGone(pid)).toBe(true);
      expect(existsSync(server.dir)).toBe(true);
      await server.restart();
      expect(server.running).toBe(true);
    }
    expect(await connect(volatile).dbsize()).toBe(0);
    expect(await connect(durable).get('durable')).toBe('yes');
    await volatile.stop();
    await durable.stop();
  });
});

describe('stopAll', () => {
  it('stops every server this process started', async () => {
    const servers = await Promise.all([startRedis(), startRedis()]);
    const pids = servers.map((server) => server.pid);
    await stopAll();
    for (const pid of pids) expect(processGone(pid)).toBe(true);
    for (const server of servers) expect(existsSync(server.dir)).toBe(false);
  });
});
