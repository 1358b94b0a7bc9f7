// DomainService against a gateway-role acceptor over real TLS 1.3 on 127.0.0.1: registration,
// stanzas both ways, lanes, acknowledgement timing, duplicates, requests, origin checks.
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { xml } from '@ambrosia/xml';
import { DomainService, isServiceSdkError, type ReceivedStanza, type SessionEvent } from '../src/index.js';
import { clientStanza, deferred, idOf, serviceOptions, staticGateway, until, useTestBed } from './helpers.js';

const bed = useTestBed();
const { cleanup, gateway, service, startedService } = bed;

function message(from: string, to: string, id: string) {
  return xml('message', { xmlns: 'jabber:client', from, to, id, type: 'chat' }, xml('body', {}, id));
}

describe('connect, register, stanzas both ways', () => {
  it('registers over mutual TLS and carries a stanza each way', async () => {
    const gw = await gateway();
    const received: ReceivedStanza[] = [];
    const sdk = await service(gw, {}, (s) => s.onStanza((stanza) => void received.push(stanza)));
    expect(sdk.gateways).toEqual(['gw-1']);
    const channel = gw.channel();
    expect(channel.registrations).toEqual([{ domain: 'example.org', type: 'client' }]);
    expect(channel.peer).toMatchObject({ role: 'service', commonName: 'im' });

    await channel.send(clientStanza('gw-1', 'c2s-7QxK', 1));
    expect(received).toHaveLength(1);
    const [stanza] = received;
    expect(stanza).toMatchObject({ via: 'c2s', gateway: 'gw-1', session: 'c2s-7QxK', origin: 'juliet@example.org/balcony', key: 'gw-1:c2s-7QxK:1', redelivered: false });
    expect(stanza!.element.name).toBe('message');
    expect(stanza!.element.getChildText('body')).toBe('1');

    const outcome = await sdk.sendToSession({ gateway: 'gw-1', session: 'c2s-9PzB' }, message('juliet@example.org/balcony', 'romeo@example.org/orchard', 'out-1'));
    expect(outcome).toBe('accepted');
    const out = gw.received.at(-1)!.message;
    expect(out.context).toMatchObject({ direction: 'to-gateway', via: 'c2s', gateway: 'gw-1', session: 'c2s-9PzB', origin: 'example.org', deliveryReport: false });
    expect(idOf(out.xml)).toBe('out-1');

    await sdk.route(message('example.org', 'someone@remote.example', 'out-2'), 's2s');
    expect(gw.received.at(-1)!.message.context).toMatchObject({ via: 's2s', gateway: 'gw-1', session: '', origin: 'example.org' });
  });

  it('delivers session events in the session lane, ordered with its stanzas', async () => {
    const gw = await gateway();
    const seen: string[] = [];
    const sdk = await service(gw, {}, (s) => {
      s.onStanza((stanza) => void seen.push(`stanza:${stanza.element.attrs['id']}`));
      s.onSessionEvent((event: SessionEvent) => void seen.push(`${event.event}:${event.jid}${event.reason ? `:${event.reason}` : ''}`));
    });
    const channel = gw.channel();
    await Promise.all([
      channel.send({ kind: 'session-event', event: 'bound', gateway: 'gw-1', session: 's1', jid: 'juliet@example.org/balcony' }),
      channel.send(clientStanza('gw-1', 's1', 1)),
      channel.send(clientStanza('gw-1', 's1', 2)),
      channel.send({ kind: 'session-event', event: 'closed', gateway: 'gw-1', session: 's1', jid: 'juliet@example.org/balcony', reason: 'normal' }),
    ]);
    expect(seen).toEqual(['bound:juliet@example.org/balcony', 'stanza:m1', 'stanza:m2', 'closed:juliet@example.org/balcony:normal']);
    expect(sdk.stats().handled).toBe(4);
  });

  it('refuses locally a stanza whose from is outside the registered domains', async () => {
    const gw = await gateway();
    const sdk = await service(gw);
    await expect(sdk.route(message('mallory@evil.example', 'romeo@example.org', 'x'))).rejects.toMatchObject({ code: 'invalid-from' });
    await expect(sdk.sendToSession({ gateway: 'gw-1', session: 's' }, xml('message', { from: 'example.com', to: 'a@example.net' }))).rejects.toMatchObject({ code: 'invalid-from' });
    await expect(sdk.route(xml('message', { to: 'a@example.org' }))).rejects.toMatchObject({ code: 'invalid-from' });
    expect(gw.received).toHaveLength(0);
    // To a client, a stanza without from comes from the server for the account (a roster push):
    // its origin is the domain of its to.
    const push = xml('iq', { type: 'set', to: 'juliet@example.org/balcony', id: 'push1' }, xml('query', { xmlns: 'jabber:iq:roster' }));
    expect(await sdk.sendToSession({ gateway: 'gw-1', session: 's' }, push)).toBe('accepted');
    expect(gw.received.at(-1)!.message.context.origin).toBe('example.org');
    // To a client, a stanza from another domain (s2s, a remote-server-not-found reply) is
    // delivered by the recipient's home service: its origin is the domain of its to.
    const inbound = xml('message', { type: 'error', from: 'montague@verona.example', to: 'juliet@example.org/balcony' });
    expect(await sdk.sendToSession({ gateway: 'gw-1', session: 's' }, inbound)).toBe('accepted');
    expect(gw.received.at(-1)!.message.context.origin).toBe('example.org');
    await expect(sdk.route(xml('message', { from: 'example.org' }))).rejects.toMatchObject({ code: 'invalid-stanza' });
    expect(gw.received).toHaveLength(2);
  });

  it('fails start() fast when the gateway refuses every registration', async () => {
    const gw = await gateway();
    const errors: Error[] = [];
    const sdk = new DomainService(serviceOptions(bed.pki, { gateways: [staticGateway(gw)], tls: { cert: bed.pki.stranger.certPem, key: bed.pki.stranger.keyPem, ca: bed.pki.ca }, onError: (e) => errors.push(e) }));
    const failure = await sdk.start().catch((error: unknown) => error);
    expect(isServiceSdkError(failure) && failure.code).toBe('registration-refused');
    expect(errors.some((e) => isServiceSdkError(e) && e.code === 'registration-refused' && /forbidden/.test(e.message))).toBe(true);
    await expect(sdk.route(message('example.org', 'a@example.org', 'x'))).rejects.toMatchObject({ code: 'stopped' });
  });
});

describe('start() bounds', () => {
  it('rejects with start-timeout when no gateway answers, reporting each failed dial', async () => {
    const gw = await gateway('gw-gone');
    const port = gw.port;
    await gw.close();
    const errors: Error[] = [];
    const sdk = new DomainService(serviceOptions(bed.pki, { gateways: [{ id: 'gw-gone', host: '127.0.0.1', port }], startTimeoutMs: 300, onError: (e) => errors.push(e) }));
    await expect(sdk.start()).rejects.toMatchObject({ code: 'start-timeout' });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => isServiceSdkError(e) && e.code === 'gateway-link')).toBe(true);
    await expect(sdk.start()).rejects.toMatchObject({ code: 'start-timeout' });
  });
});

describe('the gateway is authenticated (§2.2)', () => {
  it('refuses a TLS server whose certificate is not a gateway certificate of the cluster CA', async () => {
    // A server presenting the service's own certificate: same CA, wrong role.
    const impostor = tls.createServer({ cert: bed.pki.stranger.certPem, key: bed.pki.stranger.keyPem, minVersion: 'TLSv1.3', ALPNProtocols: ['ambrosia-service/1'] }, (socket) => socket.destroy());
    impostor.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', () => resolve()));
    cleanup.push(() => new Promise<void>((resolve) => impostor.close(() => resolve())));
    const errors: Error[] = [];
    const sdk = new DomainService(serviceOptions(bed.pki, { gateways: [{ host: '127.0.0.1', port: (impostor.address() as AddressInfo).port }], startTimeoutMs: 300, onError: (e) => errors.push(e) }));
    await expect(sdk.start()).rejects.toMatchObject({ code: 'start-timeout' });
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((e) => isServiceSdkError(e) && e.code === 'gateway-link')).toBe(true);
  });

  it('dials a gateway by host name and checks it against the certificate (RFC 6125)', async () => {
    const gw = await gateway('gw-named');
    const sdk = await startedService(serviceOptions(bed.pki, { gateways: [{ id: 'gw-named', host: 'localhost', port: gw.port }] }));
    expect(sdk.gateways).toEqual(['gw-named']);
  });
});

describe('lanes', () => {
  it('runs one lane serially and in order, different lanes concurrently', async () => {
    const gw = await gateway();
    const log: string[] = [];
    const gates = new Map<string, { promise: Promise<void>; resolve: () => void }>();
    let running = 0;
    let maxRunningInLane = 0;
    const runningPerLane = new Map<string, number>();
    await service(gw, {}, (s) =>
      s.onStanza(async (stanza) => {
        const id = String(stanza.element.attrs['id']);
        const lane = stanza.session;
        runningPerLane.set(lane, (runningPerLane.get(lane) ?? 0) + 1);
        maxRunningInLane = Math.max(maxRunningInLane, runningPerLane.get(lane)!);
        running++;
        log.push(`start ${lane} ${id}`);
        const gate = gates.get(id);
        if (gate !== undefined) await gate.promise;
        else await new Promise((resolve) => setImmediate(resolve));
        running--;
        runningPerLane.set(lane, runningPerLane.get(lane)! - 1);
        log.push(`end ${lane} ${id}`);
      }),
    );
    const channel = gw.channel();
    gates.set('m1', deferred());
    const sends = [channel.send(clientStanza('gw-1', 'A', 1)), channel.send(clientStanza('gw-1', 'B', 2))];
    for (let n = 3; n < 40; n++) sends.push(channel.send(clientStanza('gw-1', n % 2 === 0 ? 'B' : 'A', n)));
    // B's stanzas all complete while A's first handler is held: lanes are independent.
    await until(() => log.filter((line) => line.startsWith('end B')).length === 19, 'lane B to finish');
    expect(log.filter((line) => line.startsWith('start A'))).toEqual(['start A m1']);
    gates.get('m1')!.resolve();
    await Promise.all(sends);
    expect(maxRunningInLane).toBe(1);
    const orderA = log.filter((line) => line.startsWith('end A')).map((line) => Number(line.split(' m')[1]));
    const orderB = log.filter((line) => line.startsWith('end B')).map((line) => Number(line.split(' m')[1]));
    expect(orderA).toEqual([...orderA].sort((a, b) => a - b));
    expect(orderB).toEqual([...orderB].sort((a, b) => a - b));
    expect(orderA).toHaveLength(20);
    expect(orderB).toHaveLength(19);
    expect(running).toBe(0);
  });

  it('never runs more than `concurrency` lanes at once', async () => {
    const gw = await gateway();
    let running = 0;
    let peak = 0;
    await service(gw, { concurrency: 3 }, (s) =>
      s.onStanza(async () => {
        peak = Math.max(peak, ++running);
        await new Promise((resolve) => setTimeout(resolve, 2));
        running--;
      }),
    );
    const channel = gw.channel();
    await Promise.all(Array.from({ length: 60 }, (_, n) => channel.send(clientStanza('gw-1', `s${n % 12}`, n))));
    expect(peak).toBe(3);
  });

  it('acknowledges a stanza only after its handler settled', async () => {
    const gw = await gateway();
    const gate = deferred();
    let handlerDone = false;
    await service(gw, {}, (s) =>
      s.onStanza(async () => {
        await gate.promise;
        handlerDone = true;
      }),
    );
    const channel = gw.channel();
    let acked = false;
    const send = channel.send(clientStanza('gw-1', 's1', 1)).then(() => (acked = true));
    await until(() => channel.stats().outstandingMessages === 1 && channel.stats().messagesSent === 1, 'the stanza to be written');
    // Round trips keep flowing (heartbeats, other traffic); still no ack while the handler runs.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(acked).toBe(false);
    gate.resolve();
    await send;
    expect(handlerDone).toBe(true);
    expect(acked).toBe(true);
  });

  it('acks a stanza whose handler throws, reports it, and goes on with the lane', async () => {
    const gw = await gateway();
    const errors: Error[] = [];
    const handled: string[] = [];
    const sdk = await service(gw, { onError: (error: Error) => errors.push(error) }, (s) =>
      s.onStanza((stanza) => {
        const id = String(stanza.element.attrs['id']);
        if (id === 'm1') throw new Error('poison');
        handled.push(id);
      }),
    );
    const channel = gw.channel();
    await Promise.all([1, 2, 3].map((n) => channel.send(clientStanza('gw-1', 's1', n))));
    expect(handled).toEqual(['m2', 'm3']);
    expect(errors.filter((e) => isServiceSdkError(e) && e.code === 'handler-failed')).toHaveLength(1);
    expect((errors[0]!.cause as Error).message).toBe('poison');
    expect(sdk.stats().handlerErrors).toBe(1);
    // Not-well-formed XML from a gateway: acked and skipped as well.
    await channel.send({ ...clientStanza('gw-1', 's1', 4), xml: '<message><body>broken</message>' });
    expect(errors.some((e) => isServiceSdkError(e) && e.code === 'bad-inbound-stanza')).toBe(true);
  });
});

describe('duplicates across instances', () => {
  it('skips a redelivered stanza whose key it handled, and acks it', async () => {
    const gw = await gateway();
    const handled: string[] = [];
    const sdk = await service(gw, {}, (s) => s.onStanza((stanza) => void handled.push(`${stanza.key}${stanza.redelivered ? ' (redelivered)' : ''}`)));
    const channel = gw.channel();
    await channel.send(clientStanza('gw-1', 's1', 1, { key: 'k-1' }));
    await channel.send(clientStanza('gw-1', 's1', 1, { key: 'k-1', redelivered: true }));
    await channel.send(clientStanza('gw-1', 's1', 2, { key: 'k-2', redelivered: true }));
    expect(handled).toEqual(['k-1', 'k-2 (redelivered)']);
    expect(sdk.stats().duplicatesSkipped).toBe(1);
  });

  it('acks a copy that arrives while the original is still running only after the original settled', async () => {
    const gw = await gateway();
    const gate = deferred();
    let calls = 0;
    await service(gw, {}, (s) =>
      s.onStanza(async () => {
        calls++;
        await gate.promise;
      }),
    );
    const channel = gw.channel();
    const original = channel.send(clientStanza('gw-1', 's1', 1, { key: 'k-same' }));
    let copyAcked = false;
    const copy = channel.send(clientStanza('gw-1', 's2', 1, { key: 'k-same', redelivered: true })).then(() => (copyAcked = true));
    await until(() => calls === 1 && channel.stats().outstandingMessages === 2, 'both copies to arrive');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(copyAcked).toBe(false);
    gate.resolve();
    await Promise.all([original, copy]);
    expect(calls).toBe(1);
  });
});

describe('requests from the gateway', () => {
  it('answers see-other-host queries and user lookups', async () => {
    const gw = await gateway();
    await service(gw, {}, (s) => {
      s.onSeeOtherHost(({ domain, jid }) => (jid === 'juliet@example.org' ? 'eu.example.net:5222' : domain === 'example.org' ? undefined : 'x'));
      s.onUserLookup(({ user, mechanisms }) =>
        user === 'romeo' ? { outcome: 'found', credentials: { [mechanisms[0]!]: { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2s=' } } } : undefined,
      );
    });
    const channel = gw.channel();
    expect(await channel.request({ kind: 'see-other-host-query', domain: 'example.org', user: 'juliet' })).toEqual({ host: 'eu.example.net:5222' });
    expect(await channel.request({ kind: 'see-other-host-query', domain: 'example.org' })).toEqual({ host: null });
    expect(await channel.request({ kind: 'user-lookup', domain: 'example.org', user: 'nobody', mechanisms: ['SCRAM-SHA-256'] })).toEqual({ outcome: 'unknown' });
    expect(await channel.request({ kind: 'user-lookup', domain: 'example.org', user: 'romeo', mechanisms: ['SCRAM-SHA-256'] })).toEqual({
      outcome: 'found',
      credentials: { 'SCRAM-SHA-256': { salt: 'c2FsdA==', iterations: 4096, storedKey: 'c3Q=', serverKey: 'c2s=' } },
    });
  });

  it('answers `unavailable` beyond maxConcurrentRequests', async () => {
    const gw = await gateway();
    const gate = deferred<string | undefined>();
    await service(gw, { maxConcurrentRequests: 1 }, (s) => s.onSeeOtherHost(() => gate.promise));
    const channel = gw.channel();
    const first = channel.request({ kind: 'see-other-host-query', domain: 'example.org' });
    await until(() => channel.stats().pendingRequests === 1 && channel.stats().outstandingMessages === 0, 'the first query to be taken');
    await expect(channel.request({ kind: 'see-other-host-query', domain: 'example.org' })).rejects.toMatchObject({ code: 'unavailable' });
    gate.resolve('other.example.net');
    expect(await first).toEqual({ host: 'other.example.net' });
  });

  it('answers `unknown` and `null` without handlers, and internal-error when one throws', async () => {
    const gw = await gateway();
    const errors: Error[] = [];
    const sdk = await service(gw, { onError: (e: Error) => errors.push(e) });
    const channel = gw.channel();
    expect(await channel.request({ kind: 'see-other-host-query', domain: 'example.org' })).toEqual({ host: null });
    expect(await channel.request({ kind: 'user-lookup', domain: 'example.org', user: 'x', mechanisms: [] })).toEqual({ outcome: 'unknown' });
    sdk.onSeeOtherHost(() => {
      throw new Error('lookup broke');
    });
    await expect(channel.request({ kind: 'see-other-host-query', domain: 'example.org' })).rejects.toMatchObject({ code: 'internal-error', fromPeer: true });
    expect(errors.some((e) => isServiceSdkError(e) && e.code === 'handler-failed')).toBe(true);
  });
});

describe('delivery reports (§9)', () => {
  it('resolves with the gateway’s report, or unknown when the channel is reset', async () => {
    const gw = await gateway('gw-1', true);
    const sdk = await service(gw);
    const stanza = (id: string) => message('example.org', 'romeo@example.org/orchard', id);
    const delivered = sdk.sendToSession({ gateway: 'gw-1', session: 's-r' }, stanza('r1'), { deliveryReport: true });
    const undelivered = sdk.sendToSession({ gateway: 'gw-1', session: 's-r' }, stanza('r2'), { deliveryReport: true });
    const plain = sdk.sendToSession({ gateway: 'gw-1', session: 's-r' }, stanza('r3'));
    await until(() => gw.received.length === 3, 'three stanzas at the gateway');
    expect(gw.received.map((inbound) => inbound.message.context.deliveryReport)).toEqual([true, true, false]);
    gw.received[0]!.reportDelivery('delivered');
    gw.received[1]!.reportDelivery('undelivered');
    gw.received[2]!.ack();
    expect(await delivered).toBe('delivered');
    expect(await undelivered).toBe('undelivered');
    expect(await plain).toBe('accepted');

    const pending = sdk.sendToSession({ gateway: 'gw-1', session: 's-r' }, stanza('r4'), { deliveryReport: true });
    await until(() => gw.received.length === 4, 'the fourth stanza');
    gw.received[3]!.ack();
    await until(() => sdk.stats().gateways[0]!.awaitingDelivery === 1, 'the ack');
    // The gateway dies with the stanza in a client's queue: its fate is unknown (§9).
    await gw.restart();
    expect(await pending).toBe('unknown');
  });

  it('answers unknown for a gateway it cannot reach within reconnectWaitMs', async () => {
    const gw = await gateway();
    const sdk = await service(gw, { reconnectWaitMs: 50 });
    expect(await sdk.sendToSession({ gateway: 'gw-nowhere', session: 's' }, message('example.org', 'a@example.org/r', 'x'))).toBe('unknown');
  });
});
