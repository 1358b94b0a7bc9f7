// The edge's TLS (direct TLS with ALPN and SNI, STARTTLS, certificates issued at first use, TLS
// 1.2 minimum), the session directory with presence priority, routing context, session events.

import { connect as tlsConnect } from 'node:tls';
import { StanzaError } from '@ambrosia/errors';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, RawClient, addTestUser, eventually, header, rawLogin, startEdge, type TestEdge } from './helpers.js';

describe('TLS on the client listeners', () => {
  let t: TestEdge;

  beforeAll(async () => {
    t = await startEdge();
    await addTestUser(t.registry, 'juliet');
  });

  afterAll(async () => {
    await t.close();
  });

  it('direct TLS (XEP-0368): ALPN xmpp-client, the SNI domain certificate issued by the CA, -PLUS offered', async () => {
    const before = t.edge.stats().certificates.issuedTotal;
    const client = await RawClient.connectTls(t.tlsPort, t.ca.certPem, DOMAIN);
    const socket = client.socket as import('node:tls').TLSSocket;
    expect(socket.alpnProtocol).toBe('xmpp-client');
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subjectaltname).toContain(`DNS:${DOMAIN}`);
    expect(socket.getProtocol()).toBe('TLSv1.3');
    client.send(header());
    const features = (await client.until(/<stream:features[^>]*>.*?<\/stream:features>/))[0];
    expect(features).toContain('<mechanism>SCRAM-SHA-256-PLUS</mechanism>');
    expect(features).toContain('<channel-binding type="tls-exporter"/>');
    expect(features).not.toContain('starttls');
    client.destroy();
    // Issued once, then cached.
    const again = await RawClient.connectTls(t.tlsPort, t.ca.certPem, DOMAIN);
    again.destroy();
    expect(t.edge.stats().certificates.issuedTotal - before).toBeLessThanOrEqual(1);
  });

  it('an SNI name no service serves gets the default certificate, and nothing is issued for it', async () => {
    const before = t.edge.stats().certificates.issuedTotal;
    const socket = tlsConnect({ host: '127.0.0.1', port: t.tlsPort, servername: 'evil.example', ca: [t.ca.certPem], rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    expect(socket.getPeerCertificate().subjectaltname).toContain('DNS:localhost');
    socket.destroy();
    expect(t.edge.stats().certificates.issuedTotal).toBe(before);
  });

  it('refuses TLS below 1.2', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: t.tlsPort, servername: DOMAIN, ca: [t.ca.certPem], maxVersion: 'TLSv1.1', minVersion: 'TLSv1' });
    const outcome = await new Promise<string>((resolve) => {
      socket.once('secureConnect', () => resolve('connected'));
      socket.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    socket.destroy();
    expect(outcome).not.toBe('connected');
  });

  it('STARTTLS upgrades in place with the stream domain certificate, then offers SASL with channel binding', async () => {
    const client = await RawClient.connect(t.port);
    client.send(header());
    const plainFeatures = (await client.until(/<stream:features[^>]*>.*?<\/stream:features>/))[0];
    expect(plainFeatures).toContain('<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls>');
    expect(plainFeatures).not.toContain('mechanism');
    await client.startTls(t.ca.certPem);
    const socket = client.socket as import('node:tls').TLSSocket;
    expect(socket.authorized).toBe(true);
    expect(socket.getPeerCertificate().subjectaltname).toContain(`DNS:${DOMAIN}`);
    client.send(header());
    const features = (await client.until(/<stream:features[^>]*>.*?<\/stream:features>/))[0];
    expect(features).toContain('<mechanism>SCRAM-SHA-1-PLUS</mechanism>');
    client.destroy();
  });
});

describe('sessions, the directory and routing', () => {
  let t: TestEdge;

  beforeAll(async () => {
    t = await startEdge();
    await addTestUser(t.registry, 'juliet');
    await addTestUser(t.registry, 'romeo');
  });

  afterAll(async () => {
    await t.close();
  });

  it('binds in the registry, records broadcast presence priority before routing, unbinds on close', async () => {
    const { client, jid } = await rawLogin(t, 'juliet', { resource: 'balcony' });
    expect(jid).toBe(`juliet@${DOMAIN}/balcony`);
    const sessionId = t.edge.table.sessionFor(jid)!;
    let [record] = await t.registry.sessions.get(`juliet@${DOMAIN}`);
    expect(record).toMatchObject({ resource: 'balcony', gatewayId: t.gatewayId, sessionId, available: false, priority: 0 });

    const routedBefore = t.router.routed.length;
    client.send("<presence><priority>5</priority></presence>");
    await eventually(() => t.router.routed.length > routedBefore, 2000, 'presence routed');
    [record] = await t.registry.sessions.get(`juliet@${DOMAIN}`);
    expect(record).toMatchObject({ available: true, priority: 5 });
    const routed = t.router.routed.at(-1)!;
    expect(routed).toMatchObject({ domain: DOMAIN, type: 'client', via: 'c2s', session: sessionId, origin: jid, routingKey: `juliet@${DOMAIN}` });
    expect(routed.element.attrs.from).toBe(jid);

    client.send("<presence><priority>300</priority></presence>");
    await eventually(() => t.router.routed.length > routedBefore + 1, 2000, 'second presence');
    [record] = await t.registry.sessions.get(`juliet@${DOMAIN}`);
    expect(record!.priority).toBe(0);

    client.send("<presence type='unavailable'/>");
    await eventually(() => t.router.routed.length > routedBefore + 2, 2000, 'unavailable');
    [record] = await t.registry.sessions.get(`juliet@${DOMAIN}`);
    expect(record!.available).toBe(false);

    client.send('</stream:stream>');
    await client.untilClosed();
    await eventually(async () => (await t.registry.sessions.get(`juliet@${DOMAIN}`)).length === 0, 2000, 'unbound');
    const events = t.router.events.filter((e) => e.routingKey === `juliet@${DOMAIN}`).map((e) => [e.event.event, e.event.reason]);
    expect(events).toEqual([['bound', undefined], ['closed', 'normal']]);
    expect(t.edge.table.size).toBe(0);
  });

  it('delivers between two sessions through the router, with from stamped', async () => {
    const juliet = await rawLogin(t, 'juliet', { resource: 'a' });
    const romeo = await rawLogin(t, 'romeo', { resource: 'b' });
    romeo.client.send(`<message to='juliet@${DOMAIN}/a' type='chat' id='c1' from='juliet@${DOMAIN}/a'><body>hi</body></message>`);
    // A forged from is refused by the stream (invalid-from), never routed.
    expect(await romeo.client.untilClosed()).toContain('<invalid-from');
    const again = await rawLogin(t, 'romeo', { resource: 'b' });
    again.client.send(`<message to='juliet@${DOMAIN}/a' type='chat' id='c2'><body>hello</body></message>`);
    const got = (await juliet.client.until(/<message[^>]*>.*?<\/message>/))[0];
    expect(got).toContain(`from="romeo@${DOMAIN}/b"`);
    expect(got).toContain('<body>hello</body>');
    juliet.client.destroy();
    again.client.destroy();
  });

  it('a stanza the services cannot take is bounced to the client with their error', async () => {
    const { client } = await rawLogin(t, 'romeo', { resource: 'c' });
    t.router.failWith = new StanzaError('service-unavailable');
    try {
      client.send(`<message to='nobody@${DOMAIN}' id='e1' type='chat'><body>x</body></message>`);
      const reply = (await client.until(/<message[^>]*type="error"[^>]*>.*?<\/message>/))[0];
      expect(reply).toContain('<service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>');
    } finally {
      t.router.failWith = undefined;
    }
    client.destroy();
  });
});
