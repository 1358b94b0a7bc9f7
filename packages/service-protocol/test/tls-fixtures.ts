// Throwaway cluster CA and certificates made with the openssl CLI, carrying the authorisation
// URIs of docs/service-protocol.md §2.2, and TLS 1.3 mutual-auth plumbing on 127.0.0.1.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { ALPN_PROTOCOL, type ChannelPeer, type PeerRole } from '../src/index.js';

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
  cleanup: () => void;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function makeCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function issue(dir: string, ca: string, name: string, sans: string[]): Credentials {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
  writeFileSync(join(dir, `${name}.ext`), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${sans.join(',')}\n`);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`]);
  return { ca: readFileSync(join(dir, `${ca}.crt`), 'utf8'), cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
}

export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'ambrosia-channel-tls-'));
  makeCa(dir, 'cluster-ca');
  makeCa(dir, 'rogue-ca');
  const fixtures: Fixtures = {
    ca: readFileSync(join(dir, 'cluster-ca.crt'), 'utf8'),
    gateway: issue(dir, 'cluster-ca', 'gw-1', ['DNS:localhost', 'IP:127.0.0.1', 'URI:ambrosia:role:gateway']),
    service: issue(dir, 'cluster-ca', 'im-service', ['URI:ambrosia:role:service', 'URI:ambrosia:register:example.org/client', 'URI:ambrosia:register:example.org/server']),
    admin: issue(dir, 'cluster-ca', 'admin', ['URI:ambrosia:role:admin']),
    rogue: issue(dir, 'rogue-ca', 'rogue', ['URI:ambrosia:role:service', 'URI:ambrosia:register:*/client']),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  return fixtures;
}

/** The URIs of a verified peer certificate (Node's `subjectaltname` string; quoted values are JSON). */
function sanUris(cert: tls.PeerCertificate): string[] {
  const uris: string[] = [];
  for (const match of (cert.subjectaltname ?? '').matchAll(/URI:("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const value = match[1]!;
    uris.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return uris;
}

/** §2.2, fail closed: exactly one role; register URIs only on services. (The gateway will use packages/pki.) */
export function peerFromCertificate(cert: tls.PeerCertificate): ChannelPeer | undefined {
  const uris = sanUris(cert);
  const roles = uris.filter((uri) => uri.startsWith('ambrosia:role:')).map((uri) => uri.slice('ambrosia:role:'.length));
  if (roles.length !== 1 || !['gateway', 'service', 'admin'].includes(roles[0]!)) return undefined;
  const permissions = uris
    .filter((uri) => uri.startsWith('ambrosia:register:'))
    .map((uri) => {
      const rest = uri.slice('ambrosia:register:'.length);
      const slash = rest.lastIndexOf('/');
      return { domain: rest.slice(0, slash), type: rest.slice(slash + 1) };
    });
  if (permissions.length > 0 && roles[0] !== 'service') return undefined;
  return { role: roles[0] as PeerRole, permissions, commonName: cert.subject?.CN as string | undefined };
}

export function serverOptions(credentials: Credentials): tls.TlsOptions {
  return { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ca: [credentials.ca], cert: credentials.cert, key: credentials.key, requestCert: true, rejectUnauthorized: true, ALPNProtocols: [ALPN_PROTOCOL] };
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
    checkServerIdentity: (host, cert) => tls.checkServerIdentity(host, cert) ?? (peerFromCertificate(cert)?.role === 'gateway' ? undefined : new Error('not a gateway certificate')),
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
