import { describe, expect, it } from 'vitest';
import { ChannelAcceptor, ChannelEndpoint, createDuplexPair, type DetachedInfo, type InboundMessage } from '../src/index.js';
import { SERVICE_PEER, collect, harness, once, stanzaId, stanzaToGateway, stanzaToService, until } from './helpers.js';

describe('fair interleaving of chunks (§7.3)', () => {
  it('a 5 MB stanza and 10 000 small ones on other lanes: every small one completes before the large one', async () => {
    const { service, gateway } = await harness();
    const order: string[] = [];
    service.on('message', (message: InboundMessage) => order.push(stanzaId(message)));
    let smallDoneBeforeLarge = 0;
    const large = gateway()
      .send(stanzaToService(0, 5 * 1024 * 1024, 'big-lane'))
      .then(() => (smallDoneBeforeLarge = order.length - 1));
    const small = Array.from({ length: 10_000 }, (_, index) => gateway().send(stanzaToService(index + 1, 200, `lane-${index % 1000}`)));
    await Promise.all([large, ...small]);
    expect(order).toHaveLength(10_001);
    // Ordering, not timing: the large stanza, queued first, is the last to be completed.
    expect(order.indexOf('m0')).toBe(10_000);
    expect(smallDoneBeforeLarge).toBe(10_000);
    expect(service.stats().duplicatesDropped).toBe(0);
  });

  it('a small stanza on the same lane as a large one waits for it (order within a lane)', async () => {
    const { service, gateway } = await harness();
    const order: string[] = [];
    service.on('message', (message: InboundMessage) => order.push(stanzaId(message)));
    await Promise.all([
      gateway().send(stanzaToService(1, 300_000, 'same')),
      gateway().send(stanzaToService(2, 100, 'same')),
      gateway().send(stanzaToService(3, 100, 'other')),
    ]);
    expect(order).toEqual(['m3', 'm1', 'm2']);
  });

  it('never has more multi-frame messages in flight than the receiver allows', async () => {
    const { service, gateway } = await harness({ service: { receiveLimits: { maxPartialMessages: 2 } } });
    let maxPartials = 0;
    const timer = setInterval(() => (maxPartials = Math.max(maxPartials, service.stats().partialMessages)), 0);
    const received = collect(service);
    await Promise.all(Array.from({ length: 12 }, (_, n) => gateway().send(stanzaToService(n, 100_000, `l${n}`))));
    clearInterval(timer);
    expect(received).toHaveLength(12);
    expect(maxPartials).toBeLessThanOrEqual(2);
  });
});

describe('window and backpressure (§11)', () => {
  it('stops at the window, signals backpressure, refuses past the hard limit, and resumes on acks', async () => {
    const { service, gateway } = await harness({
      service: { ackMode: 'manual', receiveLimits: { windowBytes: 64 * 1024, maxMessageBytes: 64 * 1024 } },
      acceptor: { limits: { queueHighWaterBytes: 40 * 1024, queueHighWaterMessages: 1000, maxQueuedBytes: 80 * 1024, maxQueuedMessages: 1000 } },
    });
    const g = gateway();
    const received = collect(service);
    const sends: Promise<void>[] = [];
    let refused = 0;
    // 2 KiB stanzas: 32 fill the 64 KiB window, 20 more pass the 40 KiB high-water mark, ~40 more the 80 KiB limit.
    let sawBackpressure = false;
    for (let n = 0; n < 100; n++) {
      const promise = g.send(stanzaToService(n, 2048, `lane-${n % 7}`));
      sends.push(promise.catch((error: { code: string }) => void (error.code === 'queue-full' && refused++)));
      if (!g.writable) sawBackpressure = true;
      // Let the channel work between sends, as an application would.
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sawBackpressure).toBe(true);
    await until(() => received.length > 0 && g.stats().outstandingMessages === received.length);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const stats = g.stats();
    expect(stats.outstandingBytes).toBeLessThanOrEqual(64 * 1024);
    expect(received.length).toBe(stats.outstandingMessages);
    expect(received.length).toBeLessThan(100);
    expect(stats.queuedMessages).toBeGreaterThan(0);
    expect(g.writable).toBe(false);
    expect(refused).toBeGreaterThan(0);
    let capacity = false;
    const waiting = g.waitForCapacity().then(() => (capacity = true));
    // However many senders wait, the endpoint holds one listener pair (no MaxListeners leak).
    const others = Array.from({ length: 50 }, () => g.waitForCapacity());
    expect(g.listenerCount('drain')).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(capacity).toBe(false);
    // The application catches up: each ack opens the window and the queue drains.
    service.on('message', (message: InboundMessage) => message.ack());
    for (const message of received.splice(0)) message.ack();
    await waiting;
    await Promise.all(others);
    expect(g.listenerCount('drain')).toBe(0);
    await Promise.all(sends);
    expect(g.writable).toBe(true);
    expect(g.stats()).toMatchObject({ outstandingMessages: 0, queuedMessages: 0 });
    expect(service.stats().messagesReceived).toBe(100 - refused);
  });

  it('refuses a message larger than the peer accepts, locally (§11.1)', async () => {
    const { gateway } = await harness({ service: { receiveLimits: { maxMessageBytes: 64 * 1024, windowBytes: 128 * 1024 } } });
    await expect(gateway().send(stanzaToService(1, 70 * 1024))).rejects.toMatchObject({ code: 'message-too-large' });
    await gateway().send(stanzaToService(2, 1000));
  });

  it('a peer that stops reading: bounded buffering, the link is dropped, other channels are unaffected (§11.5)', async () => {
    const acceptor = new ChannelAcceptor({ gateway: 'gw-1', heartbeat: { heartbeatMs: 100, deadAfterMs: 30_000 }, limits: { writeStallTimeoutMs: 300 } });
    const channels: ChannelEndpoint[] = [];
    const connect = async (service: ChannelEndpoint) => {
      const [a, b] = createDuplexPair({ highWaterMark: 16 * 1024 });
      const made = new Promise<ChannelEndpoint>((resolve) => {
        const check = () => {
          const channel = [...acceptor.channels.values()].find((candidate) => !channels.includes(candidate));
          if (channel) resolve(channel);
          else setTimeout(check, 1);
        };
        check();
      });
      acceptor.handle(b, SERVICE_PEER);
      await service.attach(a);
      const channel = await made;
      channels.push(channel);
      return { transport: a, gatewayTransport: b, channel };
    };
    const frozen = new ChannelEndpoint({ role: 'service' });
    const healthy = new ChannelEndpoint({ role: 'service' });
    const frozenLink = await connect(frozen);
    const healthyLink = await connect(healthy);
    const healthyReceived = collect(healthy);

    // The frozen service stops reading its socket; the gateway keeps sending to it.
    frozenLink.transport.pause();
    const detached = once<DetachedInfo>(frozenLink.channel, 'detached');
    const toFrozen = Array.from({ length: 2000 }, (_, n) => frozenLink.channel.send(stanzaToService(n, 1024, `f${n % 5}`)));
    let maxBuffered = 0;
    const sampler = setInterval(() => (maxBuffered = Math.max(maxBuffered, frozenLink.gatewayTransport.writableLength)), 1);
    // Meanwhile the healthy channel works normally.
    await Promise.all(Array.from({ length: 200 }, (_, n) => healthyLink.channel.send(stanzaToService(n, 500, `h${n % 5}`))));
    expect(healthyReceived).toHaveLength(200);
    const info = await detached;
    clearInterval(sampler);
    expect(info.code).toBe('write-stall');
    expect(frozenLink.channel.state).toBe('detached');
    // The transport holds at most about one write batch beyond its high-water mark, however much was sent.
    expect(maxBuffered).toBeGreaterThan(0);
    expect(maxBuffered).toBeLessThanOrEqual(128 * 1024);
    expect(frozenLink.channel.stats().outstandingBytes).toBeLessThanOrEqual(32 * 1024 * 1024);
    expect(frozenLink.channel.stats().outstandingMessages + frozenLink.channel.stats().queuedMessages).toBe(2000);
    await healthyLink.channel.send(stanzaToService(999, 100, 'after'));
    expect(healthyReceived).toHaveLength(201);
    await acceptor.close();
    for (const send of toFrozen) await expect(send).rejects.toMatchObject({ code: 'channel-closed' });
  });
});

describe('heartbeats and dead peers (§12)', () => {
  it('pings an idle link and measures the round trip', async () => {
    const { service, gateway } = await harness({ acceptor: { heartbeat: { heartbeatMs: 100, deadAfterMs: 300 } } });
    // The side that writes nothing pings; the other answers (and so needs not ping itself).
    await until(() => service.stats().roundTripMs !== undefined || gateway().stats().roundTripMs !== undefined, 'a round trip');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(service.state).toBe('open');
    expect(gateway().state).toBe('open');
  });
});

describe('stanza hot path', () => {
  it('sends to the gateway with the routing context it was given', async () => {
    const { service, gateway } = await harness();
    const received = collect(gateway());
    await service.send(stanzaToGateway(5, 300, 'c2s-9PzB'));
    expect(received[0]?.message).toMatchObject({ kind: 'stanza', context: { direction: 'to-gateway', via: 'c2s', session: 'c2s-9PzB', origin: 'example.org', key: 'k5' } });
  });
});
