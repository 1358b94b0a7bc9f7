// What only the Redis adapter can get wrong: the key layout (one hash slot per account, nothing
// left behind), behaviour when Redis is down or read-only, and the error code for a bad URL.

import { isImStoreError, type ImStore } from '@ambrosia/im-store';
import { accountKeys, createRedisImStore, encodeKeyPart, parseRedisUrl } from '@ambrosia/im-store-redis';
import { parseRedisUrl as sharedParseRedisUrl } from '@ambrosia/redis-connection';
import { freePort, sendCommand, startCluster, startRedis, stopAll, type RedisCluster, type RedisServer } from '@ambrosia/testing-redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

afterAll(() => stopAll());

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (e) {
    expect(isImStoreError(e), String(e)).toBe(true);
    return e as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}

/** Every key matching the pattern on one server (SCAN, so it works on a busy server too). */
async function scanKeys(port: number, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const reply = (await sendCommand({ port }, ['SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000])) as [string, string[]];
    cursor = reply[0];
    keys.push(...reply[1]);
  } while (cursor !== '0');
  return keys;
}

/** Writes something into every structure of the account. */
async function populate(store: ImStore, account: string): Promise<void> {
  await store.roster.update(account, 'romeo@x', () => ({ item: { name: 'Romeo', groups: ['g'] }, pendingIn: { status: 'hi' } }));
  await store.offline.push(account, '<message/>');
  await store.archive.append(account, { with: 'romeo@x', direction: 'in', xml: '<message/>' });
  await store.blocking.add(account, ['spam@x']);
  await store.vcard.set(account, '<vCard/>');
  await store.privateXml.set(account, 'q', 'urn:x', '<q/>');
}

const AWKWARD_ACCOUNTS = ['plain@example.com', '{tag}@x', 'a}b{c@x', 'a:b/c@x', '100%|x@x', 'ünï@例え.jp'];

describe('key layout on a 3-primary cluster', () => {
  let cluster: RedisCluster;
  let store: ImStore;
  beforeAll(async () => {
    cluster = await startCluster({ primaries: 3 });
    store = await createRedisImStore({ url: cluster.url, prefix: 'layout:' });
  });
  afterAll(() => store?.close());

  it('puts every key of an account in one slot, and accounts spread over slots', async () => {
    const slots = new Set<number>();
    for (const account of AWKWARD_ACCOUNTS) {
      await populate(store, account);
      const keys = Object.values(accountKeys('layout:', account));
      const keySlots = await Promise.all(keys.map((k) => sendCommand({ port: cluster.nodes[0]?.port ?? 0 }, ['CLUSTER', 'KEYSLOT', k])));
      expect(new Set(keySlots).size, account).toBe(1);
      slots.add(Number(keySlots[0]));
      // The hash tag is exactly the encoded account: one "{", one "}".
      for (const key of keys) {
        expect(key.split('{')).toHaveLength(2);
        expect(key.split('}')).toHaveLength(2);
        expect(key).toContain(`{${encodeKeyPart(account)}}`);
      }
    }
    expect(slots.size).toBeGreaterThan(1);
  });

  it('deleteAccount leaves no key behind on any node', async () => {
    const nodes = cluster.nodes.slice(0, 3);
    const before = (await Promise.all(nodes.map((n) => scanKeys(n.port, 'layout:*')))).flat();
    expect(before.length).toBeGreaterThan(0);
    for (const account of AWKWARD_ACCOUNTS) await store.deleteAccount(account);
    const after = (await Promise.all(nodes.map((n) => scanKeys(n.port, 'layout:*')))).flat();
    expect(after).toEqual([]);
  });
});

describe('a standalone server', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedis();
  });

  it('forgets a contact entirely once it has neither item nor request', async () => {
    const store = await createRedisImStore({ url: server.url, prefix: 'forget:' });
    const account = 'juliet@x';
    await store.roster.update(account, 'romeo@x', () => ({ pendingIn: { status: 'hi' } }));
    await store.roster.update(account, 'romeo@x', () => ({ pendingIn: null }));
    const keys = accountKeys('forget:', account);
    expect(await sendCommand({ port: server.port }, ['HLEN', keys.revisions])).toBe(0);
    expect(await sendCommand({ port: server.port }, ['HLEN', keys.pending])).toBe(0);
    await store.deleteAccount(account);
    expect(await scanKeys(server.port, 'forget:*')).toEqual([]);
    await store.close();
  });

  it('stores ids beyond 2^50 exactly (Lua numbers travel as strings)', async () => {
    const store = await createRedisImStore({ url: server.url, prefix: 'ids:' });
    const pushed = await store.offline.push('a@x', '<m/>');
    expect(pushed.ok).toBe(true);
    if (!pushed.ok) return;
    expect(Number(pushed.id)).toBeGreaterThan(2 ** 50);
    const stored = (await sendCommand({ port: server.port }, ['ZRANGE', accountKeys('ids:', 'a@x').offlineIds, 0, -1, 'WITHSCORES'])) as string[];
    expect(stored[0]).toBe(pushed.id);
    expect(Number(stored[1])).toBe(Number(pushed.id));
    await store.deleteAccount('a@x');
    await store.close();
  });

  it('rejects a bad prefix, URL or limit before connecting', async () => {
    for (const options of [
      { url: server.url, prefix: 'has{brace' },
      { url: server.url, prefix: '' },
      { url: 'http://127.0.0.1:1' },
      { url: server.url, maxRosterItems: 0 },
      { url: server.url, maxArchiveMessageBytes: 10, maxArchiveBytes: 5 },
    ]) {
      expect((await rejection(createRedisImStore(options))).code).toBe('IM_STORE_INVALID_ARGUMENT');
    }
  });

  it('fails with IM_STORE_UNAVAILABLE when nothing listens, within the connect timeout', async () => {
    const port = await freePort();
    const error = await rejection(createRedisImStore({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 300 }));
    expect(error.code).toBe('IM_STORE_UNAVAILABLE');
  });

  it('fails fast while Redis is down and recovers by itself when it is back', async () => {
    const own = await startRedis();
    const store = await createRedisImStore({ url: own.url, prefix: 'outage:', commandTimeoutMs: 1000, reconnectBackoff: { baseMs: 20, maxMs: 200 } });
    expect((await store.vcard.set('a@x', '<vCard/>')).ok).toBe(true);
    await own.kill();
    expect((await rejection(store.vcard.get('a@x'))).code).toBe('IM_STORE_UNAVAILABLE');
    expect((await rejection(store.offline.push('a@x', '<m/>'))).code).toBe('IM_STORE_UNAVAILABLE');
    await own.restart();
    let recovered = false;
    for (let attempt = 0; attempt < 200 && !recovered; attempt++) {
      try {
        await store.vcard.set('a@x', '<vCard>back</vCard>');
        recovered = true;
      } catch (e) {
        expect(isImStoreError(e, 'IM_STORE_UNAVAILABLE'), String(e)).toBe(true);
        await sleep(50);
      }
    }
    expect(recovered).toBe(true);
    expect(await store.vcard.get('a@x')).toBe('<vCard>back</vCard>');
    // The restarted server has an empty script cache: scripts must still run (EVALSHA falls back to EVAL).
    expect((await store.offline.push('a@x', '<m/>')).ok).toBe(true);
    expect((await store.roster.update('a@x', 'b@x', () => ({ item: {} }))).ok).toBe(true);
    await store.close();
    await own.stop();
  });

  it('reports writes refused by a read-only replica as IM_STORE_READONLY, reads still work', async () => {
    const replica = await startRedis();
    await sendCommand({ port: replica.port }, ['REPLICAOF', '127.0.0.1', server.port]);
    const store = await createRedisImStore({ url: replica.url, prefix: 'readonly:' });
    expect((await rejection(store.vcard.set('a@x', '<vCard/>'))).code).toBe('IM_STORE_READONLY');
    expect((await rejection(store.offline.push('a@x', '<m/>'))).code).toBe('IM_STORE_READONLY');
    expect(await store.vcard.get('a@x')).toBeNull();
    await store.close();
    await replica.stop();
  });
});

// The URL forms themselves are tested in @ambrosia/redis-connection; here only what this package
// adds: the same parser re-exported, and a bad URL refused with the store's own code.
describe('URL forms (those of @ambrosia/redis-connection)', () => {
  it('re-exports the parser of @ambrosia/redis-connection', () => {
    expect(parseRedisUrl).toBe(sharedParseRedisUrl);
    expect(parseRedisUrl('redis-cluster://127.0.0.1:1,127.0.0.1:2')).toMatchObject({ mode: 'cluster', nodes: [{ port: 1 }, { port: 2 }] });
  });

  it('refuses malformed URLs with IM_STORE_INVALID_ARGUMENT, without echoing the password', async () => {
    for (const url of ['ftp://h', 'redis://h:0', 'redis://a,b', 'redis-sentinel://h', 'redis-cluster://h?tls=maybe', 'redis://::1', 'not a url', '']) {
      expect((await rejection(createRedisImStore({ url }))).code, url).toBe('IM_STORE_INVALID_ARGUMENT');
    }
    const { message } = await rejection(createRedisImStore({ url: 'redis://user:hunter2@h:1/x' }));
    expect(message).toContain('user:***');
    expect(message).not.toContain('hunter2');
  });
});
