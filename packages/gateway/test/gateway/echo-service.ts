// A small domain service for the gateway's tests, built on service-protocol's ChannelEndpoint as
// any outside service would be: it connects to every gateway it is given over mutual TLS with a
// CA-issued service certificate, registers domain/client, and
// - echoes a message addressed to the domain itself back to its sender's session;
// - delivers a message for user@domain[/resource] to the sessions the registry's directory names
//   (on whichever gateway holds them);
// - answers see-other-host queries "stay" and records session events.

import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { issueCertificate, tlsOptionsForChannelClient, type CertificateAuthority } from '@ambrosia/pki';
import type { Registry } from '@ambrosia/registry';
import { ChannelEndpoint, type InboundMessage, type SessionEventMessage, type StanzaMessage } from '@ambrosia/service-protocol';
import { parseElement, serialize, xml } from '@ambrosia/xml';

export interface EchoService {
  readonly events: SessionEventMessage[];
  readonly received: Array<{ origin: string; gateway: string; xml: string }>;
  close(): Promise<void>;
}

export async function startEchoService(options: {
  ca: CertificateAuthority;
  registry: Registry;
  gateways: Array<{ id: string; port: number }>;
  domains: string[];
  instance?: string;
}): Promise<EchoService> {
  const pair = await issueCertificate(options.ca, {
    role: 'service',
    commonName: 'echo-service',
    permissions: options.domains.map((domain) => ({ domain, type: 'client' as const })),
  });
  const tlsOptions = tlsOptionsForChannelClient({ caCertPem: options.ca.certPem, certPem: pair.certPem, keyPem: pair.keyPem }, { verifyHostname: false });
  const endpoints = new Map<string, ChannelEndpoint>();
  const sockets: TLSSocket[] = [];
  const events: SessionEventMessage[] = [];
  const received: EchoService['received'] = [];

  function sendTo(gateway: string, session: string, origin: string, stanza: string): void {
    const endpoint = endpoints.get(gateway);
    if (endpoint === undefined) return;
    endpoint.send({ kind: 'stanza', context: { via: 'c2s', gateway, session, origin }, xml: stanza }).catch(() => {});
  }

  async function onStanza(message: StanzaMessage): Promise<void> {
    const { context } = message;
    const text = typeof message.xml === 'string' ? message.xml : message.xml.toString('utf8');
    received.push({ origin: context.origin, gateway: context.gateway, xml: text });
    const element = parseElement(text, { defaultNamespace: 'jabber:client' });
    const to = element.attrs.to as string | undefined;
    const domain = options.domains.find((d) => to === d || to?.endsWith(`@${d}`) || to?.includes(`@${d}/`));
    if (element.name !== 'message' || to === undefined || domain === undefined) return;
    if (to === domain) {
      const body = element.getChildText('body') ?? '';
      const reply = serialize(xml('message', { from: domain, to: context.origin, type: element.attrs.type ?? 'chat', id: element.attrs.id }, xml('body', {}, `echo: ${body}`)));
      sendTo(context.gateway, context.session, domain, reply);
      return;
    }
    const [bare, resource] = to.split('/') as [string, string | undefined];
    const sessions = await options.registry.sessions.get(bare);
    for (const session of sessions) {
      if (resource !== undefined && session.resource !== resource) continue;
      sendTo(session.gatewayId, session.sessionId, domain, text);
    }
  }

  for (const gateway of options.gateways) {
    const socket = tlsConnect({ ...tlsOptions, host: '127.0.0.1', port: gateway.port });
    sockets.push(socket);
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const endpoint = new ChannelEndpoint({
      role: 'service',
      instance: options.instance ?? 'echo-1',
      registrations: options.domains.map((domain) => ({ domain, type: 'client' as const })),
    });
    endpoint.on('message', (inbound: InboundMessage) => {
      const message = inbound.message;
      if (message.kind === 'stanza') void onStanza(message).catch(() => {});
      else if (message.kind === 'session-event') events.push(message);
      else if (message.kind === 'see-other-host-query') inbound.reply({ host: null });
      else if (message.kind === 'user-lookup') inbound.reply({ outcome: 'unknown' });
    });
    const ready = await endpoint.attach(socket);
    endpoints.set(ready.gateway, endpoint);
  }

  return {
    events,
    received,
    async close() {
      await Promise.all([...endpoints.values()].map((e) => e.close().catch(() => {})));
      for (const socket of sockets) socket.destroy();
    },
  };
}
