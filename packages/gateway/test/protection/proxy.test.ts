// PROXY protocol v1 and v2 on both client listeners (issue #8): accepted from a trusted proxy,
// refused from anyone else; the address from the header reaches the per-IP limits, the SASL
// brute-force counters and the log lines. The "proxy" here is the test dialling from 127.0.0.1
// with a header it wrote; haproxy.test.ts does the same through a real HAProxy.

import { encodeV1, encodeV2 } from '@ambrosia/proxy-protocol';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD } from '../c2s/helpers.js';
import { STREAM_ERROR, WireClient, addTestUser, eventually, header, login, medianRoundTrip, startProtectedEdge, trips, type ProtectedEdge } from './helpers.js';

const DESTINATION = { address: '192.0.2.1', port: 5222 };
const v1 = (address: string, port = 40_000): Buffer => encodeV1({ source: { address, port }, destination: DESTINATION });
const v2 = (address: string, port = 40_000): Buffer => encodeV2({ source: { address, port }, destination: address.includes(':') ? { address: '2001:db8::1', port: 5223 } : DESTINATION });

const open: WireClient[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.destroy();
});

describe('PROXY protocol on both listeners (trusted: 127.0.0.1, required)', () => {
  let t: ProtectedEdge;
  let healthy: WireClient;

  beforeAll(async () => {
    t = await startProtectedEdge({
      proxyProtocol: { trusted: ['127.0.0.1/32'], mode: 'required', headerTimeoutMs: 1000 },
      limits: { maxUnauthenticatedPerIp: 2 },
    });
    await Promise.all(['juliet', 'romeo', 'benvolio'].map((u) => addTestUser(t.registry, u)));
    healthy = (await login(t, 'juliet', { prefix: v2('198.51.100.1') })).client;
  });

  afterAll(async () => {
    healthy.destroy();
    await t.close();
  });

  it('v1 on 5222 (STARTTLS): the session runs as the header says; SASL counts and logs use that address', async () => {
    const { client, jid } = await login(t, 'romeo', { prefix: v1('203.0.113.7') });
    open.push(client);
    const proxied = t.logs.find((l) => l.event === 'c2s-proxied' && l.fields?.address === '203.0.113.7');
    expect(proxied?.fields).toMatchObject({ kind: 'starttls', session: t.edge.table.sessionFor(jid) });
    // A failed login from behind the proxy is counted under the client's address, not the proxy's.
    const failing = await WireClient.dial(t.port, { prefix: v1('203.0.113.7', 40_001) });
    open.push(failing);
    failing.send(header());
    await failing.until(/<\/stream:features>/);
    await failing.startTls(t.caPem);
    failing.send(header());
    await failing.until(/<\/stream:features>/);
    failing.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0romeo\0not ${PASSWORD}`).toString('base64')}</auth>`);
    await failing.until(/<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl">/);
    expect(await t.registry.counters.get('auth:fail:ip:203.0.113.7')).toBe(1);
    expect(await t.registry.counters.get('auth:fail:ip:127.0.0.1')).toBe(0);
  });

  it('v2 on 5223 (direct TLS): the header comes before the ClientHello', async () => {
    const { client, jid } = await login(t, 'benvolio', { prefix: v2('2001:db8:5::7'), direct: true });
    open.push(client);
    const proxied = t.logs.find((l) => l.event === 'c2s-proxied' && l.fields?.address === '2001:db8:5::7');
    expect(proxied?.fields).toMatchObject({ kind: 'direct-tls', session: t.edge.table.sessionFor(jid) });
    expect(t.edge.stats().limits.proxy.accepted).toBeGreaterThanOrEqual(3);
  });

  it('the per-IP limits count the address from the header, not the proxy', async () => {
    const before = await medianRoundTrip(healthy);
    const first = await WireClient.dial(t.port, { prefix: v1('203.0.113.50', 41_000) });
    const second = await WireClient.dial(t.port, { prefix: v2('203.0.113.50', 41_001) });
    open.push(first, second);
    for (const c of [first, second]) {
      c.send(header());
      await c.until(/<\/stream:features>/);
    }
    const third = await WireClient.dial(t.tlsPort, { prefix: v2('203.0.113.50', 41_002), tls: { ca: t.caPem } });
    open.push(third);
    third.send(header());
    const during = await medianRoundTrip(healthy);
    expect(await third.untilClosed()).toMatch(STREAM_ERROR('policy-violation'));
    console.log(`[unauthenticated-per-ip behind a proxy] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(trips(t, 'unauthenticated-per-ip').at(-1)!.fields).toMatchObject({ address: '203.0.113.50' });
    // Same proxy, another client address: served.
    const other = await WireClient.dial(t.port, { prefix: v1('203.0.113.51') });
    open.push(other);
    other.send(header());
    await other.until(/<\/stream:features>/);
  });

  it('a header from an untrusted peer is refused on both listeners, without a byte in answer', async () => {
    const before = await medianRoundTrip(healthy);
    const plain = await WireClient.dialRaw(t.port, { from: '127.0.0.2', prefix: v1('203.0.113.9') });
    const direct = await WireClient.dialRaw(t.tlsPort, { from: '127.0.0.2', prefix: v2('203.0.113.9') });
    const during = await medianRoundTrip(healthy);
    expect(await plain.untilClosed()).toBe('');
    expect(await direct.untilClosed()).toBe('');
    console.log(`[proxy-refused] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(t.edge.stats().limits.proxy.refused.PROXY_UNTRUSTED).toBe(2);
    expect(trips(t, 'proxy-refused').filter((l) => l.fields?.code === 'PROXY_UNTRUSTED').map((l) => l.fields?.peer)).toEqual(['127.0.0.2', '127.0.0.2']);
  });

  it('required mode: the trusted proxy without a header is refused; an untrusted client without one is served as itself', async () => {
    const missing = await WireClient.dialRaw(t.port, { from: '127.0.0.1' });
    missing.send(header());
    expect(await missing.untilClosed()).toBe('');
    await eventually(() => t.edge.stats().limits.proxy.refused.PROXY_MISSING === 1, 2000, 'PROXY_MISSING counted');
    const direct = await WireClient.dial(t.port, { from: '127.0.0.3' });
    open.push(direct);
    direct.send(header());
    await direct.until(/<\/stream:features>/);
  });
});

describe('PROXY protocol per listener, optional mode', () => {
  it('only 5222 expects headers; a trusted peer may omit it; 5223 takes plain TLS', async () => {
    const t = await startProtectedEdge({ proxyProtocol: { c2s: { trusted: ['127.0.0.0/8'], mode: 'optional' } } });
    try {
      await addTestUser(t.registry, 'juliet');
      const proxied = await login(t, 'juliet', { prefix: v1('203.0.113.77') });
      open.push(proxied.client);
      expect(t.logs.some((l) => l.event === 'c2s-proxied' && l.fields?.address === '203.0.113.77')).toBe(true);
      const bare = await login(t, 'juliet', { from: '127.0.0.4' });
      open.push(bare.client);
      const tls = await login(t, 'juliet', { direct: true });
      open.push(tls.client);
      const listeners = t.edge.stats().listeners.map((l) => [l.kind, l.proxyProtocol]);
      expect(listeners).toEqual([['starttls', true], ['direct-tls', false]]);
    } finally {
      await t.close();
    }
  });
});
