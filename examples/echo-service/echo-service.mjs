#!/usr/bin/env node
// A minimal Ambrosia domain service written with @ambrosia/service-sdk: it registers a component
// domain (e.g. echo.example.org) and echoes every <message/> with a body sent to any address of
// it; it answers XEP-0199 pings and refuses other IQs with service-unavailable (RFC 6120 §8.4).
//
// Run (after `npm run build` at the repository root):
//   ECHO_DOMAIN=echo.example.org GATEWAYS=127.0.0.1:5347 \
//   SERVICE_CERT=echo.crt SERVICE_KEY=echo.key CA_CERT=ca.crt node echo-service.mjs
// or find the gateways in the registry instead of GATEWAYS: REDIS_URL=redis://127.0.0.1:6379
import { readFileSync } from 'node:fs';
import { tryParseJID } from '@ambrosia/jid';
import { DomainService } from '@ambrosia/service-sdk';
import { xml } from '@ambrosia/xml';

/**
 * The echo logic, on any DomainService-like object. Replies are routed by the gateways (`route`),
 * `from` the address the stanza was sent to, so they carry the service's own domain (§4.2).
 */
export function attachEcho(service, { log = () => {} } = {}) {
  let echoed = 0;
  service.onStanza(async (stanza) => {
    const { element } = stanza;
    const sender = senderOf(stanza);
    if (sender === undefined) return; // the stamped from does not match the authenticated origin: drop
    const to = String(element.attrs.to ?? '');
    if (element.name === 'message') {
      const body = element.getChildText('body');
      if (body === null || element.attrs.type === 'error') return; // never answer an error (RFC 6120 §8.3.1)
      await service.route(
        xml('message', { from: to, to: sender, type: element.attrs.type ?? 'normal', ...(element.attrs.id ? { id: element.attrs.id } : {}) }, xml('body', {}, body)),
      );
      echoed++;
      log(`echoed ${body.length} characters to ${sender}`);
      return;
    }
    if (element.name === 'iq' && (element.attrs.type === 'get' || element.attrs.type === 'set')) {
      const isPing = element.getChild('ping', 'urn:xmpp:ping') !== undefined && element.attrs.type === 'get';
      const reply = isPing
        ? xml('iq', { type: 'result', from: to, to: sender, id: element.attrs.id })
        : xml(
            'iq',
            { type: 'error', from: to, to: sender, id: element.attrs.id },
            xml('error', { type: 'cancel' }, xml('service-unavailable', { xmlns: 'urn:ietf:params:xml:ns:xmpp-stanzas' })),
          );
      await service.route(reply);
    }
  });
  return { get echoed() { return echoed; } };
}

/**
 * The sender's address: the gateway guarantees `origin` (the bound full JID on c2s, the verified
 * domain on s2s); the stamped `from` must agree with it (docs/service-protocol.md §4.2).
 */
function senderOf({ element, via, origin }) {
  const from = tryParseJID(String(element.attrs.from ?? ''));
  if (from === undefined) return undefined;
  if (via === 'c2s') return from.toString() === origin ? origin : undefined;
  return from.toASCIIDomain() === origin ? from.toString() : undefined;
}

function requireEnv(name) {
  const value = process.env[name];
  if (value === undefined || value === '') {
    console.error(`${name} is required (see README.md)`);
    process.exit(2);
  }
  return value;
}

async function main() {
  const domain = requireEnv('ECHO_DOMAIN');
  const gateways = (process.env.GATEWAYS ?? '')
    .split(',')
    .filter(Boolean)
    .map((entry) => {
      const at = entry.lastIndexOf(':');
      return { host: entry.slice(0, at), port: Number(entry.slice(at + 1)) };
    });
  let registry;
  if (process.env.REDIS_URL) {
    const { createRedisRegistry } = await import('@ambrosia/registry-redis');
    registry = createRedisRegistry({ url: process.env.REDIS_URL });
  }
  const service = new DomainService({
    instance: process.env.INSTANCE,
    registrations: [{ domain, type: 'component' }],
    tls: { cert: readFileSync(requireEnv('SERVICE_CERT')), key: readFileSync(requireEnv('SERVICE_KEY')), ca: readFileSync(requireEnv('CA_CERT')) },
    ...(registry ? { registry } : {}),
    ...(gateways.length > 0 ? { gateways } : {}),
    onError: (error) => console.error(`[echo] ${error.message}`),
  });
  attachEcho(service, { log: (line) => console.log(`[echo] ${line}`) });
  await service.start();
  console.log(`[echo] ${service.instance} serving ${domain} on ${service.gateways.join(', ')}`);
  const stop = async () => {
    await service.stop();
    await registry?.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
