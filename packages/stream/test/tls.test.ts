// A real STARTTLS upgrade over TCP on 127.0.0.1: a net.Socket adapted to StreamTransport (what
// the gateway will do), a client that upgrades with node's TLS, and SCRAM-SHA-256-PLUS bound to
// the real channel (RFC 9266 tls-exporter), advertised with XEP-0440 and covered by XEP-0474.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TLSSocket, connect as tlsConnect } from 'node:tls';
import { channelBindingsForTls } from '@ambrosia/sasl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientStream, ManualClock, type StreamClosedInfo, type StreamTransport } from '../src/index.js';
import { CLIENT_HEADER, CLIENT_NONCE, DOMAIN, PASSWORD, ScramClient, b64, credentials, downgradeHash, testAuthenticator, unb64 } from './helpers.js';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

function makeCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'ambrosia-stream-cert-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2',
      '-subj', `/CN=${DOMAIN}`, '-addext', `subjectAltName=DNS:${DOMAIN}`,
    ], { stdio: 'pipe' });
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the gateway's listener will do: a TCP socket, upgraded in place on STARTTLS. */
class SocketTransport implements StreamTransport {
  readonly canStartTls = true;
  readonly remoteAddress: string;
  stream: ClientStream | undefined;
  private socket: Socket;
  private readonly onData = (data: Buffer) => this.stream?.receive(data);

  constructor(socket: Socket, private readonly credentials: { key: Buffer; cert: Buffer }) {
    this.socket = socket;
    this.remoteAddress = socket.remoteAddress ?? '';
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('close', () => this.stream?.transportClosed());
    socket.on('error', () => {});
  }

  write(data: Buffer): boolean {
    return this.socket.write(data);
  }

  startTls(): void {
    const plain = this.socket;
    plain.removeListener('data', this.onData);
    const secure = new TLSSocket(plain, { isServer: true, key: this.credentials.key, cert: this.credentials.cert, minVersion: 'TLSv1.3' });
    this.socket = secure;
    secure.on('data', this.onData);
    secure.on('error', () => this.stream?.transportClosed(new Error('tls')));
    secure.on('secure', () => {
      this.stream?.tlsEstablished({
        channelBindings: channelBindingsForTls({
          protocol: secure.getProtocol(),
          exportKeyingMaterial: secure.exportKeyingMaterial.bind(secure),
          serverCertificate: secure.getX509Certificate()?.raw,
        }),
      });
    });
  }

  pauseReading(): void {
    this.socket.pause();
  }
  resumeReading(): void {
    this.socket.resume();
  }
  close(): void {
    this.socket.end();
  }
  destroy(): void {
    this.socket.destroy();
  }
}

/** Reads a socket as text and waits for patterns in it. */
class Reader {
  private text = '';
  private waiter: (() => void) | undefined;
  constructor(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.text += chunk;
      this.waiter?.();
    });
  }
  async until(pattern: RegExp): Promise<RegExpExecArray> {
    for (;;) {
      const match = pattern.exec(this.text);
      if (match) {
        this.text = this.text.slice(match.index + match[0].length);
        return match;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}

describe('STARTTLS on a real TCP connection', () => {
  const certificate = makeCertificate();
  const closed: StreamClosedInfo[] = [];
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    const accounts = { juliet: await credentials() };
    server = createServer((socket) => {
      const transport = new SocketTransport(socket, certificate);
      transport.stream = new ClientStream({
        transport,
        clock: new ManualClock(),
        hooks: {
          authenticator: testAuthenticator(accounts),
          resolveDomain: (domain) => (domain === DOMAIN ? { kind: 'served' } : { kind: 'unknown' }),
          bind: async () => ({ kind: 'bound' }),
          onStanza: async () => {},
          onClosed: (_stream, info) => closed.push(info),
        },
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function upgradedClient(): Promise<{ tls: TLSSocket; reader: Reader; features: string }> {
    const plain = netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => plain.once('connect', resolve).once('error', reject));
    const plainReader = new Reader(plain);
    plain.write(CLIENT_HEADER);
    await plainReader.until(/<starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required\/><\/starttls>.*<\/stream:features>/);
    plain.write("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    await plainReader.until(/<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"\/>/);
    plain.removeAllListeners('data');
    const tls = tlsConnect({ socket: plain, servername: DOMAIN, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
    const reader = new Reader(tls);
    tls.write(CLIENT_HEADER);
    const [features] = await reader.until(/<stream:features[^]*?<\/stream:features>/);
    return { tls, reader, features };
  }

  it('upgrades, offers -PLUS with the real channel bindings, and authenticates with tls-exporter', async () => {
    const { tls, reader, features } = await upgradedClient();
    expect(tls.getProtocol()).toBe('TLSv1.3');
    const mechanisms = [...features.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]!);
    expect(mechanisms.slice(0, 3)).toEqual(['SCRAM-SHA-512-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS']);
    // XEP-0440: both bindings exist on this TLS 1.3 connection with an ECDSA-SHA256 certificate.
    expect(features).toContain('<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0"><channel-binding type="tls-exporter"/><channel-binding type="tls-server-end-point"/></sasl-channel-binding>');

    const exporter = tls.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
    const scram = new ScramClient('SHA-256', 'juliet', PASSWORD, CLIENT_NONCE, { type: 'tls-exporter', data: exporter });
    tls.write(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256-PLUS'>${b64(scram.first())}</auth>`);
    const [, challenge] = await reader.until(/<challenge xmlns="urn:ietf:params:xml:ns:xmpp-sasl">([^<]+)<\/challenge>/);
    const serverFirst = unb64(challenge!);
    // XEP-0474 over what XEP-0440 advertised: a stripped list would not match.
    expect(ScramClient.attributes(serverFirst).h).toBe(downgradeHash('SHA-256', mechanisms, ['tls-exporter', 'tls-server-end-point']));
    tls.write(`<response xmlns='${SASL}'>${b64(scram.final(serverFirst))}</response>`);
    const [, success] = await reader.until(/<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl">([^<]+)<\/success>/);
    expect(scram.verifyServerFinal(unb64(success!))).toBe(true);

    tls.write(CLIENT_HEADER);
    await reader.until(/<bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"\/>/);
    tls.write("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>tls</resource></bind></iq>");
    await reader.until(new RegExp(`<jid>juliet@${DOMAIN}/tls</jid>`));
    tls.write('</stream:stream>');
    await reader.until(/<\/stream:stream>/);
    await new Promise<void>((resolve) => tls.once('close', () => resolve()));
    expect(closed.at(-1)).toEqual({ reason: 'normal' });
  });

  it('refuses a channel binding that is not this connection’s', async () => {
    const { tls, reader } = await upgradedClient();
    const scram = new ScramClient('SHA-256', 'juliet', PASSWORD, CLIENT_NONCE, { type: 'tls-exporter', data: Buffer.alloc(32, 7) });
    tls.write(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256-PLUS'>${b64(scram.first())}</auth>`);
    const [, challenge] = await reader.until(/<challenge xmlns="urn:ietf:params:xml:ns:xmpp-sasl">([^<]+)<\/challenge>/);
    tls.write(`<response xmlns='${SASL}'>${b64(scram.final(unb64(challenge!)))}</response>`);
    await reader.until(/<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized\/>/);
    tls.destroy();
  });
});
