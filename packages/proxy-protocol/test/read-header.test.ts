import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, TLSSocket } from 'node:tls';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeV1, encodeV2, isProxyProtocolError, ProxyErrorCode, readProxyHeader, TrustedProxies, type ProxiedConnection, type ReadProxyHeaderOptions } from '../src/index.js';

const TRUSTED = new TrustedProxies(['127.0.0.1/32']);
const APP = Buffer.from("<stream:stream to='example.com'>");
const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

interface Accepted {
  socket: Socket;
  result: Promise<ProxiedConnection>;
}

/** A server running readProxyHeader on every connection; `next()` yields the next one. */
async function listen(options: Partial<ReadProxyHeaderOptions> = {}): Promise<{ port: number; next: () => Promise<Accepted> }> {
  const waiting: Array<(a: Accepted) => void> = [];
  const ready: Accepted[] = [];
  const server = createServer((socket) => {
    sockets.push(socket);
    const accepted = { socket, result: readProxyHeader(socket, { trusted: TRUSTED, timeoutMs: 2000, ...options }) };
    accepted.result.catch(() => {}); // observed by the test
    const w = waiting.shift();
    if (w) w(accepted);
    else ready.push(accepted);
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    next: () => {
      const a = ready.shift();
      return a ? Promise.resolve(a) : new Promise((r) => waiting.push(r));
    },
  };
}

async function dial(port: number, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  sockets.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** Collects what the server socket yields after readProxyHeader, until `length` bytes. */
async function readApp(socket: Socket, length: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('application bytes did not arrive')), 5000);
    socket.on('data', (chunk: Buffer) => {
      parts.push(chunk);
      total += chunk.length;
      if (total >= length) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  socket.resume();
  await done;
  return Buffer.concat(parts);
}

async function expectRefused(result: Promise<ProxiedConnection>, code: string, socket: Socket, client: Socket): Promise<void> {
  const error = await result.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isProxyProtocolError(error) && error.code).toBe(code);
  expect(socket.destroyed).toBe(true);
  if (!client.closed) await once(client, 'close'); // the peer sees the connection go
}

describe('readProxyHeader on real sockets', () => {
  it('v1 from a trusted proxy: the header address, and the application bytes unshifted', async () => {
    const server = await listen();
    const client = await dial(server.port);
    client.write(Buffer.concat([encodeV1({ source: { address: '203.0.113.9', port: 40001 }, destination: { address: '198.51.100.1', port: 5222 } }), APP]));
    const { socket, result } = await server.next();
    const conn = await result;
    expect(conn).toMatchObject({ remoteAddress: '203.0.113.9', remotePort: 40001, remoteFamily: 'IPv4', localAddress: '198.51.100.1', localPort: 5222, proxied: true, peer: { address: '127.0.0.1', port: client.localPort } });
    expect(conn.header?.version).toBe(1);
    expect(conn.rest.length).toBe(0);
    expect(socket.isPaused()).toBe(true);
    expect((await readApp(socket, APP.length)).equals(APP)).toBe(true);
  });

  it('v2 split across writes, application bytes returned in `rest`', async () => {
    const server = await listen({ rest: 'return' });
    const client = await dial(server.port);
    const header = encodeV2({ source: { address: '2001:db8::5', port: 1234 }, destination: { address: '2001:db8::1', port: 5223 }, tlvs: { authority: 'example.com', crc32c: true } });
    client.write(header.subarray(0, 10));
    const { socket, result } = await server.next();
    await new Promise((r) => setTimeout(r, 20));
    client.write(Buffer.concat([header.subarray(10), APP]));
    const conn = await result;
    expect(conn).toMatchObject({ remoteAddress: '2001:db8::5', remotePort: 1234, remoteFamily: 'IPv6', proxied: true });
    expect(conn.header?.tlvs.authority).toBe('example.com');
    // The rest arrived either with the header's tail or after it: whatever is not in `rest` is still in the socket.
    const after = conn.rest.length < APP.length ? await readApp(socket, APP.length - conn.rest.length) : Buffer.alloc(0);
    expect(Buffer.concat([conn.rest, after]).equals(APP)).toBe(true);
  });

  it('LOCAL (a health check): the real endpoints, not proxied', async () => {
    const server = await listen();
    const client = await dial(server.port);
    client.write(encodeV2({ command: 'local' }));
    const conn = await (await server.next()).result;
    expect(conn).toMatchObject({ remoteAddress: '127.0.0.1', remotePort: client.localPort, proxied: false });
    expect(conn.header?.command).toBe('local');
  });

  it('an untrusted peer sending a header is refused and cut', async () => {
    const server = await listen();
    const client = await dial(server.port, '127.0.0.2');
    client.write(encodeV1({ source: { address: '10.0.0.1', port: 1 }, destination: { address: '10.0.0.2', port: 2 } }));
    const { socket, result } = await server.next();
    await expectRefused(result, ProxyErrorCode.UNTRUSTED, socket, client);
  });

  it('an untrusted peer is refused as soon as it sends the v2 signature', async () => {
    const server = await listen();
    const client = await dial(server.port, '127.0.0.2');
    client.write(encodeV2({ command: 'local' }).subarray(0, 12));
    const { socket, result } = await server.next();
    await expectRefused(result, ProxyErrorCode.UNTRUSTED, socket, client);
  });

  it('an untrusted peer speaking XMPP passes with its own address', async () => {
    const server = await listen();
    const client = await dial(server.port, '127.0.0.2');
    client.write(APP);
    const { socket, result } = await server.next();
    const conn = await result;
    expect(conn).toMatchObject({ remoteAddress: '127.0.0.2', remotePort: client.localPort, proxied: false, header: undefined });
    expect((await readApp(socket, APP.length)).equals(APP)).toBe(true);
  });

  it('a trusted peer without a header: refused when required, passed when optional', async () => {
    const strict = await listen();
    const client = await dial(strict.port);
    client.write(APP);
    const accepted = await strict.next();
    await expectRefused(accepted.result, ProxyErrorCode.MISSING, accepted.socket, client);

    const lenient = await listen({ mode: 'optional' });
    const client2 = await dial(lenient.port);
    client2.write(APP);
    const { socket, result } = await lenient.next();
    expect(await result).toMatchObject({ remoteAddress: '127.0.0.1', proxied: false });
    expect((await readApp(socket, APP.length)).equals(APP)).toBe(true);
  });

  it('a malformed header from a trusted proxy is refused', async () => {
    const server = await listen();
    const client = await dial(server.port);
    client.write('PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n');
    const { socket, result } = await server.next();
    await expectRefused(result, ProxyErrorCode.MALFORMED, socket, client);
  });

  it('a header that stalls is cut at the deadline', async () => {
    const server = await listen({ timeoutMs: 100 });
    const client = await dial(server.port);
    client.write('PROXY TCP4 1.2.3.4');
    const { socket, result } = await server.next();
    await expectRefused(result, ProxyErrorCode.TIMEOUT, socket, client);
  });

  it('a peer that leaves mid-header: CLOSED', async () => {
    const server = await listen();
    const client = await dial(server.port);
    client.end('PROXY TCP4 1.2.3.4');
    const { socket, result } = await server.next();
    await expectRefused(result, ProxyErrorCode.CLOSED, socket, client);
  });

  it('direct TLS after the header: the ClientHello sent with the header reaches a TLSSocket through unshift', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ambrosia-pp-tls-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '1', '-subj', '/CN=example.com'], { stdio: 'ignore' });
      const key = readFileSync(join(dir, 'k.pem'));
      const cert = readFileSync(join(dir, 'c.pem'));
      const server = await listen();
      const raw = await dial(server.port);
      // Cork so the header and the ClientHello leave in one segment, as a proxy may coalesce them.
      raw.cork();
      raw.write(encodeV1({ source: { address: '203.0.113.5', port: 5 }, destination: { address: '198.51.100.1', port: 5223 } }));
      const client = tlsConnect({ socket: raw, rejectUnauthorized: false });
      client.on('error', () => {});
      setImmediate(() => raw.uncork());
      const { socket, result } = await server.next();
      const conn = await result;
      expect(conn.remoteAddress).toBe('203.0.113.5');
      const secure = new TLSSocket(socket, { isServer: true, key, cert });
      await once(client, 'secureConnect');
      client.write('hello over TLS');
      const [data] = (await once(secure, 'data')) as [Buffer];
      expect(String(data)).toBe('hello over TLS');
      secure.destroy();
      client.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
