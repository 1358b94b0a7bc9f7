// SCRAM -PLUS on the real listeners: the client computes its channel binding from its own end of
// the TLS connection (RFC 9266 tls-exporter on TLS 1.3; RFC 5929 tls-server-end-point from the
// certificate it was shown), so a login succeeds only if the edge handed the stream the bindings
// of this very connection — over direct TLS and after a STARTTLS upgrade in place.

import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOMAIN, PASSWORD, RawClient, addTestUser, header, rawStartTls, startEdge, type TestEdge } from './helpers.js';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

function bindingData(socket: TLSSocket, type: 'tls-exporter' | 'tls-server-end-point'): Buffer {
  if (type === 'tls-exporter') return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
  // ECDSA P-256 with SHA-256 certificates: the hash is SHA-256 (RFC 5929 §4.1).
  return createHash('sha256').update(socket.getPeerX509Certificate()!.raw).digest();
}

/** RFC 5802 / RFC 7677 SCRAM-SHA-256-PLUS, client side; resolves the server's final answer. */
async function scramPlus(client: RawClient, user: string, type: 'tls-exporter' | 'tls-server-end-point'): Promise<string> {
  const socket = client.socket as TLSSocket;
  const gs2 = `p=${type},,`;
  const nonce = randomBytes(18).toString('base64');
  const first = `n=${user},r=${nonce}`;
  client.send(`<auth xmlns='${SASL}' mechanism='SCRAM-SHA-256-PLUS'>${Buffer.from(gs2 + first).toString('base64')}</auth>`);
  const challenge = Buffer.from((await client.until(/<challenge xmlns="urn:ietf:params:xml:ns:xmpp-sasl">([^<]+)<\/challenge>/))[1]!, 'base64').toString();
  const fields = Object.fromEntries(challenge.split(',').map((kv) => [kv[0], kv.slice(2)]));
  const salted = pbkdf2Sync(PASSWORD, Buffer.from(fields.s!, 'base64'), Number(fields.i), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const cbind = Buffer.concat([Buffer.from(gs2), bindingData(socket, type)]).toString('base64');
  const finalBare = `c=${cbind},r=${fields.r}`;
  const authMessage = `${first},${challenge},${finalBare}`;
  const signature = createHmac('sha256', storedKey).update(authMessage).digest();
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString('base64');
  client.send(`<response xmlns='${SASL}'>${Buffer.from(`${finalBare},p=${proof}`).toString('base64')}</response>`);
  const answer = (await client.until(/<(success|failure) xmlns="urn:ietf:params:xml:ns:xmpp-sasl"(?:\/>|>.*?<\/\1>)/))[0];
  if (answer.startsWith('<success')) {
    const serverKey = createHmac('sha256', salted).update('Server Key').digest();
    const expected = createHmac('sha256', serverKey).update(authMessage).digest('base64');
    const verifier = Buffer.from(/>([^<]+)</.exec(answer)![1]!, 'base64').toString();
    expect(verifier).toBe(`v=${expected}`);
  }
  return answer;
}

describe('SCRAM-SHA-256-PLUS over the edge’s TLS', () => {
  let t: TestEdge;

  beforeAll(async () => {
    t = await startEdge();
    await addTestUser(t.registry, 'juliet');
  });

  afterAll(async () => {
    await t.close();
  });

  it('direct TLS 1.3 with tls-exporter', async () => {
    const client = await RawClient.connectTls(t.tlsPort, t.ca.certPem, DOMAIN);
    client.send(header());
    await client.until(/<\/stream:features>/);
    expect(await scramPlus(client, 'juliet', 'tls-exporter')).toMatch(/^<success/);
    client.destroy();
  });

  it('direct TLS with tls-server-end-point', async () => {
    const client = await RawClient.connectTls(t.tlsPort, t.ca.certPem, DOMAIN);
    client.send(header());
    await client.until(/<\/stream:features>/);
    expect(await scramPlus(client, 'juliet', 'tls-server-end-point')).toMatch(/^<success/);
    client.destroy();
  });

  it('STARTTLS with tls-exporter, bound to the upgraded connection', async () => {
    const client = await rawStartTls(t);
    expect(await scramPlus(client, 'juliet', 'tls-exporter')).toMatch(/^<success/);
    client.destroy();
  });

  it('TLS 1.2 offers tls-server-end-point only (RFC 9266 §3 forbids the exporter there)', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: t.tlsPort, servername: DOMAIN, ca: [t.ca.certPem], maxVersion: 'TLSv1.2', ALPNProtocols: ['xmpp-client'] });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    expect(socket.getProtocol()).toBe('TLSv1.2');
    socket.setEncoding('utf8');
    let text = '';
    socket.on('data', (d: string) => (text += d));
    socket.write(header());
    const deadline = Date.now() + 5000;
    while (!text.includes('</stream:features>') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(text).toContain('<channel-binding type="tls-server-end-point"/>');
    expect(text).not.toContain('tls-exporter');
    socket.destroy();
  });
});
