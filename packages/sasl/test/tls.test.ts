// SCRAM-PLUS over real TLS connections on 127.0.0.1: the server takes its bindings from its
// socket through channelBindingsForTls; the client computes its own straight from node's TLS
// API (RFC 9266 exporter, RFC 5929 certificate hash). A binding taken from a different
// connection, as a relaying man-in-the-middle would present, must fail.

import { createHash } from 'node:crypto';
import { connect, createServer, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelBindingAdvertisement,
  channelBindingsForTls,
  decodeSaslPayload,
  encodeSaslPayload,
  SaslServer,
  type ScramHash,
  type SaslStep,
} from '../src/index.js';
import { accountTable, lookupIn, makeCertificate, TestScramClient, TEST_ITERATIONS, type ClientBinding } from './helpers.js';
import { lineReader, serveSasl } from './line-protocol.js';

const lookup = lookupIn(await accountTable({ juliet: 'r0m30myr0m30' }));
const certificate = makeCertificate({ key: 'ec', digest: 'sha384', san: 'DNS:localhost' });
const serverSteps: Array<SaslStep | undefined> = [];
const offers: string[][] = [];

const tlsServer = createServer({ key: certificate.key, cert: certificate.cert }, (socket: TLSSocket) => {
  const channelBindings = channelBindingsForTls({
    protocol: socket.getProtocol(),
    exportKeyingMaterial: socket.exportKeyingMaterial.bind(socket),
    serverCertificate: socket.getX509Certificate()?.raw,
  });
  const sasl = new SaslServer({ decoyIterations: TEST_ITERATIONS });
  const advertised = channelBindingAdvertisement(channelBindings);
  const offeredMechanisms = sasl.offeredMechanisms({ secure: true, channelBindingTypes: advertised, hasClientCert: false });
  offers.push(offeredMechanisms);
  const ctx = { secure: true, channelBindings, offeredMechanisms, advertisedChannelBindingTypes: advertised, domain: 'example.com', lookup };
  void serveSasl({ readLine: lineReader(socket), writeLine: (l) => socket.write(`${l}\n`) }, sasl, ctx)
    .then((step) => serverSteps.push(step))
    .finally(() => socket.end());
});
let port = 0;

beforeAll(async () => {
  await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
  port = (tlsServer.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
});

async function open(maxVersion: 'TLSv1.2' | 'TLSv1.3' = 'TLSv1.3'): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion }, () => resolve(socket));
    socket.once('error', reject);
  });
}

function clientBindings(socket: TLSSocket): { exporter: Buffer; endPoint: Buffer } {
  return {
    exporter: socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0)),
    // The test certificate is signed with ecdsa-with-SHA384, so RFC 5929 says SHA-384.
    endPoint: createHash('sha384').update(socket.getPeerX509Certificate()!.raw).digest(),
  };
}

/** Authenticate over the socket; returns the server's last line. */
async function authenticate(socket: TLSSocket, mechanism: string, client: TestScramClient): Promise<string> {
  const readLine = lineReader(socket);
  socket.write(`${mechanism} ${encodeSaslPayload(client.first())}\n`);
  const challenge = (await readLine()) ?? '';
  if (!challenge.startsWith('challenge ')) return challenge;
  const serverFirst = decodeSaslPayload(challenge.slice('challenge '.length));
  if (!serverFirst.ok || !serverFirst.data) throw new Error('bad challenge');
  socket.write(`${encodeSaslPayload(client.final(serverFirst.data))}\n`);
  const outcome = (await readLine()) ?? '';
  if (outcome.startsWith('success ')) {
    const data = decodeSaslPayload(outcome.slice('success '.length));
    expect(data.ok && client.verifyServerFinal(data.data)).toBe(true);
  }
  socket.end();
  return outcome;
}

const juliet = (hash: ScramHash, binding: ClientBinding) =>
  new TestScramClient({ hash, username: 'juliet', password: 'r0m30myr0m30', binding });

describe('SCRAM-PLUS over TLS 1.3', () => {
  it('offers every -PLUS mechanism when both bindings exist', async () => {
    const socket = await open();
    socket.end();
    await new Promise((resolve) => socket.once('close', resolve));
    expect(offers.at(-1)?.slice(0, 3)).toEqual(['SCRAM-SHA-512-PLUS', 'SCRAM-SHA-256-PLUS', 'SCRAM-SHA-1-PLUS']);
  });

  for (const hash of ['SHA-1', 'SHA-256', 'SHA-512'] as const) {
    it(`SCRAM-${hash}-PLUS with tls-exporter`, async () => {
      const socket = await open();
      const { exporter } = clientBindings(socket);
      const outcome = await authenticate(socket, `SCRAM-${hash}-PLUS`, juliet(hash, { flag: 'p', type: 'tls-exporter', data: exporter }));
      expect(outcome).toMatch(/^success /);
    });
  }

  it('SCRAM-SHA-256-PLUS with tls-server-end-point', async () => {
    const socket = await open();
    const { endPoint } = clientBindings(socket);
    const outcome = await authenticate(socket, 'SCRAM-SHA-256-PLUS', juliet('SHA-256', { flag: 'p', type: 'tls-server-end-point', data: endPoint }));
    expect(outcome).toMatch(/^success /);
  });

  it("the exporter of another connection (a relaying MITM) → not-authorized", async () => {
    const other = await open();
    const { exporter } = clientBindings(other);
    other.end();
    const socket = await open();
    expect(clientBindings(socket).exporter.equals(exporter)).toBe(false);
    const outcome = await authenticate(socket, 'SCRAM-SHA-256-PLUS', juliet('SHA-256', { flag: 'p', type: 'tls-exporter', data: exporter }));
    expect(outcome).toBe('failure not-authorized');
    expect(serverSteps.at(-1)).toMatchObject({ condition: 'not-authorized', text: 'channel-bindings-dont-match' });
  });

  it('a non-PLUS client saying "y" on this connection → not-authorized', async () => {
    const socket = await open();
    const outcome = await authenticate(socket, 'SCRAM-SHA-256', juliet('SHA-256', { flag: 'y' }));
    expect(outcome).toBe('failure not-authorized');
  });
});

describe('SCRAM-PLUS over TLS 1.2', () => {
  it('has no tls-exporter (RFC 9266 §3) but still tls-server-end-point', async () => {
    const refused = await open('TLSv1.2');
    expect(refused.getProtocol()).toBe('TLSv1.2');
    const exporter = clientBindings(refused).exporter;
    const outcome = await authenticate(refused, 'SCRAM-SHA-1-PLUS', juliet('SHA-1', { flag: 'p', type: 'tls-exporter', data: exporter }));
    expect(outcome).toBe('failure not-authorized');
    expect(serverSteps.at(-1)).toMatchObject({ text: 'unsupported-channel-binding-type' });

    const socket = await open('TLSv1.2');
    const { endPoint } = clientBindings(socket);
    const ok = await authenticate(socket, 'SCRAM-SHA-1-PLUS', juliet('SHA-1', { flag: 'p', type: 'tls-server-end-point', data: endPoint }));
    expect(ok).toMatch(/^success /);
  });
});
