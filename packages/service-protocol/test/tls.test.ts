// The channel over real TLS 1.3 with mutual certificate authentication on 127.0.0.1 (§2).
import * as tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALPN_PROTOCOL, ChannelAcceptor, ChannelEndpoint, type ChannelPeer, type InboundMessage } from '../src/index.js';
import { collect, stanzaId, stanzaToGateway, stanzaToService, until } from './helpers.js';
import { authorisedChannelPeer, readPeerAuthorisation } from '@ambrosia/pki';
import { type Fixtures, clientOptions, dial, listen, makeFixtures, serverOptions } from './tls-fixtures.js';

let fixtures: Fixtures;
let server: tls.Server;
let port: number;
let acceptor: ChannelAcceptor;
const accepted: ChannelPeer[] = [];
const sockets = new Set<tls.TLSSocket>();

beforeAll(async () => {
  fixtures = await makeFixtures();
  acceptor = new ChannelAcceptor({ gateway: 'gw-1' });
  server = tls.createServer(serverOptions(fixtures.gateway), (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    // §2.1: only a verified certificate with a role, over the negotiated ALPN protocol.
    const peer = authorisedChannelPeer(socket, { alpnProtocol: ALPN_PROTOCOL });
    if (peer === undefined) {
      socket.destroy();
      return;
    }
    accepted.push(peer);
    acceptor.handle(socket, peer);
  });
  server.on('tlsClientError', () => {});
  port = await listen(server);
});

afterAll(async () => {
  await acceptor.close();
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('service channel over TLS 1.3 with mutual authentication', () => {
  it('negotiates TLS 1.3 and ALPN, authorises from certificate URIs, carries stanzas both ways', async () => {
    const socket = await dial(clientOptions({ ...fixtures.service, ca: fixtures.ca }, port));
    expect(socket.getProtocol()).toBe('TLSv1.3');
    expect(socket.alpnProtocol).toBe(ALPN_PROTOCOL);
    expect(readPeerAuthorisation(socket.getPeerCertificate())?.role).toBe('gateway');
    const service = new ChannelEndpoint({ role: 'service', instance: 'im-tls', registrations: [{ domain: 'example.org', type: 'client' }] });
    const ready = await service.attach(socket);
    expect(ready.registrations).toEqual([{ domain: 'example.org', type: 'client', ok: true }]);
    expect(accepted.at(-1)).toMatchObject({ role: 'service', commonName: 'im-service' });
    await service.register({ domain: 'example.org', type: 'server' });
    await expect(service.register({ domain: 'example.com', type: 'client' })).rejects.toMatchObject({ code: 'forbidden' });

    const gateway = acceptor.channels.get(ready.channel)!;
    const atGateway = collect(gateway);
    const atService = collect(service);
    await Promise.all(Array.from({ length: 200 }, (_, n) => service.send(stanzaToGateway(n))));
    await Promise.all([gateway.send(stanzaToService(1, 1_000_000, 'big')), ...Array.from({ length: 200 }, (_, n) => gateway.send(stanzaToService(n + 2, 300, `l${n % 8}`)))]);
    expect(atGateway).toHaveLength(200);
    expect(atService).toHaveLength(201);
    expect(atService.map(stanzaId).indexOf('m1')).toBe(200);
    await service.close();
  });

  it('resumes over a new TLS connection after the old one is cut mid-stream', async () => {
    const service = new ChannelEndpoint({ role: 'service', registrations: [{ domain: 'example.org', type: 'client' }] });
    let socket = await dial(clientOptions({ ...fixtures.service, ca: fixtures.ca }, port));
    const ready = await service.attach(socket);
    const gateway = acceptor.channels.get(ready.channel)!;
    const received: InboundMessage[] = [];
    service.on('message', (message: InboundMessage) => {
      received.push(message);
      if (received.length === 300) socket.destroy();
    });
    const sends = Array.from({ length: 1000 }, (_, n) => gateway.send(stanzaToService(n, n % 50 === 0 ? 50_000 : 400, `s${n % 16}`)));
    await until(() => service.state === 'detached', 'the service to notice');
    socket = await dial(clientOptions({ ...fixtures.service, ca: fixtures.ca }, port));
    expect((await service.attach(socket)).resumed).toBe(true);
    await Promise.all(sends);
    const ids = received.map(stanzaId);
    expect(new Set(ids).size).toBe(1000);
    expect(ids).toHaveLength(1000);
    await service.close();
  });

  it('refuses a client without a certificate, and one from another CA', async () => {
    const before = accepted.length;
    for (const credentials of [{ ca: fixtures.ca }, { ...fixtures.rogue, ca: fixtures.ca }]) {
      // In TLS 1.3 the client learns of the rejection after its side of the handshake: expect the socket to fail or close.
      const outcome = await new Promise<string>((resolve) => {
        const socket = tls.connect(clientOptions(credentials, port));
        socket.once('error', () => resolve('error'));
        socket.once('close', () => resolve('closed'));
        socket.on('data', () => {});
      });
      expect(['error', 'closed']).toContain(outcome);
    }
    expect(accepted.length).toBe(before);
  });

  it('gives admin commands only to an admin certificate', async () => {
    const socket = await dial(clientOptions({ ...fixtures.admin, ca: fixtures.ca }, port));
    const admin = new ChannelEndpoint({ role: 'service', instance: 'ambrosia-cli' });
    const ready = await admin.attach(socket);
    const gateway = acceptor.channels.get(ready.channel)!;
    gateway.on('message', (message: InboundMessage) => message.reply({ sessions: 0, channels: acceptor.channels.size }));
    expect(await admin.request({ kind: 'admin', command: 'stats', args: {} })).toMatchObject({ sessions: 0 });
    await admin.close();
  });
});
