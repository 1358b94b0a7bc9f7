// The limits as options: defaults, validation, how the stanza sizes reach the stream and the
// service channel (a Gateway with a real service: 500 KiB from a service passes, 520 KiB is refused).

import { createMemoryRegistry } from '@ambrosia/registry';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_LIMITS, Gateway, ProxyGate, emptyProtectionStats, proxyOptionsFor, resolveGatewayLimits, streamOptionsWithLimits, LIMIT_NAMES } from '../../src/index.js';
import { connectService, makePki, sendToGateway, until } from '../services/helpers.js';

describe('GatewayLimits', () => {
  it('has the defaults of issue #8', () => {
    expect(DEFAULT_GATEWAY_LIMITS).toMatchObject({
      preAuthStanzaBytes: 8192,
      stanzaBytes: 262_144,
      s2sStanzaBytes: 524_288,
      serviceStanzaBytes: 524_288,
      preAuthTimeoutMs: 30_000,
    });
    expect(resolveGatewayLimits()).toEqual(DEFAULT_GATEWAY_LIMITS);
    expect(Object.isFrozen(resolveGatewayLimits())).toBe(true);
  });

  it('merges partial options, rate limits included; undefined keeps the default', () => {
    const limits = resolveGatewayLimits({ preAuthTimeoutMs: 3000, connectionRatePerIp: { limit: 5 }, bytesPerSecond: undefined });
    expect(limits.preAuthTimeoutMs).toBe(3000);
    expect(limits.connectionRatePerIp).toEqual({ limit: 5, windowMs: DEFAULT_GATEWAY_LIMITS.connectionRatePerIp.windowMs });
    expect(limits.bytesPerSecond).toBe(DEFAULT_GATEWAY_LIMITS.bytesPerSecond);
  });

  it('refuses bad values with a RangeError naming the key; 0 turns the per-IP and rate limits off', () => {
    expect(() => resolveGatewayLimits({ preAuthTimeoutMs: 0 })).toThrow(/preAuthTimeoutMs/);
    expect(() => resolveGatewayLimits({ stanzaBytes: 10 })).toThrow(/stanzaBytes/);
    expect(() => resolveGatewayLimits({ connectionRatePerIp: { windowMs: -1 } })).toThrow(/connectionRatePerIp.windowMs/);
    expect(() => resolveGatewayLimits({ maxUnauthenticatedPerIp: 1.5 })).toThrow(/maxUnauthenticatedPerIp/);
    const off = resolveGatewayLimits({ maxUnauthenticatedPerIp: 0, connectionRatePerIp: { limit: 0 }, clusterConnectionRatePerIp: { limit: 0 }, bytesPerSecond: 0, stanzasPerSecond: 0 });
    expect(off.maxUnauthenticatedPerIp).toBe(0);
  });

  it('feeds the stream parser budgets unless the stream options set them', () => {
    const limits = resolveGatewayLimits({ preAuthStanzaBytes: 4096, stanzaBytes: 65_536 });
    expect(streamOptionsWithLimits({ requireTls: false }, limits)).toEqual({ requireTls: false, preAuthLimits: { maxStanzaBytes: 4096 }, limits: { maxStanzaBytes: 65_536 } });
    expect(streamOptionsWithLimits({ limits: { maxStanzaBytes: 1_000_000, maxDepth: 8 } }, limits).limits).toEqual({ maxStanzaBytes: 1_000_000, maxDepth: 8 });
  });

  it('every limit has a counter from the start', () => {
    const stats = emptyProtectionStats();
    expect(Object.keys(stats.tripped)).toEqual([...LIMIT_NAMES]);
    expect(Object.values(stats.tripped).every((n) => n === 0)).toBe(true);
  });
});

describe('proxyProtocol options', () => {
  it('one setting for both listeners, or one per listener', () => {
    const both = { trusted: ['10.0.0.0/8'] };
    expect(proxyOptionsFor(both, 'c2s')).toBe(both);
    expect(proxyOptionsFor(both, 'c2sTls')).toBe(both);
    expect(proxyOptionsFor({ c2sTls: both }, 'c2s')).toBeUndefined();
    expect(proxyOptionsFor({ c2sTls: both }, 'c2sTls')).toBe(both);
    expect(proxyOptionsFor(undefined, 'c2s')).toBeUndefined();
  });

  it('a bad trusted entry or mode fails at construction', () => {
    expect(() => new ProxyGate({ trusted: ['10.0.0.1/8'] })).toThrow(RangeError);
    expect(() => new ProxyGate({ trusted: ['not an address'] })).toThrow(RangeError);
    expect(() => new ProxyGate({ trusted: ['10.0.0.0/8'], mode: 'sometimes' as 'optional' })).toThrow(/mode/);
  });
});

describe('service channel stanza size (limits.serviceStanzaBytes)', () => {
  it('a Gateway takes 500 KiB from a service and refuses 520 KiB; gateway.stats().limits is there before start', async () => {
    const pki = await makePki();
    const registry = createMemoryRegistry({ heartbeatIntervalMs: 0 });
    const gateway = new Gateway({
      id: 'gw-1',
      registry,
      ports: { c2s: null, c2sTls: null, service: 0 },
      tls: { channelCert: pki.gateway.cert, channelKey: pki.gateway.key, caCert: pki.ca.certPem },
      auth: { decoySecret: Buffer.alloc(32, 1) },
    });
    expect(gateway.stats().limits.tripped['pre-auth-timeout']).toBe(0);
    const { ports } = await gateway.start();
    const service = await connectService(ports.service, { instance: 'im-1', credentials: pki.service });
    try {
      await until(() => (gateway.stats().hub?.services ?? 0) > 0, 'registration');
      const stanza = (size: number): string => `<message from="juliet@example.org/a" to="romeo@example.org/b"><body>${'x'.repeat(size)}</body></message>`;
      const outcomes: string[] = [];
      const refusedAtStart = gateway.stats().hub!.refused;
      await sendToGateway(service, stanza(500 * 1024), { via: 'c2s', origin: 'example.org', session: 'c2s-nobody', gateway: 'gw-1' }, (o) => outcomes.push(o));
      await until(() => outcomes.length === 1, 'first report');
      const refusedBefore = gateway.stats().hub!.refused;
      expect(refusedBefore).toBe(refusedAtStart);
      await sendToGateway(service, stanza(520 * 1024), { via: 'c2s', origin: 'example.org', session: 'c2s-nobody', gateway: 'gw-1' }, (o) => outcomes.push(o));
      await until(() => outcomes.length === 2, 'second report');
      expect(gateway.stats().hub!.refused).toBe(refusedBefore + 1);
    } finally {
      await service.endpoint.close().catch(() => {});
      await gateway.stop({ timeoutMs: 1000 });
      await registry.close();
    }
  });
});
