// Against the real thing: HAProxy (Debian's haproxy package) in front of a net.Server that uses
// readProxyHeader. The client dials from 127.0.0.2 so the address seen through the header
// cannot be confused with the proxy's own 127.0.0.1.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readProxyHeader, TrustedProxies, type ProxiedConnection } from '../src/index.js';

const CLIENT_ADDRESS = '127.0.0.2';

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise((r) => probe.close(r));
  return port;
}

let haproxy: ChildProcess | undefined;
let haproxyLog = '';
let dir = '';
let backend: Server;
const frontends = { v1: 0, v2: 0, v2crc: 0, tls: 0 };
const results: Array<{ conn: ProxiedConnection; socket: Socket }> = [];
const waiters: Array<() => void> = [];

async function waitForListener(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ port, host: '127.0.0.1' });
      s.on('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (haproxy?.exitCode !== null) throw new Error(`haproxy exited: ${haproxyLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`haproxy did not listen on ${port}: ${haproxyLog}`);
}

beforeAll(async () => {
  // The backend: echo after the header, and record what readProxyHeader saw.
  backend = createServer((socket) => {
    readProxyHeader(socket, { trusted: new TrustedProxies(['127.0.0.1']), timeoutMs: 5000 }).then(
      (conn) => {
        results.push({ conn, socket });
        waiters.splice(0).forEach((w) => w());
        socket.on('data', (d) => socket.write(d));
        socket.resume();
      },
      () => {},
    );
  });
  backend.listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const backendPort = (backend.address() as AddressInfo).port;
  frontends.v1 = await freePort();
  frontends.v2 = await freePort();
  frontends.v2crc = await freePort();
  frontends.tls = await freePort();
  dir = mkdtempSync(join(tmpdir(), 'ambrosia-haproxy-'));
  // A throwaway certificate for the TLS-terminating frontend (HAProxy wants key and chain in one file).
  const key = join(dir, 'key.pem');
  const cert = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=chat.example.com'], { stdio: 'ignore' });
  const pem = join(dir, 'frontend.pem');
  execFileSync('sh', ['-c', `cat "${cert}" "${key}" > "${pem}"`]);
  const config = `
global
  maxconn 64
defaults
  mode tcp
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe_v1
  bind 127.0.0.1:${frontends.v1}
  default_backend be_v1
frontend fe_v2
  bind 127.0.0.1:${frontends.v2}
  default_backend be_v2
frontend fe_v2crc
  bind 127.0.0.1:${frontends.v2crc}
  unique-id-format %ci:%cp
  default_backend be_v2crc
frontend fe_tls
  bind 127.0.0.1:${frontends.tls} ssl crt ${pem} alpn xmpp-client
  default_backend be_tls
backend be_v1
  server s1 127.0.0.1:${backendPort} send-proxy
backend be_v2
  server s1 127.0.0.1:${backendPort} send-proxy-v2
backend be_v2crc
  server s1 127.0.0.1:${backendPort} send-proxy-v2 proxy-v2-options crc32c,unique-id
backend be_tls
  server s1 127.0.0.1:${backendPort} send-proxy-v2 proxy-v2-options ssl,ssl-cipher,cert-sig,cert-key,authority,crc32c
`;
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  haproxy = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  haproxy.stdout!.on('data', (d) => (haproxyLog += d));
  haproxy.stderr!.on('data', (d) => (haproxyLog += d));
  await waitForListener(frontends.v1);
  await waitForListener(frontends.v2);
  await waitForListener(frontends.v2crc);
  await waitForListener(frontends.tls);
  results.splice(0); // forget the readiness probes
});

afterAll(async () => {
  if (haproxy && haproxy.exitCode === null) {
    const exited = once(haproxy, 'exit');
    haproxy.kill('SIGTERM');
    const timer = setTimeout(() => haproxy?.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  for (const { socket } of results) socket.destroy();
  await new Promise((r) => backend?.close(r));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Dials a frontend from 127.0.0.2, sends a line, and returns what the backend saw plus the echo. */
async function throughProxy(port: number, tls = false): Promise<{ conn: ProxiedConnection; clientPort: number; echo: string }> {
  const before = results.length;
  const raw = connect({ port, host: '127.0.0.1', localAddress: CLIENT_ADDRESS });
  raw.on('error', () => {});
  await once(raw, 'connect');
  const clientPort = raw.localPort!;
  const client = tls ? tlsConnect({ socket: raw, servername: 'chat.example.com', ALPNProtocols: ['xmpp-client'], rejectUnauthorized: false }) : raw;
  client.on('error', () => {});
  if (tls) await once(client, 'secureConnect');
  client.write("<stream:stream to='example.com'>");
  let echo = '';
  const echoed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no echo; haproxy said: ${haproxyLog}`)), 5000);
    client.on('data', (d) => {
      echo += d;
      if (echo.length >= 32) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await echoed;
  client.destroy();
  raw.destroy();
  const seen = results.slice(before).find((r) => r.conn.remotePort === clientPort);
  if (!seen) throw new Error('the backend did not record the connection');
  return { conn: seen.conn, clientPort, echo };
}

describe('behind a real HAProxy', () => {
  it('send-proxy (v1): the client address and port come through', async () => {
    const { conn, clientPort, echo } = await throughProxy(frontends.v1);
    expect(conn).toMatchObject({ remoteAddress: CLIENT_ADDRESS, remotePort: clientPort, remoteFamily: 'IPv4', localAddress: '127.0.0.1', localPort: frontends.v1, proxied: true, peer: { address: '127.0.0.1' } });
    expect(conn.header?.version).toBe(1);
    expect(echo).toBe("<stream:stream to='example.com'>");
  });

  it('send-proxy-v2: the client address and port come through', async () => {
    const { conn, clientPort, echo } = await throughProxy(frontends.v2);
    expect(conn).toMatchObject({ remoteAddress: CLIENT_ADDRESS, remotePort: clientPort, localPort: frontends.v2, proxied: true });
    expect(conn.header).toMatchObject({ version: 2, command: 'proxy', family: 'ipv4', transport: 'stream' });
    expect(echo).toBe("<stream:stream to='example.com'>");
  });

  it('send-proxy-v2 with crc32c and unique-id TLVs: checksum verified, id decoded', async () => {
    const { conn, clientPort } = await throughProxy(frontends.v2crc);
    expect(conn.remoteAddress).toBe(CLIENT_ADDRESS);
    expect(conn.header?.tlvs.crc32c).toBeTypeOf('number');
    expect(conn.header?.tlvs.uniqueId?.toString()).toBe(`${CLIENT_ADDRESS}:${clientPort}`);
  });

  // HAProxy 2.6 has no "alpn" proxy-v2-option; ALPN decoding is covered by the table tests.
  it('TLS terminated by HAProxy: SSL and authority (SNI) TLVs', async () => {
    const { conn, clientPort, echo } = await throughProxy(frontends.tls, true);
    expect(conn).toMatchObject({ remoteAddress: CLIENT_ADDRESS, remotePort: clientPort, proxied: true });
    expect(echo).toBe("<stream:stream to='example.com'>");
    const { tlvs } = conn.header!;
    expect(tlvs.authority).toBe('chat.example.com');
    expect(tlvs.crc32c).toBeTypeOf('number');
    expect(tlvs.ssl).toMatchObject({ tls: true, certInConnection: false });
    expect(tlvs.ssl?.version).toMatch(/^TLSv1\.[23]$/);
    expect(tlvs.ssl?.cipher).toMatch(/^TLS_|ECDHE/);
    expect(tlvs.ssl?.signatureAlgorithm).toBeTypeOf('string');
    expect(tlvs.ssl?.keyAlgorithm).toMatch(/^EC/);
  });

  it('many connections in a row keep their own addresses', async () => {
    const ports = new Set<number>();
    for (let i = 0; i < 10; i++) {
      const { conn, clientPort } = await throughProxy(i % 2 ? frontends.v1 : frontends.v2);
      expect(conn.remotePort).toBe(clientPort);
      ports.add(conn.remotePort);
    }
    expect(ports.size).toBe(10);
  });
});
