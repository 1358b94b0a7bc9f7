// The admin commands against a live cluster in this process: a real redis-server, two real
// Gateways on the Redis registry (ephemeral ports), a domain service connected to both, and raw
// TLS clients. After `sessions kick` the client's stream ends with the stream error the kick
// names; after `gateways drain` the client is sent to the live peer with see-other-host.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway } from '@ambrosia/gateway';
import type { Registry } from '@ambrosia/registry';
import { createRedisRegistry } from '@ambrosia/registry-redis';
import { createFixture, DOMAIN, PASSWORD, startRecordingService, type Fixture, type RecordingService } from './support/fixture.js';
import { RawClient } from './support/raw-client.js';
import { run } from './run.js';

let fixture: Fixture;
let service: RecordingService | undefined;
const registries: Registry[] = [];
const gateways = new Map<string, { gateway: Gateway; c2sTls: number }>();
const clients: RawClient[] = [];

beforeAll(async () => {
  fixture = await createFixture();
  for (const id of ['gw-a', 'gw-b']) {
    const registry = createRedisRegistry({ url: fixture.redis.url, heartbeatIntervalMs: 1000, connectionName: id });
    await registry.ready({ timeoutMs: 10_000 });
    registries.push(registry);
    // lingerMs: how long a kicked stream waits for the client's </stream:stream> (the raw client never sends it).
    const gateway = new Gateway({ id, registry, ports: { c2s: 0, c2sTls: 0, service: 0 }, ca: { cert: fixture.ca.certPem, key: fixture.ca.keyPem }, auth: { minResponseMs: 1 }, lingerMs: 300 });
    const { ports } = await gateway.start();
    gateways.set(id, { gateway, c2sTls: ports.c2sTls });
  }
  service = await startRecordingService(fixture, 'im-admin-1');
  await service.registeredOn(['gw-a', 'gw-b']);
  await fixture.addUsers(3, 'adm');
}, 120_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await service?.stop();
  for (const { gateway } of gateways.values()) await gateway.stop({ timeoutMs: 2000 }).catch(() => undefined);
  for (const registry of registries) await registry.close().catch(() => undefined);
  await fixture?.close();
});

const admin = (group: string, ...args: string[]) => run(group, '--registry', fixture.redis.url, ...args);
const adminJson = (group: string, ...args: string[]) => run('--json', group, '--registry', fixture.redis.url, ...args);

async function login(gatewayId: string, user: string, resource: string): Promise<RawClient> {
  const client = await RawClient.connect({ port: gateways.get(gatewayId)!.c2sTls, domain: DOMAIN, ca: fixture.ca.certPem });
  clients.push(client);
  await client.login(user, PASSWORD, resource);
  return client;
}

/** The stream error that ends `client`'s stream (bounded). */
function streamError(client: RawClient): Promise<{ condition: string; text: string } | undefined> {
  return client.next((el) => el.name === 'stream:error', 10_000, 'a stream error').then(() => client.streamErrorCondition());
}

describe('ambrosia gateways / services / sessions / see-other-host on a live cluster', () => {
  it('lists the live gateways with addresses, ports, state, load, start and lease', async () => {
    const listed = await adminJson('gateways', 'list');
    expect(listed).toMatchObject({ code: 0, err: '' });
    const { gateways: rows } = JSON.parse(listed.out) as { gateways: Array<Record<string, unknown>> };
    expect(rows.map((g) => g.id)).toEqual(['gw-a', 'gw-b']);
    expect(rows[0]).toMatchObject({ state: 'active', addresses: ['127.0.0.1'], ports: { 'c2s-tls': gateways.get('gw-a')!.c2sTls }, load: expect.any(Number) });
    expect(Date.parse(rows[0]!.leaseExpiresAt as string)).toBeGreaterThan(Date.now());
    expect(Date.parse(rows[0]!.startedAt as string)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(rows[0]!.incarnation).toBe(registries[0]!.incarnation);

    const human = await admin('gateways', 'list');
    const lines = human.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^id\s+state\s+load\s+addresses\s+ports\s+started\s+lease$/);
    expect(lines[1]).toMatch(new RegExp(`^gw-a\\s+active\\s+\\d+\\s+127\\.0\\.0\\.1\\s+c2s=\\d+ c2s-tls=${gateways.get('gw-a')!.c2sTls} service=\\d+\\s+\\S+Z \\(.+ ago\\)\\s+expires in \\d+m?s$`));
  });

  it('lists the service instances with their gateways, weight, draining flag and epoch', async () => {
    const all = await adminJson('services', 'list');
    expect(all).toMatchObject({ code: 0, err: '' });
    const { services } = JSON.parse(all.out) as { services: Array<Record<string, unknown>> };
    expect(services).toEqual([
      { domain: DOMAIN, type: 'client', instance: 'im-admin-1', gateways: ['gw-a', 'gw-b'], weight: 1, draining: false, epoch: expect.any(Number), leaseExpiresAt: expect.any(String) },
    ]);
    // One domain (any spelling of it) lists its three types; another domain has none.
    expect(JSON.parse((await adminJson('services', 'list', DOMAIN.toUpperCase())).out).services).toHaveLength(1);
    const human = await admin('services', 'list');
    expect(human.out).toMatch(new RegExp(`^service\\s+instance\\s+gateways\\s+weight\\s+draining\\s+epoch\\s+lease\\n${DOMAIN}/client\\s+im-admin-1\\s+gw-a,gw-b\\s+1\\s+no\\s+\\d+\\s+expires in`));
    expect(await admin('services', 'list', 'other.example')).toMatchObject({ code: 0, out: 'no live service instance for other.example\n' });
    expect((await admin('services', 'list', 'a@b')).code).toBe(2);

    // Draining an instance that is not there names the live ones (admin-services-drain.test.ts drains for real).
    expect(await admin('services', 'drain', DOMAIN, 'client', 'im-admin-9')).toMatchObject({ code: 1, err: `ambrosia: no live instance "im-admin-9" of ${DOMAIN}/client (live: im-admin-1)\n` });
  });

  it('lists sessions and kicks one resource, then the whole account, and the streams end', async () => {
    const user = 'adm1';
    const jid = `${user}@${DOMAIN}`;
    const balcony = await login('gw-a', user, 'balcony');
    const garden = await login('gw-b', user, 'garden');

    const listed = await adminJson('sessions', 'list', `ADM1@${DOMAIN}`);
    expect(listed).toMatchObject({ code: 0, err: '' });
    const { sessions } = JSON.parse(listed.out) as { jid: string; sessions: Array<Record<string, unknown>> };
    expect(sessions).toEqual([
      { jid: `${jid}/balcony`, resource: 'balcony', gateway: 'gw-a', session: gateways.get('gw-a')!.gateway.sessions!.sessionFor(`${jid}/balcony`), priority: 0, available: false, boundAt: expect.any(String) },
      { jid: `${jid}/garden`, resource: 'garden', gateway: 'gw-b', session: gateways.get('gw-b')!.gateway.sessions!.sessionFor(`${jid}/garden`), priority: 0, available: false, boundAt: expect.any(String) },
    ]);
    const human = await admin('sessions', 'list', jid);
    expect(human.out).toMatch(/^resource\s+gateway\s+session\s+priority\s+available\s+bound\nbalcony\s+gw-a\s+\S+\s+0\s+no\s+\S+Z \(.+\)\ngarden\s+gw-b\s+/);
    expect((await admin('sessions', 'list', `${jid}/garden`)).out.trimEnd().split('\n')).toHaveLength(2);

    // A full JID: only that session ends, with the administrative policy-violation (RFC 6120 §4.9.3.14).
    const balconyError = streamError(balcony);
    const kickOne = await adminJson('sessions', 'kick', `${jid}/balcony`, '--reason', 'abuse');
    expect(kickOne).toMatchObject({ code: 0, err: '' });
    expect(JSON.parse(kickOne.out)).toMatchObject({ jid: `${jid}/balcony`, confirmed: true, kicked: [{ resource: 'balcony', gateway: 'gw-a' }] });
    expect(await balconyError).toEqual({ condition: 'policy-violation', text: '' });
    expect(garden.isOpen).toBe(true);
    expect(JSON.parse((await adminJson('sessions', 'list', jid)).out).sessions.map((s: { resource: string }) => s.resource)).toEqual(['garden']);

    // The bare JID: every session left; reason 'reset' selects that stream error (§4.9.3.16).
    const gardenError = streamError(garden);
    const kickAll = await admin('sessions', 'kick', jid, '--reason', 'reset');
    expect(kickAll).toMatchObject({ code: 0, out: `kicked 1 session of ${jid}: garden on gw-b\n`, err: '' });
    expect((await gardenError)?.condition).toBe('reset');
    expect(await admin('sessions', 'list', jid)).toMatchObject({ code: 0, out: `no session of ${jid}\n` });

    expect(await admin('sessions', 'kick', jid)).toMatchObject({ code: 1, err: `ambrosia: no session of ${jid} is bound\n` });
    expect((await admin('sessions', 'kick', DOMAIN)).code).toBe(2);
    expect((await admin('sessions', 'kick', jid, '--wait', 'soon')).code).toBe(2);
  });

  it('redirects an account set with see-other-host at its next login', async () => {
    const jid = `adm2@${DOMAIN}`;
    expect((await admin('see-other-host', 'set', jid, 'eu.example.net:5223', '--ttl', '5m')).code).toBe(0);
    const client = await RawClient.connect({ port: gateways.get('gw-b')!.c2sTls, domain: DOMAIN, ca: fixture.ca.certPem });
    clients.push(client);
    const error = streamError(client);
    // SASL succeeds; the restarted stream is answered with the redirect (RFC 6120 §4.9.3.19).
    client.login('adm2', PASSWORD).catch(() => undefined);
    expect(await error).toEqual({ condition: 'see-other-host', text: 'eu.example.net:5223' });
    expect((await admin('see-other-host', 'del', jid)).code).toBe(0);
  });

  it('drains a gateway: its client is sent to the live peer, and the gateway lists as draining', async () => {
    const client = await login('gw-a', 'adm3', 'desk');
    const error = streamError(client);
    const drained = await admin('gateways', 'drain', 'gw-a');
    expect(drained).toMatchObject({ code: 0, out: 'gw-a is draining; its clients are sent to gw-b\n', err: '' });
    // The client used direct TLS, so it is sent to the peer's direct-TLS port.
    expect(await error).toEqual({ condition: 'see-other-host', text: `127.0.0.1:${gateways.get('gw-b')!.c2sTls}` });
    expect(gateways.get('gw-a')!.gateway.state).toBe('draining');

    const { gateways: rows } = JSON.parse((await adminJson('gateways', 'list')).out) as { gateways: Array<{ id: string; state: string }> };
    expect(rows.map((g) => [g.id, g.state])).toEqual([
      ['gw-a', 'draining'],
      ['gw-b', 'active'],
    ]);
    // Draining again is harmless; a gateway that is not live is refused; undrain does not exist.
    expect(JSON.parse((await adminJson('gateways', 'drain', 'gw-a', '--wait', '0')).out)).toEqual({ id: 'gw-a', state: 'drain sent', confirmed: false, peers: ['gw-b'] });
    expect(await admin('gateways', 'drain', 'gw-zz')).toMatchObject({ code: 1, err: 'ambrosia: no live gateway "gw-zz" (live: gw-a, gw-b)\n' });
    const undrain = await admin('gateways', 'undrain', 'gw-a');
    expect(undrain.code).toBe(1);
    expect(undrain.err).toMatch(/^ambrosia: undrain is not available: /);
  });
});
