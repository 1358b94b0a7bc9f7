import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { sendCommand, startSentinelGroup, stopAll, type SentinelGroup } from '../src/index.js';
import { processGone } from './helpers/processes.js';

afterAll(async () => {
  await stopAll();
});

async function primaryPortsReported(group: SentinelGroup): Promise<number[]> {
  return Promise.all(
    group.sentinels.map(async (sentinel) => {
      const reply = await sendCommand(sentinel, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', group.masterName]);
      return Array.isArray(reply) ? Number(reply[1]) : Number.NaN;
    }),
  );
}

async function role(port: number): Promise<string> {
  const reply = await sendCommand({ port }, ['ROLE']);
  return Array.isArray(reply) ? String(reply[0]) : '';
}

describe('startSentinelGroup', () => {
  it('fails over through the Sentinels and back, and a Sentinel client follows', async () => {
    const group = await startSentinelGroup({ masterName: 'ambrosia-test' });
    expect(group.sentinels).toHaveLength(3);
    expect(group.url).toBe(`redis-sentinel://${group.sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/ambrosia-test`);
    expect(group.sentinelAddresses).toEqual(group.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })));
    const original = { primary: group.primary, replica: group.replica };
    expect(await primaryPortsReported(group)).toEqual([original.primary.port, original.primary.port, original.primary.port]);
    expect(await role(original.replica.port)).toBe('slave');

    // A real Sentinel client, as the registry will use one.
    const client = new Redis({ sentinels: group.sentinelAddresses, name: group.masterName, maxRetriesPerRequest: 20 });
    try {
      await client.set('before', '1');

      const { newPrimaryPort } = await group.failover();
      expect(newPrimaryPort).toBe(original.replica.port);
      expect(group.primary).toBe(original.replica);
      expect(group.replica).toBe(original.primary);
      expect(await primaryPortsReported(group)).toEqual([newPrimaryPort, newPrimaryPort, newPrimaryPort]);
      expect(await role(newPrimaryPort)).toBe('master');
      expect(await role(original.primary.port)).toBe('slave');

      // The old primary dropped its clients, so the Sentinel client reconnects to the new primary.
      await client.set('after', '2');
      expect(await sendCommand({ port: newPrimaryPort }, ['GET', 'after'])).toBe('2');
      expect(await sendCommand({ port: newPrimaryPort }, ['GET', 'before'])).toBe('1');

      // And back: a second failover right after the first finds an eligible replica.
      const back = await group.failover();
      expect(back.newPrimaryPort).toBe(original.primary.port);
      expect(await primaryPortsReported(group)).toEqual([back.newPrimaryPort, back.newPrimaryPort, back.newPrimaryPort]);
      await client.set('back', '3');
      expect(await sendCommand({ port: original.primary.port }, ['GET', 'back'])).toBe('3');
    } finally {
      client.disconnect();
    }

    const servers = [group.primary, group.replica, ...group.sentinels];
    const pids = servers.map((server) => server.pid);
    await group.stop();
    for (const pid of pids) expect(processGone(pid)).toBe(true);
    for (const server of servers) expect(existsSync(server.dir)).toBe(false);
  }, 60_000);
});
