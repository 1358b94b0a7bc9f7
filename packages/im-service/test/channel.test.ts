// createImService over a real service channel: mutual TLS on 127.0.0.1 to a gateway-role
// ChannelAcceptor (service-protocol's real gateway side, without the rest of a gateway), with a
// MemoryRegistry as the session directory and the credentials the accounts come from.
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { createMemoryImStore, type ImStore } from '@ambrosia/im-store';
import { authorisedChannelPeer, createCA, issueCertificate, tlsOptionsForChannelServer } from '@ambrosia/pki';
import { createMemoryRegistry, MemoryStore, type Registry } from '@ambrosia/registry';
import { ChannelAcceptor, type ChannelEndpoint, type InboundMessage, type StanzaMessage } from '@ambrosia/service-protocol';
import { parseElement, type Element } from '@ambrosia/xml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createImService, type ImServiceHandle } from '../src/index.js';

const DOMAIN = 'example.com';

async function until(predicate: () => boolean | Promise<boolean>, what: string, maxAttempts = 2000): Promise<void> {
  for (let attempt = 0; !(await predicate()); attempt++) {
    if (attempt >= maxAttempts) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('createImService over a real service channel', () => {
  const channels: ChannelEndpoint[] = [];
  /** Stanzas the service sent to the gateway, parsed, with their routing context. */
  const received: Array<{ stanza: Element; inbound: InboundMessage<StanzaMessage> }> = [];
  let server: tls.Server;
  let acceptor: ChannelAcceptor;
  let gatewayNode: Registry;
  let serviceNode: Registry;
  let store: ImStore;
  let im: ImServiceHandle;
  const errors: Error[] = [];
  let keys = 0;

  /** What a gateway does with a client's stanza: stamp from, hand it to the IM service. */
  async function fromClient(fullJid: string, session: string, xmlText: string): Promise<void> {
    const channel = channels.find((c) => c.state === 'open') as ChannelEndpoint;
    await channel.send({ kind: 'stanza', context: { via: 'c2s', gateway: 'gw-1', session, origin: fullJid, key: `k${++keys}` }, xml: Buffer.from(xmlText) });
  }

  function sentTo(session: string): Element[] {
    return received.filter((r) => r.inbound.message.context.session === session).map((r) => r.stanza);
  }

  beforeAll(async () => {
    const ca = await createCA({ commonName: 'im-test-ca', validityDays: 2 });
    const gatewayCert = await issueCertificate(ca, { role: 'gateway', commonName: 'gw-1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
    const serviceCert = await issueCertificate(ca, {
      role: 'service',
      commonName: 'im',
      permissions: [
        { domain: DOMAIN, type: 'client' },
        { domain: DOMAIN, type: 'server' },
      ],
      validityDays: 1,
    });
    acceptor = new ChannelAcceptor({
      gateway: 'gw-1',
      ackMode: 'manual',
      onChannel: (channel) => {
        channels.push(channel);
        channel.on('message', (inbound) => {
          if (inbound.message.kind !== 'stanza') return;
          const stanzaInbound = inbound as InboundMessage<StanzaMessage>;
          received.push({ stanza: parseElement(stanzaInbound.message.xml), inbound: stanzaInbound });
          // The client acknowledged it (XEP-0198), as far as this gateway is concerned.
          if (stanzaInbound.message.context.deliveryReport) stanzaInbound.reportDelivery('delivered');
          else stanzaInbound.ack();
        });
      },
    });
    server = tls.createServer(tlsOptionsForChannelServer({ caCertPem: ca.certPem, certPem: gatewayCert.certPem, keyPem: gatewayCert.keyPem }), (socket) => {
      const peer = authorisedChannelPeer(socket);
      if (peer === undefined) return void socket.destroy();
      acceptor.handle(socket, peer);
    });
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;

    const shared = new MemoryStore();
    gatewayNode = createMemoryRegistry({ store: shared });
    serviceNode = createMemoryRegistry({ store: shared });
    await gatewayNode.gateways.announce({ id: 'gw-1', addresses: ['127.0.0.1'], ports: { service: port }, load: 0, state: 'active' });
    const now = Date.now();
    for (const user of ['juliet', 'romeo', 'paris']) await gatewayNode.credentials.put(DOMAIN, user, { scram: {}, createdAt: now, updatedAt: now });

    store = createMemoryImStore();
    im = createImService({
      domains: DOMAIN,
      store,
      registry: serviceNode,
      tls: { cert: serviceCert.certPem, key: serviceCert.keyPem, ca: ca.certPem },
      instance: 'im-1',
      registration: true,
      passwordOptions: { iterations: 4096 },
      reconnectBackoff: { initialMs: 10, maxMs: 200 },
      startTimeoutMs: 10_000,
      onError: (e) => errors.push(e),
    });
    await im.start();
    await gatewayNode.sessions.bind({ bareJid: `juliet@${DOMAIN}`, resource: 'balcony', gatewayId: 'gw-1', sessionId: 'c2s-j', priority: 0, available: true });
    await gatewayNode.sessions.bind({ bareJid: `romeo@${DOMAIN}`, resource: 'orchard', gatewayId: 'gw-1', sessionId: 'c2s-r', priority: 0, available: true });
  });

  afterAll(async () => {
    await im?.stop({ timeoutMs: 2000 });
    await acceptor?.close().catch(() => {});
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    await gatewayNode?.close();
    await serviceNode?.close();
  });

  it('registers client and server for the domain and answers the server’s iqs to the session', async () => {
    expect(im.service.gateways).toEqual(['gw-1']);
    await fromClient(`juliet@${DOMAIN}/balcony`, 'c2s-j', `<iq xmlns='jabber:client' type='get' id='p1' to='${DOMAIN}'><ping xmlns='urn:xmpp:ping'/></iq>`);
    await until(() => sentTo('c2s-j').some((s) => s.attrs.id === 'p1'), 'the ping result');
    const result = sentTo('c2s-j').find((s) => s.attrs.id === 'p1') as Element;
    expect(result.attrs.type).toBe('result');
    const context = received.find((r) => r.stanza === result)?.inbound.message.context;
    expect(context).toMatchObject({ via: 'c2s', gateway: 'gw-1', session: 'c2s-j' });
  });

  it('delivers to the session the directory names, refuses unknown accounts, stores for offline ones', async () => {
    await fromClient(`juliet@${DOMAIN}/balcony`, 'c2s-j', `<message xmlns='jabber:client' type='chat' id='m1' to='romeo@${DOMAIN}'><body>hi</body></message>`);
    await until(() => sentTo('c2s-r').some((s) => s.attrs.id === 'm1'), 'the message at Romeo');
    await fromClient(`juliet@${DOMAIN}/balcony`, 'c2s-j', `<message xmlns='jabber:client' type='chat' id='m2' to='ghost@${DOMAIN}'><body>boo</body></message>`);
    await until(() => sentTo('c2s-j').some((s) => s.attrs.id === 'm2' && s.attrs.type === 'error'), 'the error for the ghost');
    await fromClient(`juliet@${DOMAIN}/balcony`, 'c2s-j', `<message xmlns='jabber:client' type='chat' id='m3' to='paris@${DOMAIN}'><body>later</body></message>`);
    await until(async () => (await store.offline.stats(`paris@${DOMAIN}`)).count === 1, 'the offline message');

    // Paris comes online: the message goes out with a delivery report and leaves the store once delivered.
    await gatewayNode.sessions.bind({ bareJid: `paris@${DOMAIN}`, resource: 'home', gatewayId: 'gw-1', sessionId: 'c2s-p', priority: 0, available: true });
    await fromClient(`paris@${DOMAIN}/home`, 'c2s-p', `<presence xmlns='jabber:client'/>`);
    await until(() => sentTo('c2s-p').some((s) => s.attrs.id === 'm3'), 'the offline message at Paris');
    const delivery = received.find((r) => r.stanza.attrs.id === 'm3' && r.inbound.message.context.session === 'c2s-p');
    expect(delivery?.inbound.message.context.deliveryReport).toBe(true);
    await until(async () => (await store.offline.stats(`paris@${DOMAIN}`)).count === 0, 'the offline queue to empty');
    expect(errors).toEqual([]);
  });

  it('changes a password in the registry (XEP-0077 §3.3, registration: true)', async () => {
    const before = await gatewayNode.credentials.get(DOMAIN, 'romeo');
    expect(before?.scram['SHA-256']).toBeUndefined();
    await fromClient(`romeo@${DOMAIN}/orchard`, 'c2s-r', `<iq xmlns='jabber:client' type='set' id='pw1' to='${DOMAIN}'><query xmlns='jabber:iq:register'><username>romeo</username><password>Wherefore-art-thou</password></query></iq>`);
    await until(() => sentTo('c2s-r').some((s) => s.attrs.id === 'pw1'), 'the password change result');
    expect(sentTo('c2s-r').find((s) => s.attrs.id === 'pw1')?.attrs.type).toBe('result');
    const after = await gatewayNode.credentials.get(DOMAIN, 'romeo');
    expect(after?.scram['SHA-256']?.iterations).toBe(4096);
  });
});
