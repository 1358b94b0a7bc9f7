// Per-IP limits (issue #8): concurrent unauthenticated connections, the local connection rate,
// and the cluster-wide rate counted in the registry (two edges on one registry), with the
// registry failing → local limits only. Clients dial from distinct 127.x source addresses.

import { createMemoryRegistry, type Registry } from '@ambrosia/registry';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_ERROR, WireClient, addTestUser, eventually, header, login, medianRoundTrip, startProtectedEdge, trips, untilSasl, type ProtectedEdge } from './helpers.js';
import { PASSWORD } from '../c2s/helpers.js';
import { DEFAULT_GATEWAY_LIMITS } from '../../src/index.js';

const open: WireClient[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.destroy();
});

async function headerOnly(port: number, from: string): Promise<WireClient> {
  const client = await WireClient.dialRaw(port, { from });
  open.push(client);
  client.send(header());
  return client;
}

describe('per-IP limits on one edge', () => {
  let t: ProtectedEdge;
  let healthy: WireClient;

  beforeAll(async () => {
    t = await startProtectedEdge({ limits: { maxUnauthenticatedPerIp: 3, connectionRatePerIp: { limit: 8, windowMs: 60_000 }, clusterConnectionRatePerIp: { limit: 0 } } });
    await Promise.all(['juliet', 'romeo'].map((u) => addTestUser(t.registry, u)));
    healthy = (await login(t, 'juliet')).client;
  });

  afterAll(async () => {
    healthy.destroy();
    await t.close();
  });

  it('maxUnauthenticatedPerIp: the 4th unauthenticated connection from one address gets policy-violation; others and authenticated ones go on', async () => {
    const before = await medianRoundTrip(healthy);
    const waiting = await Promise.all([1, 2, 3].map(() => headerOnly(t.port, '127.0.1.1')));
    for (const c of waiting) await c.until(/<\/stream:features>/);
    const fourth = await headerOnly(t.port, '127.0.1.1');
    const during = await medianRoundTrip(healthy);
    const out = await fourth.untilClosed();
    console.log(`[unauthenticated-per-ip] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(out).toMatch(STREAM_ERROR('policy-violation'));
    expect(out).toContain('too many connections from your address');
    expect(t.edge.stats().limits.tripped['unauthenticated-per-ip']).toBe(1);
    expect(trips(t, 'unauthenticated-per-ip')[0]!.fields).toMatchObject({ address: '127.0.1.1', count: 3 });
    // Another address is not affected.
    const other = await headerOnly(t.port, '127.0.1.2');
    await other.until(/<\/stream:features>/);
    // One of the three authenticates: its slot is free again for a new connection.
    waiting[0]!.destroy();
    await eventually(() => t.edge.stats().limits.unauthenticated === 3, 2000, 'slot released on close');
    const { client } = await login(t, 'romeo', { from: '127.0.1.1' });
    open.push(client);
    expect(t.edge.stats().limits.unauthenticated).toBe(3);
    const again = await headerOnly(t.port, '127.0.1.1');
    await again.until(/<\/stream:features>/);
  });

  it('connectionRatePerIp: the 9th connection within the window gets policy-violation', async () => {
    const before = await medianRoundTrip(healthy);
    for (let i = 0; i < 8; i++) {
      const c = await headerOnly(t.port, '127.0.2.1');
      await c.until(/<\/stream:features>/);
      c.destroy();
    }
    const ninth = await headerOnly(t.port, '127.0.2.1');
    const during = await medianRoundTrip(healthy);
    const out = await ninth.untilClosed();
    console.log(`[connection-rate-per-ip] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(out).toMatch(STREAM_ERROR('policy-violation'));
    expect(t.edge.stats().limits.tripped['connection-rate-per-ip']).toBe(1);
    expect(trips(t, 'connection-rate-per-ip')[0]!.fields).toMatchObject({ address: '127.0.2.1' });
    const other = await headerOnly(t.port, '127.0.2.2');
    await other.until(/<\/stream:features>/);
  });
});

describe('cluster-wide connection rate (registry counters)', () => {
  let registry: Registry;
  let a: ProtectedEdge;
  let b: ProtectedEdge;

  beforeAll(async () => {
    registry = createMemoryRegistry({ heartbeatIntervalMs: 0 });
    const limits = { connectionRatePerIp: { limit: 100, windowMs: 60_000 }, clusterConnectionRatePerIp: { limit: 6, windowMs: 60_000 } };
    a = await startProtectedEdge({ registry, limits });
    b = await startProtectedEdge({ registry, limits });
    await addTestUser(registry, 'juliet');
  });

  afterAll(async () => {
    await a.close();
    await b.close();
    await registry.close();
  });

  it('counts one address across two gateways: the 7th connection is closed with policy-violation', async () => {
    const healthy = (await login(a, 'juliet', { from: '127.0.3.9' })).client;
    open.push(healthy);
    const before = await medianRoundTrip(healthy);
    for (let i = 0; i < 6; i++) {
      const c = await headerOnly(i % 2 === 0 ? a.port : b.port, '127.0.3.1');
      await c.until(/<\/stream:features>/);
    }
    // Each edge alone saw 3 (under its local limit); the registry saw 6.
    const seventh = await headerOnly(b.port, '127.0.3.1');
    const during = await medianRoundTrip(healthy);
    const out = await seventh.untilClosed();
    console.log(`[cluster-connection-rate-per-ip] healthy round trip: before ${before.toFixed(1)} ms, during ${during.toFixed(1)} ms`);
    expect(out).toMatch(STREAM_ERROR('policy-violation'));
    expect(b.edge.stats().limits.tripped['cluster-connection-rate-per-ip']).toBe(1);
    expect(await registry.counters.get('edge:conn:ip:127.0.3.1')).toBe(7);
    // The healthy session's address has its own count (its login: 1).
    expect(await registry.counters.get('edge:conn:ip:127.0.3.9')).toBe(1);
  });

  it('registry down: connections are checked locally only and still served', async () => {
    const failing = createMemoryRegistry({ heartbeatIntervalMs: 0 });
    await addTestUser(failing, 'romeo');
    // The registry's counter store fails (as a Redis outage would); the rest works.
    const broken: Registry = Object.create(failing, {
      counters: { value: { increment: () => Promise.reject(Object.assign(new Error('down'), { code: 'ECONNREFUSED' })), get: () => Promise.resolve(0), reset: () => Promise.resolve() } },
    });
    const t = await startProtectedEdge({ registry: broken, limits: { clusterConnectionRatePerIp: { limit: 1, windowMs: 60_000 } } });
    try {
      const first = await login(t, 'romeo', { from: '127.0.4.1' });
      open.push(first.client);
      const second = await headerOnly(t.port, '127.0.4.1');
      await second.until(/<\/stream:features>/);
      await eventually(() => t.edge.stats().limits.clusterChecks.failed >= 2, 2000, 'checks failed');
      expect(t.edge.stats().limits.tripped['cluster-connection-rate-per-ip']).toBe(0);
      expect(t.logs.filter((l) => l.event === 'cluster-rate-check-failed')).toHaveLength(1);
      expect(second.isClosed).toBe(false);
    } finally {
      await t.close();
      await failing.close();
    }
  });
});

describe('exempt addresses (default: loopback)', () => {
  it('are under no per-IP limit and no rate, but under the pre-auth deadline', async () => {
    const t = await startProtectedEdge({
      limits: { exemptAddresses: ['127.0.7.0/24'], maxUnauthenticatedPerIp: 1, connectionRatePerIp: { limit: 1, windowMs: 60_000 }, preAuthTimeoutMs: 1000 },
    });
    try {
      const exempt = await Promise.all([1, 2, 3].map(() => headerOnly(t.port, '127.0.7.1')));
      for (const c of exempt) await c.until(/<\/stream:features>/);
      expect(t.edge.stats().limits.unauthenticated).toBe(0);
      // Outside the exempt block the limits hold.
      const limited = await headerOnly(t.port, '127.0.8.1');
      await limited.until(/<\/stream:features>/);
      const refused = await headerOnly(t.port, '127.0.8.1');
      expect(await refused.untilClosed()).toMatch(STREAM_ERROR('policy-violation'));
      for (const c of exempt) expect(await c.untilClosed(4000)).toMatch(STREAM_ERROR('connection-timeout'));
      expect(t.edge.stats().limits.tripped['pre-auth-timeout']).toBeGreaterThanOrEqual(3);
    } finally {
      await t.close();
    }
  });

  it('the default exempts loopback only', () => {
    expect(DEFAULT_GATEWAY_LIMITS.exemptAddresses).toEqual(['127.0.0.0/8', '::1/128']);
  });
});

describe('the client address reaches the SASL brute-force policy', () => {
  it('a failed login is counted under the client address', async () => {
    const t = await startProtectedEdge();
    try {
      await addTestUser(t.registry, 'juliet');
      const client = await untilSasl(t, { from: '127.0.5.1' });
      open.push(client);
      client.send(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${Buffer.from(`\0juliet\0not ${PASSWORD}`).toString('base64')}</auth>`);
      await client.until(/<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl">/);
      expect(await t.registry.counters.get('auth:fail:ip:127.0.5.1')).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('shutdown reaches silent connections', () => {
  it('a connection that never sent a byte gets system-shutdown when the edge shuts down', async () => {
    const t = await startProtectedEdge();
    try {
      const silent = await WireClient.dial(t.port, { from: '127.0.9.1' });
      await eventually(() => t.edge.stats().sessions.silent === 1, 2000, 'silent connection counted');
      expect(t.edge.shutdownAll(() => undefined)).toBe(1);
      expect(await silent.untilClosed()).toMatch(STREAM_ERROR('system-shutdown'));
      expect(await t.edge.waitForEmpty(2000)).toBe(true);
    } finally {
      await t.close();
    }
  });
});
