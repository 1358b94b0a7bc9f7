// Graceful stop under load. Gateway A (two workers) gets SIGTERM while its clients send: every
// client is sent to gateway B with see-other-host (never to A's own workers, which stop with it),
// every stanza a client saw acknowledged (XEP-0198) reached the service, and A exits 0. Then B,
// the last gateway, gets SIGTERM: its clients get system-shutdown. B logs at debug level (set
// through AMBROSIA_LOG_LEVEL), and its logs of full logins hold no password and no SASL payload.
import { describe, expect, it } from 'vitest';
import { startAmbrosia, type AmbrosiaProcess } from './support/ambrosia-process.js';
import { DOMAIN, PASSWORD, startRecordingService, type Fixture, type RecordingService } from './support/fixture.js';
import { RawClient } from './support/raw-client.js';
import { useProcessTest } from './support/process-test.js';

let fixture: Fixture;
let service: RecordingService | undefined;
const clients: RawClient[] = [];

useProcessTest({ started: (started) => (fixture = started), clients, service: () => service });

function gatewayConfig(id: string, processes: number): string {
  return [
    ...fixture.gatewayHead(id, processes),
    `  tls: { caDir: ${fixture.caDir} }`,
    '  stopTimeoutMs: 5000',
  ].join('\n');
}

/** Each client sends numbered messages and asks for acks until its stream ends. */
function load(client: RawClient, user: string): { stop: () => void; sent: () => number } {
  let n = 0;
  const timer = setInterval(() => {
    if (!client.isOpen || client.streamError !== undefined) return;
    for (let i = 0; i < 3; i++) {
      n += 1;
      client.sendStanza(`<message to='sink@${DOMAIN}' id='${user}-${n}'><body>${n}</body></message>`);
    }
    client.write(`<r xmlns='urn:xmpp:sm:3'/>`);
  }, 15);
  return { stop: () => clearInterval(timer), sent: () => n };
}

/** Every message with a number up to the client's last acknowledged h reached the service. */
function lostAcked(client: RawClient, user: string): string[] {
  const lost: string[] = [];
  for (let i = 1; i <= client.ackedH; i++) if (!service!.received.has(`${user}@${DOMAIN}|${user}-${i}`)) lost.push(`${user}-${i}`);
  return lost;
}

async function connectAll(port: number, users: string[]): Promise<RawClient[]> {
  const connected: RawClient[] = [];
  for (const user of users) {
    const client = await RawClient.connect({ port, domain: DOMAIN, ca: fixture.ca.certPem });
    clients.push(client);
    await client.login(user, PASSWORD);
    connected.push(client);
  }
  return connected;
}

async function waitForAcks(group: RawClient[], atLeast: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (group.some((c) => c.ackedH < atLeast)) {
    if (Date.now() > deadline) throw new Error(`acks stayed at ${group.map((c) => c.ackedH).join(', ')}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('graceful stop on SIGTERM', () => {
  it('sends every client to a live peer or ends it with system-shutdown, loses no acked stanza, exits 0', async () => {
    const a: AmbrosiaProcess = startAmbrosia(['gateway', '--config', await fixture.config('a.yaml', gatewayConfig('gwa', 2))]);
    const b: AmbrosiaProcess = startAmbrosia(['gateway', '--config', await fixture.config('b.yaml', gatewayConfig('gwb', 1))], { env: { AMBROSIA_LOG_LEVEL: 'debug' } });
    const aReady = await Promise.all([1, 2].map((n) => a.waitFor((e) => e.event === 'worker-ready' && e.worker === n, 30_000, `A worker ${n}`)));
    const bReady = await b.waitFor((e) => e.event === 'gateway-started', 30_000, 'B started');
    service = await startRecordingService(fixture, 'recorder-stop');
    await service.registeredOn(['gwa-1', 'gwa-2', 'gwb']);

    // Phase 1: A stops under load; its clients go to B.
    const usersA = await fixture.addUsers(8, 'a');
    const onA = await connectAll(aReady[0]!.c2sTls as number, usersA);
    const loadsA = onA.map((client, i) => load(client, usersA[i]!));
    await waitForAcks(onA, 12);
    a.child.kill('SIGTERM');
    const aExit = await a.exit(20_000);
    for (const l of loadsA) l.stop();
    expect(aExit).toEqual({ code: 0, signal: null });
    const target = `127.0.0.1:${String(bReady.c2sTls)}`;
    for (const [i, client] of onA.entries()) {
      expect(client.streamErrorCondition(), usersA[i]).toEqual({ condition: 'see-other-host', text: target });
      expect(lostAcked(client, usersA[i]!), usersA[i]).toEqual([]);
      expect(client.ackedH).toBeGreaterThanOrEqual(12);
    }
    expect(a.events.filter((e) => e.event === 'gateway-draining').map((e) => e.gateway).sort()).toEqual(['gwa-1', 'gwa-2']);
    expect((await fixture.registry.gateways.list()).map((g) => g.id)).toEqual(['gwb']);

    // Phase 2: B, the last gateway, stops under load; its clients get system-shutdown.
    const usersB = await fixture.addUsers(4, 'b');
    const onB = await connectAll(bReady.c2sTls as number, usersB);
    const loadsB = onB.map((client, i) => load(client, usersB[i]!));
    await waitForAcks(onB, 12);
    b.child.kill('SIGTERM');
    const bExit = await b.exit(20_000);
    for (const l of loadsB) l.stop();
    expect(bExit).toEqual({ code: 0, signal: null });
    for (const [i, client] of onB.entries()) {
      expect(client.streamErrorCondition()?.condition, usersB[i]).toBe('system-shutdown');
      expect(lostAcked(client, usersB[i]!), usersB[i]).toEqual([]);
    }
    expect(await fixture.registry.gateways.list()).toEqual([]);

    // B logged the logins at debug level, without a password or a SASL payload.
    const logs = b.stdout;
    const logins = b.events.filter((e) => e.event === 'stream-authenticated');
    expect(logins.length).toBe(usersB.length);
    for (const login of logins) expect(Object.keys(login).sort()).toEqual(['event', 'hostname', 'level', 'mechanism', 'pid', 'role', 'session', 'time']);
    expect(b.events.some((e) => e.level === 'debug' && e.event === 'stream-sm-enabled')).toBe(true);
    expect(logs).not.toContain(PASSWORD);
    for (const user of usersB) {
      expect(logs).not.toContain(Buffer.from(`\0${user}\0${PASSWORD}`).toString('base64'));
      expect(logs).not.toContain(`${user}@${DOMAIN}`); // no JIDs either: sessions are named by id
    }
    for (const event of b.events) for (const key of Object.keys(event)) expect(key).toMatch(/^[a-z][A-Za-z0-9]*$/);
    const sessionLines = b.events.filter((e) => typeof e.session === 'string');
    expect(sessionLines.length).toBeGreaterThan(0);
  }, 240_000);
});
