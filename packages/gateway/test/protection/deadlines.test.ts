// Deadlines and sizes at the edge (issue #8), each tripped over real sockets on 127.x while a
// healthy session on the same edge keeps its round trip (printed, never asserted).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, STREAM_ERROR, WireClient, addTestUser, eventually, header, login, medianRoundTrip, startProtectedEdge, trips, untilSasl, type ProtectedEdge } from './helpers.js';

const PRE_AUTH_MS = 1500;

describe('deadlines and stanza sizes', () => {
  let t: ProtectedEdge;
  let healthy: WireClient;

  beforeAll(async () => {
    t = await startProtectedEdge({
      limits: { preAuthTimeoutMs: PRE_AUTH_MS, preAuthStanzaBytes: 4096, stanzaBytes: 16_384 },
      stream: { idleTimeoutMs: 400, pingTimeoutMs: 400, sm: { enabled: false } },
      handshakeTimeoutMs: 500,
    });
    await Promise.all(['juliet', 'romeo', 'mercutio'].map((u) => addTestUser(t.registry, u)));
    healthy = (await login(t, 'juliet')).client;
    // The healthy client answers the liveness probes (any byte counts): a whitespace keepalive.
    const keepalive = setInterval(() => healthy.send(' '), 100);
    keepalive.unref();
    healthy.closed.then(() => clearInterval(keepalive), () => {});
  });

  afterAll(async () => {
    healthy.destroy();
    await t.close();
  });

  it('pre-auth deadline: a client trickling bytes but never authenticating is cut with connection-timeout', async () => {
    const before = await medianRoundTrip(healthy);
    const slowpoke = await WireClient.dial(t.port, { from: '127.0.0.2' });
    slowpoke.send(header());
    await slowpoke.until(/<\/stream:features>/);
    // Whitespace between elements: bytes keep coming, which an idle timer would take for life.
    const trickle = setInterval(() => slowpoke.send(' '), 100);
    const during = await medianRoundTrip(healthy);
    const out = await slowpoke.untilClosed(PRE_AUTH_MS + 4000);
    clearInterval(trickle);
    console.log(`[pre-auth-timeout] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(out).toMatch(STREAM_ERROR('connection-timeout'));
    expect(t.edge.stats().limits.tripped['pre-auth-timeout']).toBe(1);
    expect(trips(t, 'pre-auth-timeout')[0]!.fields).toMatchObject({ address: '127.0.0.2' });
    // The healthy session, authenticated long ago, is still served.
    await medianRoundTrip(healthy, 1);
  });

  it('pre-auth deadline: an authenticated client is not cut by it', async () => {
    const { client } = await login(t, 'romeo', { from: '127.0.0.3' });
    const keepalive = setInterval(() => client.send(' '), 100);
    await new Promise((resolve) => setTimeout(resolve, PRE_AUTH_MS + 300));
    clearInterval(keepalive);
    await medianRoundTrip(client, 1);
    expect(client.isClosed).toBe(false);
    expect(trips(t, 'pre-auth-timeout')).toHaveLength(1);
    client.destroy();
  });

  it('pre-auth stanza size (limits.preAuthStanzaBytes): policy-violation', async () => {
    const before = await medianRoundTrip(healthy);
    const client = await WireClient.dial(t.port, { from: '127.0.0.4' });
    client.send(header());
    await client.until(/<\/stream:features>/);
    client.send(`<message><body>${'x'.repeat(5000)}</body></message>`);
    const out = await client.untilClosed();
    const during = await medianRoundTrip(healthy);
    console.log(`[pre-auth-stanza-size] healthy round trip: before ${before.toFixed(1)} ms, after ${during.toFixed(1)} ms`);
    expect(out).toMatch(STREAM_ERROR('policy-violation'));
    expect(t.edge.stats().limits.tripped['pre-auth-stanza-size']).toBe(1);
  });

  it('stanza size after authentication (limits.stanzaBytes): 15 KiB passes, 17 KiB is a policy-violation', async () => {
    const { client } = await login(t, 'mercutio', { from: '127.0.0.5' });
    const before = await medianRoundTrip(healthy);
    client.send(`<message to='${DOMAIN}' type='chat'><body>${'y'.repeat(15_000)}</body></message>`);
    await client.until(/<body>y+<\/body><\/message>/);
    client.send(`<message to='${DOMAIN}' type='chat'><body>${'z'.repeat(17_000)}</body></message>`);
    const out = await client.untilClosed();
    const during = await medianRoundTrip(healthy);
    console.log(`[stanza-size] healthy round trip: before ${before.toFixed(1)} ms, after ${during.toFixed(1)} ms`);
    expect(out).toMatch(STREAM_ERROR('policy-violation'));
    expect(t.edge.stats().limits.tripped['stanza-size']).toBe(1);
    expect(trips(t, 'stanza-size')[0]!.fields).toMatchObject({ address: '127.0.0.5', code: 'XML_LIMIT_STANZA_BYTES' });
  });

  it('TLS handshake deadline: STARTTLS and direct TLS clients that never finish it are cut', async () => {
    const before = await medianRoundTrip(healthy);
    // Direct TLS: a TCP connection that never sends a ClientHello.
    const direct = await WireClient.dial(t.tlsPort, { from: '127.0.0.6' });
    // STARTTLS: <proceed/>, then silence.
    const starttls = await WireClient.dial(t.port, { from: '127.0.0.6' });
    starttls.send(header());
    await starttls.until(/<\/stream:features>/);
    starttls.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await starttls.until(/<proceed/);
    const during = await medianRoundTrip(healthy);
    await direct.untilClosed(5000).catch((e) => { throw new Error(`direct: ${e}`); });
    await starttls.untilClosed(5000).catch((e) => { throw new Error(`starttls: ${e}`); });
    console.log(`[tls-handshake-timeout] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(t.edge.stats().limits.tripped['tls-handshake-timeout']).toBe(2);
  });

  it('idle timeout: a bound client that stops answering is probed, then cut with connection-timeout', async () => {
    const { client } = await login(t, 'romeo', { from: '127.0.0.7' });
    const before = await medianRoundTrip(healthy);
    // Silence: after idleTimeoutMs a ping goes out, after pingTimeoutMs the stream ends.
    await client.until(/<iq [^>]*type="get"[^>]*><ping xmlns="urn:xmpp:ping"\/><\/iq>/, 3000);
    const during = await medianRoundTrip(healthy);
    const out = await client.untilClosed(3000);
    console.log(`[idle-timeout] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(out).toMatch(STREAM_ERROR('connection-timeout'));
    expect(t.edge.stats().limits.tripped['idle-timeout']).toBeGreaterThanOrEqual(1);
    expect(trips(t, 'idle-timeout').some((l) => l.fields?.address === '127.0.0.7')).toBe(true);
  });

  it('a silent connection (never a byte) holds no stream yet, is counted, and gets connection-timeout at the deadline', async () => {
    const started = t.edge.stats().limits.tripped['pre-auth-timeout'];
    const silent = await WireClient.dial(t.port, { from: '127.0.0.9' });
    await eventually(() => t.edge.stats().sessions.silent === 1, 2000, 'counted as silent');
    expect(t.edge.stats().sessions.connections).toBeGreaterThanOrEqual(2);
    const out = await silent.untilClosed(PRE_AUTH_MS + 4000);
    // Our header first, then the error (RFC 6120 §4.9.1.2): the stream was made to say it.
    expect(out).toMatch(/^<\?xml version='1\.0'\?><stream:stream [^>]*>/);
    expect(out).toMatch(STREAM_ERROR('connection-timeout'));
    expect(t.edge.stats().limits.tripped['pre-auth-timeout']).toBe(started + 1);
    expect(t.edge.stats().sessions.silent).toBe(0);
  });

  it('unauthenticated slots are given back at SASL success', async () => {
    const client = await untilSasl(t, { from: '127.0.0.8' });
    expect(t.edge.stats().limits.unauthenticated).toBe(1);
    client.destroy();
    await eventuallyZero(t);
  });
});

async function eventuallyZero(t: ProtectedEdge): Promise<void> {
  for (let i = 0; i < 200 && t.edge.stats().limits.unauthenticated !== 0; i++) await new Promise((r) => setTimeout(r, 10));
  expect(t.edge.stats().limits.unauthenticated).toBe(0);
}
