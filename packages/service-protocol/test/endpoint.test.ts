import { describe, expect, it } from 'vitest';
import {
  ChannelAcceptor,
  ChannelEndpoint,
  createDuplexPair,
  readSeeOtherHostResult,
  type ClosedInfo,
  type DeliveryReportOutcome,
  type InboundMessage,
  type Registration,
} from '../src/index.js';
import { ADMIN_PEER, collect, harness, once, stanzaId, stanzaToGateway, stanzaToService, until } from './helpers.js';

describe('handshake and registrations (§6, §13.3)', () => {
  it('HELLO with registrations gets WELCOME with a channel id and the results', async () => {
    const registered: Registration[] = [];
    const { service, gateway, acceptor } = await harness({ acceptor: { onChannel: (channel) => channel.on('registered', (r) => registered.push(r)) } });
    expect(service.state).toBe('open');
    expect(service.channel).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(service.gateway).toBe('gw-1');
    expect(service.registrations).toEqual([{ domain: 'example.org', type: 'client' }]);
    expect(gateway().registrations).toEqual([{ domain: 'example.org', type: 'client' }]);
    expect(registered).toEqual([{ domain: 'example.org', type: 'client' }]);
    expect(acceptor.channels.get(service.channel!)).toBe(gateway());
    expect(gateway().peer?.commonName).toBe('im-service');
  });

  it('REGISTER is checked against the certificate; UNREGISTER of an unknown pair is not-found', async () => {
    const { service, gateway } = await harness();
    await service.register({ domain: 'example.org', type: 'server' });
    expect(gateway().registrations).toContainEqual({ domain: 'example.org', type: 'server' });
    await expect(service.register({ domain: 'example.com', type: 'client' })).rejects.toMatchObject({ code: 'forbidden', fromPeer: true });
    await service.unregister({ domain: 'example.org', type: 'server' });
    expect(gateway().registrations).not.toContainEqual({ domain: 'example.org', type: 'server' });
    await expect(service.unregister({ domain: 'example.org', type: 'server' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(service.register({ domain: 'Example.ORG.', type: 'client' })).rejects.toThrow(TypeError);
  });

  it('refused registrations in HELLO are reported in WELCOME, the channel still opens', async () => {
    const acceptor = new ChannelAcceptor({ gateway: 'gw-1', hooks: { authorizeRegistration: async (_peer, registration) => (registration.type === 'client' ? true : { code: 'conflict', text: 'taken' }) } });
    const service = new ChannelEndpoint({ role: 'service', registrations: [{ domain: 'example.org', type: 'client' }, { domain: 'example.org', type: 'server' }] });
    const [a, b] = createDuplexPair();
    acceptor.handle(b, { role: 'service', permissions: [{ domain: '*', type: 'client' }, { domain: '*', type: 'server' }] });
    const ready = await service.attach(a);
    expect(ready.registrations).toEqual([
      { domain: 'example.org', type: 'client', ok: true },
      { domain: 'example.org', type: 'server', ok: false, error: { code: 'conflict', text: 'taken' } },
    ]);
    expect(service.registrations).toEqual([{ domain: 'example.org', type: 'client' }]);
  });

  it('an admin certificate cannot register', async () => {
    const { service } = await harness({ peer: ADMIN_PEER, service: { registrations: [] } });
    await expect(service.register({ domain: 'example.org', type: 'client' })).rejects.toMatchObject({ code: 'forbidden' });
  });
});

describe('stanzas both ways, with acks (§4.2, §8)', () => {
  it('delivers a stanza to the service with its routing context and resolves on ack', async () => {
    const { service, gateway } = await harness();
    const received = collect(service);
    await gateway().send(stanzaToService(1));
    expect(received).toHaveLength(1);
    const stanza = received[0]!.message;
    expect(stanza).toMatchObject({ kind: 'stanza', context: { direction: 'to-service', via: 'c2s', gateway: 'gw-1', session: 's1', origin: 'juliet@example.org/balcony', key: 'gw-1:s1:1' } });
    expect(stanzaId(received[0]!)).toBe('m1');
  });

  it('delivers stanzas to the gateway in order per lane', async () => {
    const { service, gateway } = await harness();
    const received = collect(gateway());
    await Promise.all(Array.from({ length: 500 }, (_, n) => service.send(stanzaToGateway(n))));
    expect(received).toHaveLength(500);
    for (let lane = 0; lane < 10; lane++) {
      const ids = received.filter((message) => message.message.kind === 'stanza' && message.message.context.session === `s${lane}`).map(stanzaId);
      expect(ids).toEqual(Array.from({ length: 50 }, (_, k) => `m${lane + 10 * k}`));
    }
    expect(gateway().stats()).toMatchObject({ messagesReceived: 500, heldMessages: 0, heldBytes: 0 });
    expect(service.stats()).toMatchObject({ outstandingMessages: 0, outstandingBytes: 0, queuedMessages: 0 });
  });

  it('in manual mode an ack is sent only when the application acks (§8.1)', async () => {
    const { service, gateway } = await harness({ service: { ackMode: 'manual' } });
    const received = collect(service);
    let acked = false;
    const sent = gateway()
      .send(stanzaToService(1))
      .then(() => (acked = true));
    await until(() => received.length === 1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(acked).toBe(false);
    expect(service.stats().heldMessages).toBe(1);
    received[0]!.ack();
    await sent;
    expect(acked).toBe(true);
    expect(service.stats().heldMessages).toBe(0);
  });

  it('session events travel in the session lane, ordered with its stanzas (§4.3)', async () => {
    const { service, gateway } = await harness();
    const received = collect(service);
    const g = gateway();
    void g.send({ kind: 'session-event', event: 'bound', gateway: 'gw-1', session: 's1', jid: 'juliet@example.org/balcony' });
    void g.send(stanzaToService(1, 40_000, 's1'));
    await g.send({ kind: 'session-event', event: 'closed', gateway: 'gw-1', session: 's1', jid: 'juliet@example.org/balcony', reason: 'timeout' });
    expect(received.map((message) => (message.message.kind === 'session-event' ? message.message.event : message.message.kind))).toEqual(['bound', 'stanza', 'closed']);
  });
});

describe('the second acknowledgement: delivery reports (§9)', () => {
  it('reports delivered and undelivered once each', async () => {
    const { service, gateway } = await harness();
    const atGateway = collect(gateway());
    const outcomes = new Map<string, DeliveryReportOutcome>();
    const sends = [1, 2, 3].map((n) => service.send(stanzaToGateway(n), { onDelivery: (outcome) => outcomes.set(`m${n}`, outcome) }));
    await Promise.all(sends);
    await until(() => atGateway.length === 3);
    expect(atGateway.every((message) => message.message.kind === 'stanza' && message.message.context.deliveryReport)).toBe(true);
    atGateway[0]!.reportDelivery('delivered');
    gateway().reportDelivery([atGateway[1]!.id, atGateway[2]!.id], 'undelivered');
    await until(() => outcomes.size === 3);
    expect(Object.fromEntries(outcomes)).toEqual({ m1: 'delivered', m2: 'undelivered', m3: 'undelivered' });
    expect(service.stats().awaitingDelivery).toBe(0);
  });

  it('gives up on the oldest beyond maxAwaitingDelivery, and reports unknown when the channel ends', async () => {
    const { service, gateway } = await harness({ service: { limits: { maxAwaitingDelivery: 2 } } });
    const outcomes: [number, DeliveryReportOutcome][] = [];
    await Promise.all([1, 2, 3].map((n) => service.send(stanzaToGateway(n, 200, 'one-lane'), { onDelivery: (outcome) => outcomes.push([n, outcome]) })));
    expect(outcomes).toEqual([[1, 'unknown']]);
    expect(gateway().stats().messagesReceived).toBe(3);
    service.destroy();
    await until(() => outcomes.length === 3);
    expect(outcomes.slice(1).map(([, outcome]) => outcome)).toEqual(['unknown', 'unknown']);
  });
});

describe('requests and replies (§13)', () => {
  it('answers a see-other-host query', async () => {
    const { service, gateway } = await harness();
    service.on('message', (message: InboundMessage) => {
      if (message.message.kind === 'see-other-host-query') message.reply({ host: `eu.${message.message.domain}:5222` });
    });
    const result = await gateway().request({ kind: 'see-other-host-query', domain: 'example.org', user: 'juliet' });
    expect(readSeeOtherHostResult(result)).toEqual({ host: 'eu.example.org:5222' });
  });

  it('passes a reply error through with its code', async () => {
    const { service, gateway } = await harness();
    service.on('message', (message: InboundMessage) => message.fail('unavailable', 'store down'));
    await expect(gateway().request({ kind: 'user-lookup', domain: 'example.org', user: 'juliet', mechanisms: ['SCRAM-SHA-256'] })).rejects.toMatchObject({
      code: 'unavailable',
      fromPeer: true,
    });
  });

  it('times out an unanswered request and bounds pending ones', async () => {
    const { gateway } = await harness({ acceptor: { limits: { requestTimeoutMs: 50, maxPendingRequests: 2 } } });
    const first = gateway().request({ kind: 'see-other-host-query', domain: 'example.org' });
    const second = gateway().request({ kind: 'see-other-host-query', domain: 'example.org' });
    await expect(gateway().request({ kind: 'see-other-host-query', domain: 'example.org' })).rejects.toMatchObject({ code: 'queue-full' });
    await expect(first).rejects.toMatchObject({ code: 'request-timeout' });
    await expect(second).rejects.toMatchObject({ code: 'request-timeout' });
  });

  it('admin commands reach the gateway only from an admin certificate (§13.6)', async () => {
    const admin = await harness({ peer: ADMIN_PEER, service: { registrations: [] } });
    admin.gateway().on('message', (message) => {
      if (message.message.kind === 'admin' && message.message.command === 'kick') message.reply({ kicked: 2 });
      else message.fail('unknown-command');
    });
    expect(await admin.service.request({ kind: 'admin', command: 'kick', args: { jid: 'juliet@example.org' } })).toEqual({ kicked: 2 });
    await expect(admin.service.request({ kind: 'admin', command: 'explode', args: {} })).rejects.toMatchObject({ code: 'unknown-command' });

    const plain = await harness();
    const seen = collect(plain.gateway());
    await expect(plain.service.request({ kind: 'admin', command: 'stats', args: {} })).rejects.toMatchObject({ code: 'forbidden' });
    expect(seen).toEqual([]);
  });

  it('refuses to send a request in the wrong direction', async () => {
    const { service } = await harness();
    expect(() => service.request({ kind: 'see-other-host-query', domain: 'example.org' })).toThrow(TypeError);
  });
});

describe('closing (§14.1)', () => {
  it('close() drains, sends CLOSE, and both sides end with the reason', async () => {
    const { service, gateway } = await harness();
    const received = collect(gateway());
    const g = gateway();
    const gatewayClosed = once<ClosedInfo>(g, 'closed');
    const sends = Array.from({ length: 20 }, (_, n) => service.send(stanzaToGateway(n)));
    const closing = service.close('shutdown', 'instance stopping');
    await expect(service.send(stanzaToGateway(99))).rejects.toMatchObject({ code: 'channel-closed' });
    await Promise.all(sends);
    await closing;
    const info = await gatewayClosed;
    expect(info).toMatchObject({ code: 'shutdown', byPeer: true, unacked: [] });
    expect(received).toHaveLength(20);
    expect(service.state).toBe('closed');
  });

  it('hands unacknowledged messages back when a detached channel expires (§10.5)', async () => {
    const { service, gateway } = await harness({ service: { ackMode: 'manual' }, acceptor: { resumeTimeoutMs: 100 } });
    const g = gateway();
    const closed = once<ClosedInfo>(g, 'closed');
    const detached = once(g, 'detached');
    const sends = [1, 2, 3].map((n) => g.send(stanzaToService(n)));
    await until(() => g.stats().outstandingMessages === 3);
    service.destroy();
    await detached;
    expect(g.state).toBe('detached');
    const info = await closed;
    expect(info).toMatchObject({ code: 'expired', byPeer: false });
    expect(info.unacked.map((entry) => entry.id)).toEqual([1, 2, 3]);
    for (const send of sends) await expect(send).rejects.toMatchObject({ code: 'channel-closed' });
  });
});
