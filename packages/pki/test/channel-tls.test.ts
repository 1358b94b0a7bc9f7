import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { connect, createServer, type ConnectionOptions } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  SERVICE_CHANNEL_ALPN,
  authorisedChannelPeer,
  createCA,
  issueCertificate,
  readPeerAuthorisation,
  tlsOptionsForChannelClient,
  tlsOptionsForChannelServer,
  type CertificateAuthority,
  type KeyType,
} from '../src/index.js';
import { craftCertificate, uri } from './craft.js';
import { failureText, handshake } from './handshake.js';

interface Cluster {
  ca: CertificateAuthority;
  gateway: { certPem: string; keyPem: string };
  service: { certPem: string; keyPem: string };
}

async function cluster(keyType: KeyType): Promise<Cluster> {
  const ca = await createCA({ keyType, commonName: `test ${keyType} CA` });
  const gateway = await issueCertificate(ca, { role: 'gateway', commonName: 'gateway-1', dnsNames: ['gw1.cluster.internal'], ipAddresses: ['127.0.0.1'], keyType });
  const service = await issueCertificate(ca, {
    role: 'service',
    commonName: 'im-service',
    permissions: [
      { domain: 'example.org', type: 'client' },
      { domain: 'example.org', type: 'server' },
      { domain: 'muc.example.org', type: 'component' },
    ],
    keyType,
  });
  return { ca, gateway, service };
}

const serverOf = (c: Cluster) => tlsOptionsForChannelServer({ caCertPem: c.ca.certPem, ...c.gateway });
const clientOf = (c: Cluster, pair = c.service) => tlsOptionsForChannelClient({ caCertPem: c.ca.certPem, ...pair });

describe.each(['ec', 'rsa'] as const)('service channel mTLS with %s certificates', (keyType) => {
  let c: Cluster;
  beforeAll(async () => {
    c = await cluster(keyType);
  });

  it('completes a TLS 1.3 handshake in which each side verifies the other against the cluster CA', async () => {
    const outcome = await handshake(serverOf(c), clientOf(c));
    expect(outcome.client.accepted, failureText(outcome)).toBe(true);
    expect(outcome.client.authorized).toBe(true);
    expect(outcome.client.protocol).toBe('TLSv1.3');
    expect(outcome.server.accepted).toBe(true);
    expect(outcome.server.protocol).toBe('TLSv1.3');
  });

  it('negotiates the service channel ALPN protocol (service-protocol.md §2.1)', async () => {
    let alpn: string | false | null | undefined;
    const outcome = await handshake(serverOf(c), clientOf(c), { onClientSocket: (socket) => socket.on('secureConnect', () => (alpn = socket.alpnProtocol)) });
    expect(outcome.client.accepted, failureText(outcome)).toBe(true);
    expect(alpn).toBe(SERVICE_CHANNEL_ALPN);
  });

  it('carries the service permissions through the live peer certificate', async () => {
    const outcome = await handshake(serverOf(c), clientOf(c));
    expect(outcome.server.peer).toEqual({
      role: 'service',
      commonName: 'im-service',
      serialNumber: new X509Certificate(c.service.certPem).serialNumber.toUpperCase(),
      permissions: [
        { domain: 'example.org', type: 'client' },
        { domain: 'example.org', type: 'server' },
        { domain: 'muc.example.org', type: 'component' },
      ],
    });
    // ...and the gateway's role reaches the client the same way.
    expect(readPeerAuthorisation(outcome.client.peerCertificate!)).toMatchObject({ role: 'gateway', commonName: 'gateway-1', permissions: [] });
  });
});

describe('service channel sessions', () => {
  /** Connects, waits for the server's word and for a session ticket (if any), then closes. */
  function connectOnce(port: number, options: ConnectionOptions): Promise<{ reused: boolean; session: Buffer | undefined }> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ...options });
      let session: Buffer | undefined;
      let heard = false;
      const finish = () => {
        clearTimeout(ticketWait);
        const reused = socket.isSessionReused();
        socket.destroy();
        resolve({ reused, session });
      };
      // Tickets follow the handshake; give one a moment to arrive, bounded, then move on.
      let ticketWait: NodeJS.Timeout | undefined;
      socket.on('session', (ticket: Buffer) => {
        session = ticket;
        if (heard) finish();
      });
      socket.once('data', () => {
        heard = true;
        if (session !== undefined) finish();
        else ticketWait = setTimeout(finish, 200);
      });
      socket.once('error', reject);
    });
  }

  it('never resumes a session: every reconnect presents and re-verifies its certificate', async () => {
    const c = await cluster('ec');
    const peers: Array<string | undefined> = [];
    const server = createServer(serverOf(c), (socket) => {
      peers.push(authorisedChannelPeer(socket)?.role);
      socket.on('error', () => {});
      socket.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const first = await connectOnce(port, clientOf(c));
      expect(first.reused).toBe(false);
      const second = await connectOnce(port, { ...clientOf(c), session: first.session });
      expect(second.reused).toBe(false);
      expect(peers).toEqual(['service', 'service']);
    } finally {
      server.close();
    }
  });
});

describe('service channel rejections', () => {
  let c: Cluster;
  let other: Cluster;
  beforeAll(async () => {
    [c, other] = await Promise.all([cluster('ec'), cluster('ec')]);
  });

  it('rejects a client whose certificate comes from another CA', async () => {
    const outcome = await handshake(serverOf(c), tlsOptionsForChannelClient({ caCertPem: c.ca.certPem, ...other.service }));
    expect(outcome.server.accepted).toBe(false);
    expect(outcome.client.accepted).toBe(false);
    expect(outcome.server.authorizationError).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('rejects a gateway whose certificate comes from another CA', async () => {
    const outcome = await handshake(tlsOptionsForChannelServer({ caCertPem: c.ca.certPem, ...other.gateway }), clientOf(c));
    expect(outcome.client.accepted).toBe(false);
    expect(outcome.client.error).toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('rejects a client that presents no certificate', async () => {
    const outcome = await handshake(serverOf(c), { ca: [c.ca.certPem], minVersion: 'TLSv1.3', checkServerIdentity: () => undefined });
    expect(outcome.server.accepted).toBe(false);
    expect(outcome.client.accepted).toBe(false);
    expect(failureText(outcome)).toMatch(/certificate required|peer did not return a certificate/i);
  });

  it('authorises nobody on a link that did not negotiate the channel ALPN protocol', async () => {
    const { ALPNProtocols: _omitted, ...withoutAlpn } = clientOf(c);
    const silent = await handshake(serverOf(c), withoutAlpn);
    expect(silent.server.accepted, failureText(silent)).toBe(true); // TLS itself succeeds...
    expect(silent.server.peer).toBeUndefined(); // ...but the link authorises nothing

    const other = await handshake(serverOf(c), { ...clientOf(c), ALPNProtocols: ['xmpp-client'] });
    expect(other.server.accepted).toBe(false);
    expect(failureText(other)).toMatch(/no application protocol|NO_APPLICATION_PROTOCOL/i);
  });

  it('rejects an expired client certificate', async () => {
    const expired = await issueCertificate(c.ca, {
      role: 'service',
      commonName: 'expired-service',
      permissions: [{ domain: 'example.org', type: 'client' }],
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      validityDays: 1,
    });
    expect(Date.parse(new X509Certificate(expired.certPem).validTo)).toBeLessThan(Date.now());
    const outcome = await handshake(serverOf(c), clientOf(c, expired));
    expect(outcome.server.accepted).toBe(false);
    expect(outcome.client.accepted).toBe(false);
    expect(outcome.server.authorizationError).toBe('CERT_HAS_EXPIRED');
  });

  it('rejects an expired gateway certificate', async () => {
    const expired = await issueCertificate(c.ca, {
      role: 'gateway',
      commonName: 'expired-gateway',
      ipAddresses: ['127.0.0.1'],
      notBefore: new Date(Date.now() - 3 * 86_400_000),
      validityDays: 1,
    });
    const outcome = await handshake(tlsOptionsForChannelServer({ caCertPem: c.ca.certPem, ...expired }), clientOf(c));
    expect(outcome.client.accepted).toBe(false);
    expect((outcome.client.error as NodeJS.ErrnoException).code).toBe('CERT_HAS_EXPIRED');
  });

  it('will not let a service certificate pose as a gateway', async () => {
    // Its extended key usage is clientAuth only, so the TLS stack already refuses it as a server...
    const asServer = await handshake(tlsOptionsForChannelServer({ caCertPem: c.ca.certPem, ...c.service }), clientOf(c), {});
    expect(asServer.client.accepted).toBe(false);
    expect(failureText(asServer)).toMatch(/unsupported certificate purpose|INVALID_PURPOSE/i);
  });

  it('requires the gateway role from the server even when key usage would allow it', async () => {
    // A CA-signed certificate fit for serverAuth but carrying the admin role.
    const impostor = await craftCertificate(c.ca, { names: [uri('ambrosia:role:admin'), { kind: 'ip', bytes: Buffer.from([127, 0, 0, 1]) }] });
    const outcome = await handshake(tlsOptionsForChannelServer({ caCertPem: c.ca.certPem, ...impostor }), clientOf(c));
    expect(outcome.client.accepted).toBe(false);
    expect(outcome.client.error).toMatchObject({ code: 'PKI_WRONG_PEER_ROLE' });
  });

  it('checks the dialled host name against the gateway certificate unless told not to', async () => {
    const byName = await handshake(serverOf(c), { ...clientOf(c), servername: 'gw1.cluster.internal' });
    expect(byName.client.accepted, failureText(byName)).toBe(true);

    const wrongName = await handshake(serverOf(c), { ...clientOf(c), servername: 'gw2.cluster.internal' });
    expect(wrongName.client.accepted).toBe(false);
    expect((wrongName.client.error as NodeJS.ErrnoException).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');

    const relaxed = await handshake(serverOf(c), {
      ...tlsOptionsForChannelClient({ caCertPem: c.ca.certPem, ...c.service }, { verifyHostname: false }),
      servername: 'gw2.cluster.internal',
    });
    expect(relaxed.client.accepted, failureText(relaxed)).toBe(true);
  });

  it('refuses TLS 1.2 in either direction', async () => {
    const oldClient = await handshake(serverOf(c), { ...clientOf(c), maxVersion: 'TLSv1.2', minVersion: 'TLSv1.2', secureContext: undefined, ca: [c.ca.certPem], ...c.service });
    expect(oldClient.server.accepted).toBe(false);
    expect(oldClient.client.accepted).toBe(false);

    const oldServer = await handshake({ ...serverOf(c), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }, clientOf(c));
    expect(oldServer.client.accepted).toBe(false);
    expect(failureText(oldServer)).toMatch(/protocol version|unsupported protocol/i);
  });

  it('reports unusable credentials as a PkiError', () => {
    expect(() => tlsOptionsForChannelServer({ caCertPem: c.ca.certPem, certPem: c.gateway.certPem, keyPem: c.service.keyPem })).toThrow(
      expect.objectContaining({ code: 'PKI_INVALID_ARGUMENT' }),
    );
    expect(() => tlsOptionsForChannelClient({ caCertPem: c.ca.certPem, certPem: '', keyPem: c.service.keyPem })).toThrow(
      expect.objectContaining({ code: 'PKI_INVALID_ARGUMENT' }),
    );
  });
});
