import { existsSync } from 'node:fs';
import { Cluster } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { sendCommand, startCluster, stopAll, type RedisServer } from '../src/index.js';
import { parseInfo } from '../src/resp.js';
import { processGone } from './helpers/processes.js';
import { keyPerSlot } from './helpers/slots.js';

afterAll(async () => {
  await stopAll();
});

async function clusterInfo(node: RedisServer): Promise<Map<string, string>> {
  return parseInfo(await sendCommand(node, ['CLUSTER', 'INFO']));
}

describe('startCluster', () => {
  it('serves keys in all 16384 slots through a cluster client and reports cluster_state:ok', async () => {
    const cluster = await startCluster();
    expect(cluster.nodes).toHaveLength(3);
    expect(cluster.url).toBe(`redis-cluster://${cluster.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`);
    for (const node of cluster.nodes) {
      const info = await clusterInfo(node);
      expect(info.get('cluster_state')).toBe('ok');
      expect(info.get('cluster_slots_assigned')).toBe('16384');
      expect(info.get('cluster_known_nodes')).toBe('3');
    }

    const client = new Cluster(cluster.startupNodes, { enableAutoPipelining: true });
    try {
      const keys = keyPerSlot('slot-key-');
      const written = await Promise.all(keys.map((key, slot) => client.set(key, String(slot))));
      expect(written.every((reply) => reply === 'OK')).toBe(true);
      const read = await Promise.all(keys.map((key) => client.get(key)));
      expect(read).toEqual(keys.map((_, slot) => String(slot)));
    } finally {
      client.disconnect();
    }
    // Every primary holds its share: the keys really are spread over the nodes.
    const sizes = await Promise.all(cluster.nodes.map((node) => sendCommand(node, ['DBSIZE'])));
    expect(sizes.reduce<number>((sum, size) => sum + Number(size), 0)).toBe(16384);
    for (const size of sizes) expect(Number(size)).toBeGreaterThan(5000);

    const pids = cluster.nodes.map((node) => node.pid);
    await cluster.stop();
    for (const pid of pids) expect(processGone(pid)).toBe(true);
    for (const node of cluster.nodes) expect(existsSync(node.dir)).toBe(false);
  });

  it('attaches replicasPerPrimary replicas, each in sync with its own primary', async () => {
    const cluster = await startCluster({ primaries: 3, replicasPerPrimary: 1 });
    expect(cluster.nodes).toHaveLength(6);
    const primaries = cluster.nodes.slice(0, 3);
    const replicas = cluster.nodes.slice(3);
    for (const [index, replica] of replicas.entries()) {
      const role = await sendCommand(replica, ['ROLE']);
      expect(Array.isArray(role) && role[0]).toBe('slave');
      expect(Array.isArray(role) && Number(role[2])).toBe(primaries[index]?.port);
      expect(Array.isArray(role) && role[3]).toBe('connected');
      expect((await clusterInfo(replica)).get('cluster_state')).toBe('ok');
    }
    for (const primary of primaries) {
      expect((await clusterInfo(primary)).get('cluster_size')).toBe('3');
    }
    await cluster.stop();
    for (const node of cluster.nodes) expect(processGone(node.pid)).toBe(true);
  });

  it('refuses impossible shapes before starting anything', async () => {
    await expect(startCluster({ primaries: 0 })).rejects.toMatchObject({ code: 'ERR_REDIS_INVALID_OPTION' });
    await expect(startCluster({ primaries: 40, replicasPerPrimary: 1 })).rejects.toMatchObject({ code: 'ERR_REDIS_INVALID_OPTION' });
  });
});
