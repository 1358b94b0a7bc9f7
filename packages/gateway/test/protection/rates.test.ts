// Rates at the edge (issue #8): the per-connection byte shaper, the stanza-rate guard (slow, then
// cut), and the bounded send buffer of a client that never reads — each tripped on a real edge
// while a healthy session keeps its round trip (printed, never asserted).

import { xml } from '@ambrosia/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, STREAM_ERROR, WireClient, addTestUser, eventually, login, medianRoundTrip, startProtectedEdge, trips, type ProtectedEdge } from './helpers.js';

describe('byte and stanza rates, send buffer', () => {
  let t: ProtectedEdge;
  let healthy: WireClient;

  beforeAll(async () => {
    t = await startProtectedEdge({
      limits: { bytesPerSecond: 16_384, burstBytes: 16_384, stanzasPerSecond: 100, stanzaBurst: 10, maxStanzaDebt: 30 },
      stream: { maxSendBufferBytes: 65_536, sm: { enabled: false } },
    });
    await Promise.all(['juliet', 'romeo', 'tybalt', 'nurse', 'paris'].map((u) => addTestUser(t.registry, u)));
    healthy = (await login(t, 'juliet')).client;
  });

  afterAll(async () => {
    healthy.destroy();
    await t.close();
  });

  it('byte rate: a client sending 60 KB at once is read at the shaped rate, not cut', async () => {
    const { client } = await login(t, 'romeo', { from: '127.0.6.1' });
    const before = await medianRoundTrip(healthy);
    const started = performance.now();
    for (let i = 0; i < 5; i++) client.send(`<message to='${DOMAIN}' type='chat'><body>big${i}-${'b'.repeat(12_000)}</body></message>`);
    const during = await medianRoundTrip(healthy);
    for (let i = 0; i < 5; i++) await client.until(new RegExp(`<body>big${i}-b+</body>`), 15_000);
    const elapsed = performance.now() - started;
    console.log(`[byte-rate] 60 KB through a 16 KiB/s bucket in ${elapsed.toFixed(0)} ms; healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(t.edge.stats().limits.tripped['byte-rate']).toBeGreaterThanOrEqual(1);
    expect(trips(t, 'byte-rate')[0]!.fields).toMatchObject({ address: '127.0.6.1' });
    expect(client.isClosed).toBe(false);
    client.destroy();
  });

  it('stanza rate: a short burst is slowed, not cut; every stanza is routed', async () => {
    const { client, jid } = await login(t, 'nurse', { from: '127.0.6.4' });
    const routedBefore = t.router.routed.filter((s) => s.origin === jid).length;
    const slowBefore = t.edge.stats().limits.tripped['stanza-rate-slow'];
    client.send(Array.from({ length: 14 }, (_, i) => `<message to='friar@${DOMAIN}' id='s${i}' type='chat'><body>${i}</body></message>`).join(''));
    await eventually(() => t.router.routed.filter((s) => s.origin === jid).length === routedBefore + 14, 5000, '14 routed');
    expect(t.edge.stats().limits.tripped['stanza-rate-slow']).toBeGreaterThan(slowBefore);
    expect(t.edge.stats().limits.tripped['stanza-rate-cut']).toBe(0);
    expect(client.isClosed).toBe(false);
    client.destroy();
  });

  it('stanza rate: a flood past the debt bound is cut with policy-violation', async () => {
    const { client } = await login(t, 'tybalt', { from: '127.0.6.2' });
    const before = await medianRoundTrip(healthy);
    client.send(Array.from({ length: 300 }, (_, i) => `<message to='friar@${DOMAIN}' id='f${i}' type='chat'><body>${i}</body></message>`).join(''));
    const during = await medianRoundTrip(healthy);
    const out = await client.untilClosed();
    console.log(`[stanza-rate-cut] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(out).toMatch(STREAM_ERROR('policy-violation'));
    expect(out).toContain('too many stanzas');
    expect(t.edge.stats().limits.tripped['stanza-rate-cut']).toBe(1);
    expect(trips(t, 'stanza-rate-cut')[0]!.fields).toMatchObject({ address: '127.0.6.2' });
  });

  it('send buffer: a client that never reads is cut without slowing the others', async () => {
    const { client, jid } = await login(t, 'paris', { from: '127.0.6.3' });
    const sessionId = t.edge.table.sessionFor(jid)!;
    const before = await medianRoundTrip(healthy);
    client.socket.pause(); // never reads again: the kernel buffers fill, then the stream's own
    const body = 'p'.repeat(8_000);
    let delivered = 0;
    let during = 0;
    const deliver = () => t.edge.table.deliver(sessionId, xml('message', { to: jid, from: `friar@${DOMAIN}`, type: 'chat' }, xml('body', {}, body)));
    // Until the stream holds output (the transport is congested): then the healthy session is measured.
    for (let i = 0; i < 1000 && deliver() === 'sent'; i++) {
      delivered++;
      if (i % 20 === 19) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(t.edge.table.get(sessionId)?.stream.state).toBe('established');
    during = await medianRoundTrip(healthy);
    // Then past the stream's 64 KiB send buffer: cut.
    for (let i = 0; i < 1000 && t.edge.table.get(sessionId) !== undefined; i++) {
      if (deliver() === 'refused') break;
      delivered++;
    }
    await eventually(() => t.edge.table.get(sessionId) === undefined, 5000, 'frozen reader cut');
    const after = await medianRoundTrip(healthy);
    console.log(`[send-buffer] cut after ${delivered} stanzas of 8 KB; healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms, after ${after.toFixed(1)} ms`);
    expect(t.edge.stats().limits.tripped['send-buffer']).toBe(1);
    expect(trips(t, 'send-buffer')[0]!.fields).toMatchObject({ address: '127.0.6.3' });
    client.destroy();
  });
});
