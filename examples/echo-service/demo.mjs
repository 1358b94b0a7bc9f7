#!/usr/bin/env node
// Runs the echo service end to end in one process, with nothing installed but this repository:
// a throwaway cluster CA, a gateway-role endpoint (service-protocol's ChannelAcceptor behind a
// real TLS 1.3 listener on 127.0.0.1, as a gateway has), the echo service connecting to it, and a
// few stanzas handed over as if clients had sent them. Prints what comes back, then exits.
import tls from 'node:tls';
import { authorisedChannelPeer, createCA, issueCertificate, tlsOptionsForChannelServer } from '@ambrosia/pki';
import { ChannelAcceptor } from '@ambrosia/service-protocol';
import { DomainService } from '@ambrosia/service-sdk';
import { attachEcho } from './echo-service.mjs';

const ca = await createCA({ commonName: 'demo-ca', validityDays: 2 });
const gatewayCert = await issueCertificate(ca, { role: 'gateway', commonName: 'demo-gw', ipAddresses: ['127.0.0.1'], validityDays: 1 });
const echoCert = await issueCertificate(ca, { role: 'service', commonName: 'echo', permissions: [{ domain: 'echo.example.org', type: 'component' }], validityDays: 1 });

// The gateway's side: prints every stanza the service routes, as a gateway would deliver it.
let channel;
const routed = [];
const acceptor = new ChannelAcceptor({
  gateway: 'demo-gw',
  onChannel: (c) => {
    channel = c;
    c.on('registered', (r) => console.log(`gateway: ${r.domain}/${r.type} registered`));
    c.on('message', (inbound) => {
      if (inbound.message.kind !== 'stanza') return;
      routed.push(inbound.message.xml.toString());
      console.log(`gateway: routes ${inbound.message.xml.toString()}`);
    });
  },
});
const sockets = new Set();
const server = tls.createServer(tlsOptionsForChannelServer({ caCertPem: ca.certPem, certPem: gatewayCert.certPem, keyPem: gatewayCert.keyPem }), (socket) => {
  const peer = authorisedChannelPeer(socket);
  if (peer === undefined) return socket.destroy();
  sockets.add(socket);
  acceptor.handle(socket, peer);
});
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

const service = new DomainService({
  instance: 'echo-demo',
  registrations: [{ domain: 'echo.example.org', type: 'component' }],
  tls: { cert: echoCert.certPem, key: echoCert.keyPem, ca: ca.certPem },
  gateways: [{ id: 'demo-gw', host: '127.0.0.1', port: server.address().port }],
  onError: (error) => console.error(`echo: ${error.message}`),
});
const echo = attachEcho(service, { log: (line) => console.log(`echo: ${line}`) });
await service.start();
console.log(`echo: registered on ${service.gateways.join(', ')}`);

// Juliet's client sends two stanzas to the component; the gateway hands them to the service.
const fromJuliet = (xmlText, n) => ({
  kind: 'stanza',
  context: { via: 'c2s', gateway: 'demo-gw', session: 'c2s-juliet', origin: 'juliet@example.org/balcony', key: `demo-gw:c2s-juliet:${n}` },
  xml: xmlText,
});
await channel.send(fromJuliet(`<message xmlns='jabber:client' from='juliet@example.org/balcony' to='bot@echo.example.org' id='m1' type='chat'><body>Wherefore art thou?</body></message>`, 1));
await channel.send(fromJuliet(`<iq xmlns='jabber:client' from='juliet@example.org/balcony' to='echo.example.org' id='p1' type='get'><ping xmlns='urn:xmpp:ping'/></iq>`, 2));
for (let attempt = 0; routed.length < 2 && attempt < 500; attempt++) await new Promise((resolve) => setTimeout(resolve, 10));

await service.stop();
await acceptor.close();
for (const socket of sockets) socket.destroy();
await new Promise((resolve) => server.close(resolve));
const ok = echo.echoed === 1 && routed.length === 2;
console.log(ok ? 'demo: OK' : `demo: FAILED (${routed.length} stanzas routed)`);
process.exit(ok ? 0 : 1);
