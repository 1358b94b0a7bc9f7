// The Gateway composed for real: the service hub (mutual TLS channel), an echo service built on
// service-protocol's ChannelEndpoint, the c2s listeners, the MemoryRegistry; kick and drain
// commands through the registry; stop with see-other-host to a peer or system-shutdown.

import { MemoryStore, createMemoryRegistry, type Registry } from '@ambrosia/registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/index.js';
import { DOMAIN, RawClient, addTestUser, eventually, header, rawLogin, streamErrorPattern, testCA } from '../c2s/helpers.js';
import { startEchoService, type EchoService } from './echo-service.js';

describe('Gateway', () => {
  const store = new MemoryStore();
  let registry: Registry;
  let gateway: Gateway;
  let ports: { c2s: number; c2sTls: number; service: number };
  let echo: EchoService;
  let ca: Awaited<ReturnType<typeof testCA>>;

  beforeAll(async () => {
    ca = await testCA();
    registry = createMemoryRegistry({ store, heartbeatIntervalMs: 0 });
    gateway = new Gateway({ id: 'gw-a', registry, ports: { c2s: 0, c2sTls: 0, service: 0 }, ca: { cert: ca.certPem, key: ca.keyPem }, auth: { minResponseMs: 1 } });
    ({ ports } = await gateway.start());
    echo = await startEchoService({ ca, registry, gateways: [{ id: 'gw-a', port: ports.service }], domains: [DOMAIN] });
    await Promise.all(['juliet', 'romeo', 'nurse'].map((u) => addTestUser(registry, u)));
  });

  afterAll(async () => {
    await echo.close();
    await gateway.stop({ timeoutMs: 2000 });
    await registry.close();
  });

  it('announces itself with its ports', async () => {
    const [info] = (await registry.gateways.list()).filter((g) => g.id === 'gw-a');
    expect(info).toMatchObject({ id: 'gw-a', addresses: ['127.0.0.1'], ports: { c2s: ports.c2s, 'c2s-tls': ports.c2sTls, service: ports.service }, state: 'active' });
    expect(gateway.stats()).toMatchObject({ id: 'gw-a', state: 'active', ports });
  });

  it('routes a client stanza through the service channel and back (echo)', async () => {
    await eventually(() => gateway.stats().hub!.services > 0, 3000, 'registration');
    const { client, jid } = await rawLogin({ port: ports.c2s, ca }, 'juliet', { resource: 'echo' });
    client.send(`<message to='${DOMAIN}' type='chat' id='e1'><body>ping</body></message>`);
    const reply = (await client.until(/<message[^>]*>.*?<\/message>/))[0];
    expect(reply).toContain(`from="${DOMAIN}"`);
    expect(reply).toContain(`to="${jid}"`);
    expect(reply).toContain('<body>echo: ping</body>');
    expect(echo.received.at(-1)).toMatchObject({ origin: jid, gateway: 'gw-a' });
    await eventually(() => echo.events.some((e) => e.event === 'bound' && e.jid === jid), 2000, 'bound event');
    client.send('</stream:stream>');
    await client.untilClosed();
    await eventually(() => echo.events.some((e) => e.event === 'closed' && e.jid === jid && e.reason === 'normal'), 2000, 'closed event');
  });

  it('host-unknown for a domain no service registered', async () => {
    const client = await RawClient.connect(ports.c2s);
    client.send(header('other.example'));
    expect(await client.untilClosed()).toMatch(/<host-unknown /);
  });

  it('obeys a kick command sent through the registry', async () => {
    const { client, jid } = await rawLogin({ port: ports.c2s, ca }, 'nurse', { resource: 'k' });
    await registry.commands.kick({ bareJid: `nurse@${DOMAIN}`, reason: 'abuse' });
    expect(await client.untilClosed()).toMatch(streamErrorPattern('policy-violation'));
    await eventually(() => echo.events.some((e) => e.event === 'closed' && e.jid === jid && e.reason === 'kicked'), 2000, 'kicked event');
  });

  it('a conflict with a session on another gateway is resolved by a kick command: the new session wins', async () => {
    const otherRegistry = createMemoryRegistry({ store, heartbeatIntervalMs: 0 });
    const other = new Gateway({ id: 'gw-b', registry: otherRegistry, ports: { c2s: 0, c2sTls: 0, service: 0 }, ca: { cert: ca.certPem, key: ca.keyPem }, auth: { minResponseMs: 1 } });
    const otherPorts = (await other.start()).ports;
    const echoB = await startEchoService({ ca, registry: otherRegistry, gateways: [{ id: 'gw-b', port: otherPorts.service }], domains: [DOMAIN] });
    try {
      await eventually(() => other.stats().hub!.services > 0, 3000, 'registration on gw-b');
      const first = await rawLogin({ port: ports.c2s, ca }, 'romeo', { resource: 'same' });
      const second = await rawLogin({ port: otherPorts.c2s, ca }, 'romeo', { resource: 'same' });
      expect(await first.client.untilClosed()).toMatch(streamErrorPattern('conflict'));
      await eventually(async () => {
        const sessions = await registry.sessions.get(`romeo@${DOMAIN}`);
        return sessions.length === 1 && sessions[0]!.gatewayId === 'gw-b';
      }, 2000, 'directory names gw-b');
      second.client.destroy();
    } finally {
      await echoB.close();
      await other.stop({ timeoutMs: 2000 });
      await otherRegistry.close();
    }
  });
});

describe('Gateway with TLS material from files', () => {
  it('uses the configured channel certificate and domain certificates (no CA key on the host)', async () => {
    const ca = await testCA();
    const { issueCertificate, issueDomainCertificate } = await import('@ambrosia/pki');
    const channel = await issueCertificate(ca, { role: 'gateway', commonName: 'gw-files', ipAddresses: ['127.0.0.1'] });
    const domain = await issueDomainCertificate(ca, { domains: [DOMAIN] });
    const registry = createMemoryRegistry({ heartbeatIntervalMs: 0 });
    const gateway = new Gateway({
      id: 'gw-files',
      registry,
      ports: { c2s: null, c2sTls: 0, service: 0 },
      tls: { channelCert: channel.certPem, channelKey: channel.keyPem, caCert: ca.certPem },
      domainCertificates: [{ domain: DOMAIN, cert: domain.certPem, key: domain.keyPem }],
      auth: { decoySecret: Buffer.alloc(32, 3), minResponseMs: 1 },
    });
    try {
      const { ports } = await gateway.start();
      expect(ports.c2s).toBe(0);
      const echo = await startEchoService({ ca, registry, gateways: [{ id: 'gw-files', port: ports.service }], domains: [DOMAIN] });
      const client = await RawClient.connectTls(ports.c2sTls, ca.certPem, DOMAIN);
      const { X509Certificate } = await import('node:crypto');
      const served = (client.socket as import('node:tls').TLSSocket).getPeerX509Certificate()!;
      expect(served.serialNumber).toBe(new X509Certificate(domain.certPem).serialNumber);
      client.destroy();
      await echo.close();
    } finally {
      await gateway.stop({ timeoutMs: 1000 });
      await registry.close();
    }
  });
});

describe('Gateway shutdown', () => {
  it('drain sends clients to a live peer (see-other-host), stop without a peer says system-shutdown, then withdraws', async () => {
    const ca = await testCA();
    const store = new MemoryStore();
    const registryA = createMemoryRegistry({ store, heartbeatIntervalMs: 0 });
    const registryB = createMemoryRegistry({ store, heartbeatIntervalMs: 0 });
    const a = new Gateway({ id: 'gw-drain-a', registry: registryA, ports: { c2s: 0, c2sTls: 0, service: 0 }, ca: { cert: ca.certPem, key: ca.keyPem }, auth: { minResponseMs: 1 } });
    const b = new Gateway({ id: 'gw-drain-b', registry: registryB, ports: { c2s: 0, c2sTls: 0, service: 0 }, ca: { cert: ca.certPem, key: ca.keyPem }, auth: { minResponseMs: 1 } });
    const pa = (await a.start()).ports;
    const pb = (await b.start()).ports;
    const echo = await startEchoService({ ca, registry: registryA, gateways: [{ id: 'gw-drain-a', port: pa.service }, { id: 'gw-drain-b', port: pb.service }], domains: [DOMAIN] });
    try {
      await addTestUser(registryA, 'juliet');
      await eventually(() => a.stats().hub!.services > 0 && b.stats().hub!.services > 0, 3000, 'registrations');
      await registryA.heartbeat();
      const onA = await rawLogin({ port: pa.c2s, ca }, 'juliet', { resource: 'a' });
      // The drain command travels through the registry to gw-drain-a only.
      await registryB.commands.drain('gw-drain-a');
      expect(await onA.client.untilClosed()).toMatch(streamErrorPattern('see-other-host', `127.0.0.1:${pb.c2s}`));
      expect(a.state).toBe('draining');
      await eventually(async () => (await registryB.gateways.list()).find((g) => g.id === 'gw-drain-a')?.state === 'draining', 2000, 'draining announced');
      // A draining gateway accepts no new clients.
      await expect(RawClient.connect(pa.c2s)).rejects.toThrow();
      await a.stop({ timeoutMs: 2000 });
      expect((await registryB.gateways.list()).map((g) => g.id)).toEqual(['gw-drain-b']);

      // gw-drain-b has no live peer left: its clients get system-shutdown.
      const onB = await rawLogin({ port: pb.c2s, ca }, 'juliet', { resource: 'b' });
      await eventually(async () => (await registryB.sessions.get(`juliet@${DOMAIN}`)).length === 1, 2000, 'bound on b');
      const stopped = b.stop({ timeoutMs: 2000 });
      expect(await onB.client.untilClosed()).toMatch(streamErrorPattern('system-shutdown'));
      await stopped;
      expect(b.state).toBe('stopped');
      expect(await registryB.gateways.list()).toEqual([]);
      expect(await registryB.sessions.get(`juliet@${DOMAIN}`)).toEqual([]);
    } finally {
      await echo.close();
      await a.stop({ timeoutMs: 1000 });
      await b.stop({ timeoutMs: 1000 });
      await registryA.close();
      await registryB.close();
    }
  });
});
