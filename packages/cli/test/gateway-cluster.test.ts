// `ambrosia gateway` with two worker processes (node:cluster): they share the client port, each
// is its own gateway in the registry, and a worker killed with SIGKILL comes back while the other
// worker's clients stay connected.
import { describe, expect, it } from 'vitest';
import { isAlive, startAmbrosia, type AmbrosiaProcess } from './support/ambrosia-process.js';
import { DOMAIN, eventually, PASSWORD, startRecordingService, type Fixture, type RecordingService } from './support/fixture.js';
import { RawClient } from './support/raw-client.js';
import { useProcessTest } from './support/process-test.js';

let fixture: Fixture;
let service: RecordingService | undefined;
let gateway: AmbrosiaProcess | undefined;
const clients: RawClient[] = [];

useProcessTest({ started: (started) => (fixture = started), clients, service: () => service });

describe('ambrosia gateway with processes: 2', () => {
  it('restarts a worker killed with SIGKILL while the other worker keeps its sessions', async () => {
    const config = await fixture.config(
      'cluster.yaml',
      [
        ...fixture.gatewayHead('gwc', 2),
        `  tls: { caDir: ${fixture.caDir} }`,
        '  stopTimeoutMs: 3000',
      ].join('\n'),
    );
    gateway = startAmbrosia(['gateway', '--config', config]);
    const ready = await Promise.all([1, 2].map((n) => gateway!.waitFor((e) => e.event === 'worker-ready' && e.worker === n, 30_000, `worker ${n} ready`)));
    const port = ready[0]!.c2sTls as number;
    expect(ready[1]!.c2sTls).toBe(port); // one shared listener
    expect(ready[0]!.service).not.toBe(ready[1]!.service); // each its own service port
    expect((await fixture.registry.gateways.list()).map((g) => g.id)).toEqual(['gwc-1', 'gwc-2']);

    service = await startRecordingService(fixture, 'recorder-cluster');
    await service.registeredOn(['gwc-1', 'gwc-2']);

    // Round-robin spreads the clients over both workers; the registry says which holds whom.
    const users = await fixture.addUsers(6, 'c');
    const where = new Map<RawClient, string>();
    for (const user of users) {
      const client = await RawClient.connect({ port, domain: DOMAIN, ca: fixture.ca.certPem });
      clients.push(client);
      await client.login(user, PASSWORD);
      const [session] = await fixture.registry.sessions.get(`${user}@${DOMAIN}`);
      where.set(client, session!.gatewayId);
    }
    const onWorker = (id: string): RawClient[] => clients.filter((c) => where.get(c) === id);
    expect(onWorker('gwc-1').length).toBeGreaterThan(0);
    expect(onWorker('gwc-2').length).toBeGreaterThan(0);

    const victimPid = ready[0]!.workerPid as number;
    process.kill(victimPid, 'SIGKILL');
    await Promise.all(onWorker('gwc-1').map((c) => eventually(() => (c.isOpen ? undefined : true), 10_000, 'the killed worker’s clients to be cut')));

    // The primary notices, restarts worker 1 under the same id with a new process.
    const exited = await gateway.waitFor((e) => e.event === 'worker-exited' && e.worker === 1, 10_000, 'worker 1 exit');
    expect(exited.signal).toBe('SIGKILL');
    const back = await gateway.waitFor((e) => e.event === 'worker-ready' && e.worker === 1 && e.workerPid !== victimPid, 30_000, 'worker 1 back');
    expect(isAlive(back.workerPid as number)).toBe(true);
    expect(back.c2sTls).toBe(port);
    expect(back.service).toBe(ready[0]!.service); // services find it where it was

    // Worker 2's clients never noticed: still connected, still answered.
    for (const client of onWorker('gwc-2')) {
      expect(client.isOpen).toBe(true);
      client.sendStanza(`<message to='echo@${DOMAIN}' id='after-kill'><body>still here</body></message>`);
      expect(await client.requestAck()).toBe(client.sentStanzas);
      expect(client.streamError).toBeUndefined();
    }
    // The restarted worker serves again: new clients land on both workers.
    await service.registeredOn(['gwc-1', 'gwc-2']);
    const again = await fixture.addUsers(4, 'd');
    const holders = new Set<string>();
    for (const user of again) {
      const client = await RawClient.connect({ port, domain: DOMAIN, ca: fixture.ca.certPem });
      clients.push(client);
      await client.login(user, PASSWORD);
      holders.add((await fixture.registry.sessions.get(`${user}@${DOMAIN}`))[0]!.gatewayId);
    }
    expect([...holders].sort()).toEqual(['gwc-1', 'gwc-2']);

    gateway.child.kill('SIGTERM');
    expect(await gateway.exit(20_000)).toEqual({ code: 0, signal: null });
    const workerPids = gateway.events.filter((e) => e.event === 'worker-ready').map((e) => e.workerPid as number);
    expect(workerPids.filter(isAlive)).toEqual([]);
    expect(await fixture.registry.gateways.list()).toEqual([]);
  }, 180_000);
});
