// The hub's own bounds and its shutdown: pending and parked limits, close() with CLOSE shutdown,
// registry clean-up, a session table attached late, a throwing session table.
import { connect } from 'node:net';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type HubFixture, type Pki, RecordingSessions, clientStanza, connectService, makePki, sendToGateway, startHub, until } from './helpers.js';

let pki: Pki;
const fixtures: HubFixture[] = [];

beforeAll(async () => {
  pki = await makePki();
});

afterEach(async () => {
  for (const fixture of fixtures.splice(0)) await fixture.close();
});

async function hub(options: Parameters<typeof startHub>[1] = {}): Promise<HubFixture> {
  const fixture = await startHub(pki, options);
  fixtures.push(fixture);
  return fixture;
}

describe('bounds', () => {
  it('refuses with resource-constraint beyond maxPendingStanzas, and takes more once acked', async () => {
    const fixture = await hub({ limits: { maxPendingStanzas: 5 } });
    const service = await connectService(fixture.port, { instance: 'im-slow', credentials: pki.service, ackMode: 'manual' });
    const accepted = Array.from({ length: 5 }, (_, n) => fixture.hub.route(clientStanza(`u${n}`)));
    await expect(fixture.hub.route(clientStanza('u5'))).rejects.toMatchObject({ condition: 'resource-constraint', type: 'wait' });
    await until(() => service.stanzas.length === 5, 'the five to arrive');
    for (const inbound of service.stanzas) inbound.ack();
    await Promise.all(accepted);
    const sixth = fixture.hub.route(clientStanza('u6')).then(() => 'ok', () => 'refused');
    await until(() => service.stanzas.length === 6, 'the sixth to arrive');
    service.stanzas[5]!.ack();
    expect(await sixth).toBe('ok');
    await service.endpoint.close();
  });

  it('rejects a stanza the channel cannot encode (a session id over 255 bytes) without leaking it', async () => {
    const fixture = await hub();
    const service = await connectService(fixture.port, { instance: 'im-1', credentials: pki.service });
    await expect(fixture.hub.route(clientStanza('long', { session: 's'.repeat(300) }))).rejects.toMatchObject({ condition: 'internal-server-error' });
    expect(fixture.hub.stats().pending).toBe(0);
    await expect(fixture.hub.route(clientStanza('short'))).resolves.toBeUndefined();
    await service.endpoint.close();
  });

  it('fails handed-back stanzas beyond maxParkedStanzas at once', async () => {
    const fixture = await hub({ limits: { maxParkedStanzas: 3 } });
    const service = await connectService(fixture.port, { instance: 'im-dying', credentials: pki.service, ackMode: 'manual' });
    const outcomes = Array.from({ length: 5 }, (_, n) => fixture.hub.route(clientStanza(`p${n}`)).then(() => 'acked', (error: { condition: string }) => error.condition));
    await until(() => service.stanzas.length === 5, 'the five to arrive');
    service.socket.destroy();
    service.endpoint.destroy();
    await until(() => fixture.hub.stats().parked === 3, 'three to be parked');
    const rescuer = await connectService(fixture.port, { instance: 'im-rescuer', credentials: pki.service });
    expect((await Promise.all(outcomes)).sort()).toEqual(['acked', 'acked', 'acked', 'service-unavailable', 'service-unavailable']);
    expect(rescuer.stanzas).toHaveLength(3);
    await rescuer.endpoint.close();
  });
});

describe('a domain served elsewhere in the cluster', () => {
  it('waits (bounded) for its instance to connect here instead of refusing: a gateway that just started', async () => {
    const fixture = await hub({ limits: { stanzaTimeoutMs: 10_000 } });
    // The instance is live in the registry through another gateway and has not reached this one yet.
    await fixture.registry.gateways.announce({ id: 'gw-other', addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
    await fixture.registry.services.register({ domain: 'example.org', type: 'client', instanceId: 'im-late', gatewayId: 'gw-other' });
    await fixture.registry.heartbeat();
    expect(fixture.hub.serves('example.org', 'client')).toBe(true);
    const routed = fixture.hub.route(clientStanza('early')).then(() => 'acked', (error: { condition: string }) => error.condition);
    await until(() => fixture.hub.stats().parked === 1, 'the stanza to wait');
    const late = await connectService(fixture.port, { instance: 'im-late', credentials: pki.service });
    expect(await routed).toBe('acked');
    expect(late.stanzas).toHaveLength(1);
    // A domain nobody serves is still refused at once.
    await expect(fixture.hub.route(clientStanza('x', { domain: 'nowhere.example' }))).rejects.toMatchObject({ condition: 'service-unavailable' });
    await late.endpoint.close();
  });
});

describe('close()', () => {
  it('closes channels with CLOSE shutdown, fails what nobody acked, removes the registrations, stops listening', async () => {
    const fixture = await startHub(pki, { channel: { resumeTimeoutMs: 300, limits: { closeTimeoutMs: 300 } } });
    const service = await connectService(fixture.port, { instance: 'im-held', credentials: pki.service, ackMode: 'manual' });
    const routed = fixture.hub.route(clientStanza('held')).then(() => 'acked', (error: { condition: string }) => error.condition);
    await until(() => service.stanzas.length === 1, 'the stanza to arrive');
    await fixture.hub.close();
    expect(await service.closed).toMatchObject({ code: 'shutdown', byPeer: true });
    expect(await routed).toBe('service-unavailable');
    expect(await fixture.registry.services.list('example.org', 'client')).toEqual([]);
    await expect(fixture.hub.route(clientStanza('after'))).rejects.toMatchObject({ condition: 'service-unavailable' });
    await expect(fixture.hub.listen()).rejects.toThrow(/closed|listening/);
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(fixture.port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve('connected');
      });
      socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    await fixture.registry.close();
  });
});

describe('the session table', () => {
  it('may be attached after the hub was made', async () => {
    const fixture = await hub({ sessions: undefined });
    const sessions = new RecordingSessions();
    sessions.add('c2s-1', 'romeo@example.org/r');
    const service = await connectService(fixture.port, { instance: 'im-1', credentials: pki.service });
    const outcomes: string[] = [];
    await sendToGateway(service, '<message from="a@example.org/x" to="romeo@example.org/r"/>', { via: 'c2s', origin: 'example.org', session: 'c2s-1' }, (o) => outcomes.push(o));
    await until(() => outcomes.length === 1, 'a report before any session table');
    expect(outcomes).toEqual(['undelivered']);
    fixture.hub.attachSessions(sessions);
    await sendToGateway(service, '<message from="a@example.org/x" to="romeo@example.org/r"/>', { via: 'c2s', origin: 'example.org', session: 'c2s-1' });
    expect(sessions.delivered).toHaveLength(1);
    await service.endpoint.close();
  });

  it('survives a session table that throws, reporting undelivered', async () => {
    const fixture = await hub();
    fixture.hub.attachSessions({
      deliver: () => {
        throw new Error('bug in the edge');
      },
      sessionFor: () => undefined,
    });
    const service = await connectService(fixture.port, { instance: 'im-1', credentials: pki.service });
    const outcomes: string[] = [];
    await sendToGateway(service, '<message from="a@example.org/x" to="romeo@example.org/r"/>', { via: 'c2s', origin: 'example.org', session: 'c2s-1' }, (o) => outcomes.push(o));
    await until(() => outcomes.length === 1, 'the report');
    expect(outcomes).toEqual(['undelivered']);
    expect(service.endpoint.state).toBe('open');
    await service.endpoint.close();
  });
});
