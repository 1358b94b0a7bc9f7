// Who may open a channel and register what (docs/service-protocol.md §2.2, §13.3), and how the
// registry follows the instances connected to this gateway (UNREGISTER, close, expiry).
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore, createMemoryRegistry } from '@ambrosia/registry';
import type { ChannelError } from '@ambrosia/service-protocol';
import { type HubFixture, type Pki, clientStanza, connectService, dial, makePki, startHub, until } from './helpers.js';

let pki: Pki;
let fixture: HubFixture;

beforeAll(async () => {
  pki = await makePki();
  fixture = await startHub(pki);
});

afterAll(async () => {
  await fixture.close();
});

/** The connection is refused by TLS: either the handshake fails or the socket closes right after. */
async function refusedByTls(credentials: Pki['service']): Promise<string> {
  let socket: TLSSocket;
  try {
    socket = await dial(fixture.port, credentials);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  }
  // TLS 1.3: the client finishes before the server has judged its certificate; the alert follows.
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the connection stayed open')), 5_000);
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(error.code ?? error.message);
    });
    socket.once('close', () => {
      clearTimeout(timer);
      resolve('closed');
    });
  });
}

describe('authorisation', () => {
  it('refuses a certificate from another CA during the TLS handshake', async () => {
    const before = fixture.hub.stats().tlsRefused;
    const reason = await refusedByTls(pki.rogue);
    expect(reason).toMatch(/ALERT|closed|ECONNRESET/i);
    await until(() => fixture.hub.stats().tlsRefused > before, 'the hub to count the refusal');
    expect(fixture.hub.stats().channels).toBe(0);
  });

  it('refuses an expired certificate during the TLS handshake', async () => {
    const before = fixture.hub.stats().tlsRefused;
    const reason = await refusedByTls(pki.expired);
    expect(reason).toMatch(/ALERT|closed|ECONNRESET/i);
    await until(() => fixture.hub.stats().tlsRefused > before, 'the hub to count the refusal');
  });

  it('refuses registrations the certificate does not cover, with forbidden, and records none', async () => {
    const service = await connectService(fixture.port, { instance: 'other-1', credentials: pki.other, registrations: [{ domain: 'example.org', type: 'client' }] });
    await expect(service.endpoint.register({ domain: 'example.org', type: 'server' })).rejects.toMatchObject({ code: 'forbidden', fromPeer: true });
    // What it may register works on the same channel.
    await service.endpoint.register({ domain: 'example.com', type: 'client' });
    expect(service.endpoint.registrations).toEqual([{ domain: 'example.com', type: 'client' }]);
    expect(await fixture.registry.services.list('example.org', 'client')).toEqual([]);
    expect((await fixture.registry.services.list('example.com', 'client')).map((i) => i.instanceId)).toEqual(['other-1']);
    await service.endpoint.close();
    await until(() => fixture.hub.stats().channels === 0, 'the channel to end');
  });

  it('reports refused HELLO registrations in WELCOME', async () => {
    const { ChannelEndpoint } = await import('@ambrosia/service-protocol');
    const endpoint = new ChannelEndpoint({ role: 'service', instance: 'other-2', registrations: [{ domain: 'example.org', type: 'client' }, { domain: 'example.com', type: 'client' }] });
    const ready = await endpoint.attach(await dial(fixture.port, pki.other));
    expect(ready.registrations).toEqual([
      { domain: 'example.org', type: 'client', ok: false, error: { code: 'forbidden', text: 'the certificate does not cover example.org/client' } },
      { domain: 'example.com', type: 'client', ok: true },
    ]);
    await endpoint.close();
  });

  it('closes a channel opened with a gateway certificate: CLOSE forbidden, nothing registered', async () => {
    const service = await connectService(fixture.port, { instance: 'impostor', credentials: pki.gatewayAsService });
    const closed = await service.closed;
    expect(closed).toMatchObject({ code: 'forbidden', byPeer: true });
    expect(closed.error?.text).toMatch(/gateway certificate/);
    expect(await fixture.registry.services.list('example.org', 'client')).toEqual([]);
  });

  it('answers admin stats, refuses admin commands from services and unknown commands', async () => {
    const admin = await connectService(fixture.port, { instance: 'cli', credentials: pki.admin, registrations: [] });
    const stats = await admin.endpoint.request({ kind: 'admin', command: 'stats', args: {} });
    expect(stats).toMatchObject({ gateway: 'gw-1', channels: 1, instances: 0 });
    await expect(admin.endpoint.request({ kind: 'admin', command: 'kick', args: { jid: 'a@example.org' } })).rejects.toMatchObject({ code: 'unavailable' });
    await expect(admin.endpoint.request({ kind: 'admin', command: 'reboot', args: {} })).rejects.toMatchObject({ code: 'unknown-command' });
    await expect(admin.endpoint.register({ domain: 'example.org', type: 'client' })).rejects.toMatchObject({ code: 'forbidden' });
    const service = await connectService(fixture.port, { instance: 'im-admin', credentials: pki.service });
    await expect(service.endpoint.request({ kind: 'admin', command: 'stats', args: {} })).rejects.toMatchObject({ code: 'forbidden' } satisfies Partial<ChannelError>);
    await Promise.all([admin.endpoint.close(), service.endpoint.close()]);
  });
});

describe('registry', () => {
  it('records an instance on register and removes it on UNREGISTER', async () => {
    const service = await connectService(fixture.port, { instance: 'im-1', credentials: pki.service });
    const [instance] = await fixture.registry.services.list('example.org', 'client');
    expect(instance).toMatchObject({ instanceId: 'im-1', gateways: ['gw-1'], weight: 1, draining: false });
    expect(fixture.registry.routing.instances('example.org', 'client').map((i) => i.instanceId)).toEqual(['im-1']);
    expect(fixture.hub.serves('example.org', 'client')).toBe(true);
    expect(fixture.hub.serves('example.org', 'server')).toBe(false);

    await service.endpoint.register({ domain: 'example.org', type: 'server' });
    expect((await fixture.registry.services.list('example.org', 'server')).map((i) => i.instanceId)).toEqual(['im-1']);
    await service.endpoint.unregister({ domain: 'example.org', type: 'client' });
    await until(() => fixture.hub.stats().instances === 1, 'the table to drop the instance');
    await until(() => fixture.registry.routing.instances('example.org', 'client').length === 0, 'the registry to drop the instance');
    expect(await fixture.registry.services.list('example.org', 'client')).toEqual([]);
    expect(fixture.hub.serves('example.org', 'client')).toBe(false);
    await service.endpoint.close();
    await until(() => fixture.registry.routing.instances('example.org', 'server').length === 0, 'the close to unregister the rest');
  });

  it('removes the instances of a channel that closes', async () => {
    const service = await connectService(fixture.port, { instance: 'im-2', credentials: pki.service, registrations: [{ domain: 'example.org', type: 'client' }, { domain: 'example.net', type: 'client' }] });
    expect(fixture.hub.stats()).toMatchObject({ channels: 1, instances: 2 });
    await service.endpoint.close('shutdown');
    await until(() => fixture.hub.stats().instances === 0, 'the table to empty');
    await until(() => fixture.registry.routing.instances('example.net', 'client').length === 0, 'the registry to drop the instance');
    expect(await fixture.registry.services.list('example.org', 'client')).toEqual([]);
  });

  it('keeps the instance while its link is down, and removes it when the channel expires unresumed', async () => {
    const service = await connectService(fixture.port, { instance: 'im-3', credentials: pki.service });
    service.socket.destroy();
    await until(() => service.endpoint.state === 'detached', 'the service to notice');
    // Detached, resumable: still registered.
    expect(fixture.registry.routing.instances('example.org', 'client').map((i) => i.instanceId)).toEqual(['im-3']);
    await until(() => fixture.hub.stats().channels === 0, 'the channel to expire (resumeTimeoutMs 300)');
    await until(() => fixture.registry.routing.instances('example.org', 'client').length === 0, 'the registry to drop the instance');
    service.endpoint.destroy();
  });

  it('lets a newer channel of the same instance replace the older one, keeping the registry entry', async () => {
    const first = await connectService(fixture.port, { instance: 'im-4', credentials: pki.service });
    const second = await connectService(fixture.port, { instance: 'im-4', credentials: pki.service });
    const closed = await first.closed;
    expect(closed).toMatchObject({ code: 'replaced', byPeer: true });
    expect(fixture.hub.stats()).toMatchObject({ channels: 1, instances: 1 });
    expect((await fixture.registry.services.list('example.org', 'client')).map((i) => i.instanceId)).toEqual(['im-4']);
    await second.endpoint.close();
    await until(() => fixture.registry.routing.instances('example.org', 'client').length === 0, 'the registry to drop the instance');
  });
});

describe('registry outages and resumption', () => {
  it('answers unavailable while the registry cannot record a registration, and accepts it once it can', async () => {
    const store = new MemoryStore();
    const registry = createMemoryRegistry({ store, heartbeatIntervalMs: 0 });
    const own = await startHub(pki, {}, registry);
    try {
      store.setReachable(false);
      const service = await connectService(own.port, { instance: 'im-out', credentials: pki.service, registrations: [] });
      await expect(service.endpoint.register({ domain: 'example.org', type: 'client' })).rejects.toMatchObject({ code: 'unavailable' });
      expect(own.hub.stats().instances).toBe(0);
      store.setReachable(true);
      await service.endpoint.register({ domain: 'example.org', type: 'client' });
      expect(own.hub.stats().instances).toBe(1);
      await service.endpoint.close();
    } finally {
      await own.close();
      await registry.close();
    }
  });

  it('keeps a resumed channel: same instance, stanzas in flight delivered once, nothing redelivered', async () => {
    const own = await startHub(pki, { channel: { resumeTimeoutMs: 10_000 } });
    try {
      const service = await connectService(own.port, { instance: 'im-resume', credentials: pki.service });
      service.socket.destroy();
      await until(() => service.endpoint.state === 'detached', 'the service to notice');
      // Routed while the link is down: queued on the detached channel (the only instance).
      const routed = own.hub.route(clientStanza('juliet'));
      await service.endpoint.attach(await dial(own.port, pki.service));
      await routed;
      expect(service.stanzas).toHaveLength(1);
      expect(service.stanzas[0]!.message.context.redelivered).toBe(false);
      expect(own.hub.stats()).toMatchObject({ channels: 1, instances: 1, reroutes: 0 });
      await service.endpoint.close();
    } finally {
      await own.close();
    }
  });
});
