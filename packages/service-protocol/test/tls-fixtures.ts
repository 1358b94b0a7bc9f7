// Throwaway cluster CA and certificates made with @ambrosia/pki, carrying the authorisation URIs
// of docs/service-protocol.md §2.2, and TLS 1.3 mutual-auth plumbing on 127.0.0.1.
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { createCA, issueCertificate, readPeerAuthorisation, tlsOptionsForChannelServer, type CertificateAuthority, type IssueRequest } from '@ambrosia/pki';
import { ALPN_PROTOCOL } from '../src/index.js';

export interface Credentials {
  ca: string;
  cert: string;
  key: string;
}

export interface Fixtures {
  ca: string;
  gateway: Credentials;
  service: Credentials;
  admin: Credentials;
  /** Issued by another CA: must be refused. */
  rogue: Credentials;
}

async function issue(ca: CertificateAuthority, request: Omit<IssueRequest, 'validityDays'>): Promise<Credentials> {
  const { certPem, keyPem } = await issueCertificate(ca, { ...request, validityDays: 1 });
  return { ca: ca.certPem, cert: certPem, key: keyPem };
}

export async function makeFixtures(): Promise<Fixtures> {
  const ca = await createCA({ commonName: 'cluster-ca', validityDays: 2 });
  const rogueCa = await createCA({ commonName: 'rogue-ca', validityDays: 2 });
  return {
    ca: ca.certPem,
    gateway: await issue(ca, { role: 'gateway', commonName: 'gw-1', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] }),
    service: await issue(ca, {
      role: 'service',
      commonName: 'im-service',
      permissions: [
        { domain: 'example.org', type: 'client' },
        { domain: 'example.org', type: 'server' },
      ],
    }),
    admin: await issue(ca, { role: 'admin', commonName: 'admin' }),
    rogue: await issue(rogueCa, { role: 'service', commonName: 'rogue', permissions: [{ domain: 'example.org', type: 'client' }] }),
  };
}

/** The gateway's listener options, as packages/pki makes them for every gateway. */
export function serverOptions(credentials: Credentials): tls.TlsOptions {
  return tlsOptionsForChannelServer({ caCertPem: credentials.ca, certPem: credentials.cert, keyPem: credentials.key }, { alpnProtocol: ALPN_PROTOCOL });
}

export function clientOptions(credentials: Partial<Credentials> & { ca: string }, port: number): tls.ConnectionOptions {
  return {
    host: '127.0.0.1',
    port,
    servername: 'localhost',
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    ca: [credentials.ca],
    ...(credentials.cert === undefined ? {} : { cert: credentials.cert, key: credentials.key }),
    ALPNProtocols: [ALPN_PROTOCOL],
    checkServerIdentity: (host, cert) => tls.checkServerIdentity(host, cert) ?? (readPeerAuthorisation(cert)?.role === 'gateway' ? undefined : new Error('not a gateway certificate')),
  };
}

/** Dials a gateway with TLS 1.3 and resolves once the handshake (including ALPN) is done. */
export function dial(options: tls.ConnectionOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(options, () => {
      socket.setNoDelay(true);
      if (socket.alpnProtocol !== ALPN_PROTOCOL) {
        socket.destroy();
        reject(new Error(`ALPN ${String(socket.alpnProtocol)}`));
        return;
      }
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

export function listen(server: tls.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}
