// Link loss, gateway restarts, graceful stop and backpressure, over real TLS on 127.0.0.1.
import { describe, expect, it } from 'vitest';
import { xml } from '@ambrosia/xml';
import type { DomainService, SendOutcome } from '../src/index.js';
import { ChannelError } from '@ambrosia/service-protocol';
import { FreezableRelay, clientStanza, deferred, idOf, serviceOptions, startService, staticGateway, until, useTestBed } from './helpers.js';

const bed = useTestBed();
const { cleanup, gateway, service, startedService } = bed;

const outgoing = (n: number) => xml('message', { from: 'juliet@example.org/balcony', to: 'romeo@example.org/orchard', id: `o${n}` }, xml('body', {}, String(n)));

describe('a gateway link cut mid-stream', () => {
  it('resumes the channel: nothing lost, nothing duplicated, lane order kept, both directions', async () => {
    const gw = await gateway('gw-cut');
    const seen = new Map<string, number[]>();
    let count = 0;
    const errors: Error[] = [];
    const sdk = await service(gw, { onError: (e: Error) => errors.push(e) }, (s) =>
      s.onStanza(async (stanza) => {
        const lane = seen.get(stanza.session) ?? [];
        lane.push(Number(String(stanza.element.attrs['id']).slice(1)));
        seen.set(stanza.session, lane);
        count++;
        await new Promise((resolve) => setImmediate(resolve));
      }),
    );
    const channel = gw.channel();
    const inbound = Array.from({ length: 600 }, (_, n) => channel.send(clientStanza('gw-cut', `lane-${n % 8}`, n, { size: n % 50 === 0 ? 50_000 : 300 })));
    const outbound: Promise<SendOutcome>[] = [];
    for (let n = 0; n < 300; n++) outbound.push(sdk.sendToSession({ gateway: 'gw-cut', session: `to-${n % 4}` }, outgoing(n)));
    await until(() => count >= 150, 'a quarter of the stanzas');
    gw.cutLinks();
    await Promise.all(inbound);
    expect(await Promise.all(outbound)).toEqual(Array(300).fill('accepted'));

    expect(count).toBe(600);
    for (const [lane, ids] of seen) {
      expect(ids, lane).toEqual([...ids].sort((a, b) => a - b));
      expect(new Set(ids).size, lane).toBe(ids.length);
    }
    const arrived = gw.received.map((message) => idOf(message.message.xml));
    expect(arrived).toHaveLength(300);
    expect(new Set(arrived).size).toBe(300);
    expect(gw.channels).toHaveLength(1); // one channel, resumed on a new link
    expect(errors.some((e) => /resuming/.test(e.message))).toBe(true);
    expect(sdk.gateways).toEqual(['gw-cut']);
  });
});

describe('a silent partition', () => {
  it('is detected by heartbeats on both sides; the channel resumes through a new link', async () => {
    const gw = await gateway('gw-silent', false, { heartbeat: { heartbeatMs: 100, deadAfterMs: 400 } });
    const relay = await new FreezableRelay(gw.port).start();
    cleanup.push(() => relay.close());
    const handled: number[] = [];
    const sdk = await startedService(serviceOptions(bed.pki, { gateways: [{ id: 'gw-silent', host: '127.0.0.1', port: relay.port }] }), (s) =>
      s.onStanza((stanza) => void handled.push(Number(String(stanza.element.attrs['id']).slice(1)))),
    );
    const channel = gw.channel();
    await Promise.all([0, 1, 2].map((n) => channel.send(clientStanza('gw-silent', 's1', n))));
    relay.freeze();
    // Sent into the void: neither side sees the transport close.
    const during = [3, 4, 5].map((n) => channel.send(clientStanza('gw-silent', 's1', n)));
    const outbound = sdk.sendToSession({ gateway: 'gw-silent', session: 's9' }, outgoing(1));
    await Promise.all(during);
    expect(await outbound).toBe('accepted');
    expect(handled).toEqual([0, 1, 2, 3, 4, 5]);
    expect(gw.channels).toHaveLength(1);
    expect(gw.received.map((message) => idOf(message.message.xml))).toEqual(['o1']);
  });
});

describe('a channel that ends under a running handler (§10.5)', () => {
  it('runs a handed-over copy of a queued stanza, skips the copy of one it handled', async () => {
    const gw = await gateway('gw-end');
    const gate = deferred();
    const calls: string[] = [];
    const errors: Error[] = [];
    const sdk = await service(gw, { onError: (error: Error) => errors.push(error) }, (s) =>
      s.onStanza(async (stanza) => {
        calls.push(`${stanza.key}${stanza.redelivered ? ' (redelivered)' : ''}`);
        if (stanza.key === 'k1') await gate.promise;
      }),
    );
    const first = gw.channel();
    const k1 = first.send(clientStanza('gw-end', 's1', 1, { key: 'k1' })).then(() => 'acked', (error: { code: string }) => error.code);
    const k2 = first.send(clientStanza('gw-end', 's1', 2, { key: 'k2' })).then(() => 'acked', (error: { code: string }) => error.code);
    await until(() => calls.length === 1 && sdk.stats().queued === 2, 'k1 running, k2 queued');
    // The gateway ends the channel (as for ack-timeout): nothing was acked, both are handed back.
    first.destroy(new ChannelError('internal-error', 'test'));
    expect(await k1).toBe('channel-closed');
    expect(await k2).toBe('channel-closed');
    await until(() => errors.some((error) => /ended \(internal-error\)/.test(error.message)), 'the service to see the channel end');
    gate.resolve();
    await until(() => sdk.stats().queued === 0 && sdk.gateways.length === 1 && gw.channel() !== first, 'a new channel');
    expect(sdk.stats().abandoned).toBe(1);
    // The gateway hands both to an instance again: this one (same key, REDELIVERED).
    const second = gw.channel();
    await second.send(clientStanza('gw-end', 's1', 1, { key: 'k1', redelivered: true }));
    await second.send(clientStanza('gw-end', 's1', 2, { key: 'k2', redelivered: true }));
    expect(calls).toEqual(['k1', 'k2 (redelivered)']);
    expect(sdk.stats().duplicatesSkipped).toBe(1);
  });
});

describe('a gateway restarted', () => {
  it('reconnects with a new channel and resends what the old one never acked', async () => {
    const gw = await gateway('gw-restart', true);
    const sdk = await service(gw);
    const sends = Array.from({ length: 50 }, (_, n) => sdk.sendToSession({ gateway: 'gw-restart', session: `s${n % 3}` }, outgoing(n)));
    await until(() => gw.received.length === 50, 'fifty stanzas at the gateway');
    for (const message of gw.received.slice(0, 20)) message.ack();
    await until(() => sdk.stats().gateways[0]!.outstandingMessages === 30, 'twenty acks at the service');
    const before = gw.received.slice(0, 20).map((message) => idOf(message.message.xml));

    await gw.restart();
    await until(() => gw.received.length === 80, 'the thirty unacked stanzas resent to the new gateway process');
    const after = gw.received.slice(50).map((message) => idOf(message.message.xml));
    gw.ackAll();
    expect(await Promise.all(sends)).toEqual(Array(50).fill('accepted'));
    expect([...before, ...after].sort()).toEqual(Array.from({ length: 50 }, (_, n) => `o${n}`).sort());
    // Each lane's unacked stanzas were resent in their original order (§10.4).
    for (const lane of ['s0', 's1', 's2']) {
      const ids = gw.received.slice(50).filter((message) => message.message.context.session === lane).map((message) => Number(idOf(message.message.xml).slice(1)));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
    }
    expect(gw.channels.filter((channel) => channel.state === 'open')).toHaveLength(1);
    expect(sdk.gateways).toEqual(['gw-restart']);
  });
});

describe('stop()', () => {
  it('unregisters, finishes the handlers, acks what it took, closes; hands back what came after', async () => {
    const gw = await gateway('gw-stop');
    const gate = deferred();
    const handled: string[] = [];
    const sdk = await startService(serviceOptions(bed.pki, { gateways: [staticGateway(gw)] }), (s) =>
      s.onStanza(async (stanza) => {
        await gate.promise;
        handled.push(String(stanza.element.attrs['id']));
      }),
    );
    const channel = gw.channel();
    const taken = [1, 2, 3].map((n) => channel.send(clientStanza('gw-stop', 's1', n)));
    await until(() => sdk.stats().queued === 3, 'three stanzas taken');
    const stopped = sdk.stop({ timeoutMs: 5_000 });
    await until(() => gw.unregistered.includes('example.org/client'), 'UNREGISTER at the gateway');
    await expect(sdk.route(outgoing(1))).rejects.toMatchObject({ code: 'stopped' });
    // Arrives after stop began: not handled, not acked, handed back by the gateway's channel (§10.5).
    const late = channel.send(clientStanza('gw-stop', 's2', 9));
    const lateOutcome = late.then(() => 'acked', (error: { code: string }) => error.code);
    gate.resolve();
    await stopped;
    await Promise.all(taken);
    expect(handled).toEqual(['m1', 'm2', 'm3']);
    expect(await lateOutcome).toBe('channel-closed');
    await until(() => gw.closedReasons.length === 1, 'the channel to close');
    expect(gw.closedReasons).toEqual(['shutdown']);
    expect(sdk.gateways).toEqual([]);
  });

  it('is bounded: a handler that never settles does not hold stop() past its deadline', async () => {
    const gw = await gateway('gw-stuck');
    const sdk = await startService(serviceOptions(bed.pki, { gateways: [staticGateway(gw)] }), (s) => s.onStanza(() => new Promise<void>(() => {})));
    const channel = gw.channel();
    const stuck = channel.send(clientStanza('gw-stuck', 's1', 1)).then(() => 'acked', (error: { code: string }) => error.code);
    await until(() => sdk.stats().running === 1, 'the handler to start');
    await sdk.stop({ timeoutMs: 300 });
    // Never acked: the gateway has it back to give to another instance.
    expect(await stuck).toBe('channel-closed');
  });
});

describe('backpressure and bounds', () => {
  it('inbound: unacked stanzas fill the advertised window, so the gateway stops sending', async () => {
    const gw = await gateway('gw-window');
    const gate = deferred();
    let handled = 0;
    const sdk = await service(gw, { receiveLimits: { maxUnackedMessages: 16 } }, (s) =>
      s.onStanza(async () => {
        await gate.promise;
        handled++;
      }),
    );
    const channel = gw.channel();
    const sends = Array.from({ length: 100 }, (_, n) => channel.send(clientStanza('gw-window', `s${n}`, n)));
    await until(() => sdk.stats().queued === 16 && channel.stats().queuedMessages === 84, 'the window to fill');
    expect(channel.stats().outstandingMessages).toBe(16);
    gate.resolve();
    await Promise.all(sends);
    expect(handled).toBe(100);
  });

  it('inbound: a lane over its bound stops reading from its gateway until it drains to half', async () => {
    const gw = await gateway('gw-lane');
    const gate = deferred();
    const order: number[] = [];
    const sdk = await service(gw, { maxQueuedPerLane: 4 }, (s) =>
      s.onStanza(async (stanza) => {
        await gate.promise;
        order.push(Number(String(stanza.element.attrs['id']).slice(1)));
      }),
    );
    const channel = gw.channel();
    const sends = Array.from({ length: 300 }, (_, n) => channel.send(clientStanza('gw-lane', 'hot', n, { size: 40_000 })));
    await until(() => sdk.stats().pausedGateways === 1, 'reading to pause');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(sdk.stats().queued).toBeLessThan(300);
    gate.resolve();
    await Promise.all(sends);
    expect(order).toEqual(Array.from({ length: 300 }, (_, n) => n));
    expect(sdk.stats().pausedGateways).toBe(0);
  });

  it('outbound: senders wait for a full channel to drain, a bounded number of them', async () => {
    const gw = await gateway('gw-full', true, { receiveLimits: { maxUnackedMessages: 16 } });
    const sdk = await service(gw, { channelLimits: { queueHighWaterMessages: 8 }, maxWaitingSenders: 4 });
    const send = (n: number) =>
      sdk.sendToSession({ gateway: 'gw-full', session: `s${n % 5}` }, outgoing(n)).then(
        (outcome) => outcome,
        (error: { code: string }) => `rejected:${error.code}`,
      );
    // The gateway's window (16 unacked) fills, then the send queue reaches its high-water mark (8).
    // (One at a time: a burst queued within one tick would reach the high-water mark before the
    // channel writes any of it.)
    const results: Promise<string>[] = [];
    for (let n = 0; n < 16; n++) {
      results.push(send(n));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(() => gw.received.length === 16, 'the window to fill');
    for (let n = 16; n < 24; n++) results.push(send(n));
    await until(() => sdk.stats().gateways[0]!.queuedMessages === 8, 'the queue to reach high water');
    // Now senders wait, at most four of them; the next ones are refused at once.
    for (let n = 24; n < 30; n++) results.push(send(n));
    await until(() => sdk.stats().waitingSenders === 4, 'senders to wait');
    expect(await results[28]).toBe('rejected:queue-full');
    expect(await results[29]).toBe('rejected:queue-full');
    const acker = setInterval(() => gw.ackAll(), 5);
    try {
      const outcomes = await Promise.all(results);
      expect(outcomes.slice(0, 28)).toEqual(Array(28).fill('accepted'));
      expect(gw.received.map((message) => idOf(message.message.xml))).toEqual(Array.from({ length: 28 }, (_, n) => `o${n}`));
      expect(sdk.stats().waitingSenders).toBe(0);
    } finally {
      clearInterval(acker);
    }
  });
});
