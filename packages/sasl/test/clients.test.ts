// Exchanges against independent client implementations:
// - xmpp.js: the SCRAM-SHA-1, PLAIN and ANONYMOUS mechanisms @xmpp/client uses, framed with
//   @xmpp/base64 exactly as @xmpp/sasl frames them;
// - slixmpp (Debian python3-slixmpp): SCRAM-SHA-1/256/512 over stdin/stdout, and -PLUS with
//   tls-server-end-point computed by Python from a real TLS connection.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { decode, encode } from '@xmpp/base64';
import AnonymousMechanism from 'sasl-anonymous';
import PlainMechanism from 'sasl-plain';
import ScramSha1Mechanism from 'sasl-scram-sha-1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  channelBindingAdvertisement,
  channelBindingsForTls,
  decodeSaslPayload,
  encodeSaslPayload,
  SaslServer,
  type SaslContext,
  type SaslStep,
} from '../src/index.js';
import { accountTable, lookupIn, makeCertificate, TEST_ITERATIONS } from './helpers.js';
import { lineReader, serveSasl } from './line-protocol.js';

const table = await accountTable({ juliet: 'r0m30myr0m30', 'nurse,=': 'pässwörd' });
const lookup = lookupIn(table);

function ctxFor(secure: boolean, channelBindings: SaslContext['channelBindings'] = {}, mechanisms?: string[]): SaslContext {
  const server = new SaslServer({ allowAnonymous: true });
  const offered = mechanisms ?? server.offeredMechanisms({ secure, channelBindingTypes: Object.keys(channelBindings), hasClientCert: false });
  return {
    secure,
    channelBindings,
    offeredMechanisms: offered,
    advertisedChannelBindingTypes: channelBindingAdvertisement(channelBindings),
    domain: 'example.com',
    lookup,
  };
}

function payloadOf(text: string): Buffer | undefined {
  const decoded = decodeSaslPayload(text);
  if (!decoded.ok) throw new Error(`bad payload: ${decoded.condition}`);
  return decoded.data;
}

describe('xmpp.js client mechanisms', () => {
  type Mechanism = { name: string; clientFirst: boolean; response(c: Record<string, unknown>): string | Promise<string>; challenge(c: string): unknown };

  /** The loop of @xmpp/sasl's authenticate(), with SaslServer on the other end. */
  async function authenticate(mech: Mechanism, credentials: Record<string, unknown>, ctx: SaslContext): Promise<SaslStep> {
    const server = new SaslServer({ allowAnonymous: true, decoyIterations: TEST_ITERATIONS });
    let step = await server.start(mech.name, payloadOf(encode(await mech.response(credentials))), ctx);
    while (step.kind === 'challenge') {
      await mech.challenge(decode(encodeSaslPayload(step.data)));
      const response = await mech.response(credentials);
      step = await server.step(payloadOf(typeof response === 'string' ? encode(response) : ''));
    }
    return step;
  }

  it('SCRAM-SHA-1 succeeds and the server signature matches what the client expects', async () => {
    const mech = new ScramSha1Mechanism();
    const step = await authenticate(mech, { username: 'juliet', password: 'r0m30myr0m30' }, ctxFor(false));
    expect(step.kind).toBe('success');
    if (step.kind !== 'success') return;
    expect(step.identity.username).toBe('juliet');
    expect(step.data?.toString()).toBe(`v=${Buffer.from(mech._serverSignature!).toString('base64')}`);
  });

  it('SCRAM-SHA-1 with an authzid, an escaped username and a non-ASCII password', async () => {
    const step = await authenticate(
      new ScramSha1Mechanism(),
      { username: 'nurse,=', password: 'p\u00e4ssw\u00f6rd', authzid: 'nurse,=@example.com' },
      ctxFor(false),
    );
    expect(step).toMatchObject({ kind: 'success', identity: { username: 'nurse,=', authzid: 'nurse,=@example.com' } });
  });

  it('SCRAM-SHA-1 with a wrong password fails with not-authorized', async () => {
    const step = await authenticate(new ScramSha1Mechanism(), { username: 'juliet', password: 'tybalt' }, ctxFor(false));
    expect(step).toMatchObject({ kind: 'failure', condition: 'not-authorized' });
  });

  it('PLAIN over TLS succeeds, without TLS is refused', async () => {
    const creds = { username: 'juliet', password: 'r0m30myr0m30' };
    expect(await authenticate(new PlainMechanism(), creds, ctxFor(true))).toMatchObject({ kind: 'success' });
    expect(await authenticate(new PlainMechanism(), creds, ctxFor(false, {}, ['PLAIN']))).toMatchObject({
      kind: 'failure',
      condition: 'encryption-required',
    });
  });

  it('ANONYMOUS with trace data', async () => {
    const step = await authenticate(new AnonymousMechanism(), { trace: 'juliet@capulet.lit' }, ctxFor(true));
    expect(step).toMatchObject({ kind: 'success', identity: { kind: 'anonymous' } });
  });
});

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./fixtures/slixmpp_client.py', import.meta.url));

async function pythonHasSlixmpp(): Promise<boolean> {
  if (!existsSync(PYTHON)) return false;
  return new Promise((resolve) => {
    const child = spawn(PYTHON, ['-c', 'import slixmpp.util.sasl'], { stdio: 'ignore' });
    child.on('exit', (code) => resolve(code === 0));
    child.on('error', () => resolve(false));
  });
}

interface PythonRun {
  result: string;
  serverStep: SaslStep | undefined;
}

/** Run the slixmpp client as a subprocess; over stdio unless `connect` is given. */
async function runSlixmpp(args: string[], serve?: (channel: { readLine: () => Promise<string | undefined>; writeLine: (l: string) => void }) => Promise<SaslStep | undefined>): Promise<PythonRun> {
  const child = spawn(PYTHON, [SCRIPT, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const readLine = lineReader(child.stdout);
  const writeLine = (line: string) => child.stdin.write(`${line}\n`);
  const serverStep = serve ? await serve({ readLine, writeLine }) : undefined;
  let result = '';
  for (let line = await readLine(); line !== undefined; line = await readLine()) {
    if (line.startsWith('RESULT ')) result = line.slice(7);
  }
  child.stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`slixmpp client exited with ${code}: ${stderr}`);
  return { result, serverStep };
}

const hasSlixmpp = await pythonHasSlixmpp();
if (!hasSlixmpp) {
  throw new Error(
    "Python's slixmpp is required for these tests: apt-get install -y python3-slixmpp (it loads in /usr/bin/python3 only)",
  );
}

describe('slixmpp SCRAM over stdin/stdout', () => {
  for (const hash of ['SHA-1', 'SHA-256', 'SHA-512']) {
    it(`SCRAM-${hash} succeeds with mutual authentication`, async () => {
      const server = new SaslServer({ decoyIterations: TEST_ITERATIONS });
      const run = await runSlixmpp(
        ['--mechanism', `SCRAM-${hash}`, '--username', 'juliet', '--password', 'r0m30myr0m30'],
        (channel) => serveSasl(channel, server, ctxFor(false)),
      );
      expect(run.result).toBe('ok');
      expect(run.serverStep).toMatchObject({ kind: 'success', identity: { username: 'juliet', mechanism: `SCRAM-${hash}` } });
    });
  }

  it('SCRAM-SHA-256 with a non-ASCII password, an escaped username and an authzid', async () => {
    const server = new SaslServer({ decoyIterations: TEST_ITERATIONS });
    const run = await runSlixmpp(
      ['--mechanism', 'SCRAM-SHA-256', '--username', 'nurse,=', '--password', 'pässwörd', '--authzid', 'nurse,=@example.com'],
      (channel) => serveSasl(channel, server, ctxFor(false)),
    );
    expect(run.result).toBe('ok');
    expect(run.serverStep).toMatchObject({ kind: 'success', identity: { username: 'nurse,=', authzid: 'nurse,=@example.com' } });
  });

  it('a wrong password ends in not-authorized', async () => {
    const server = new SaslServer({ decoyIterations: TEST_ITERATIONS });
    const run = await runSlixmpp(['--mechanism', 'SCRAM-SHA-1', '--username', 'juliet', '--password', 'x'], (channel) =>
      serveSasl(channel, server, ctxFor(false)),
    );
    expect(run.result).toBe('failure not-authorized');
  });

  it('a client that supports channel binding ("y") is refused when -PLUS was offered', async () => {
    const binding = { 'tls-exporter': Buffer.alloc(32, 3) };
    const args = ['--mechanism', 'SCRAM-SHA-256', '--username', 'juliet', '--password', 'r0m30myr0m30', '--claim-binding-support'];
    const refused = await runSlixmpp(args, (channel) => serveSasl(channel, new SaslServer(), ctxFor(true, binding)));
    expect(refused.result).toBe('failure not-authorized');
    // ... and accepted where the server really offered no -PLUS.
    const accepted = await runSlixmpp(args, (channel) =>
      serveSasl(channel, new SaslServer({ decoyIterations: TEST_ITERATIONS }), ctxFor(true)),
    );
    expect(accepted.result).toBe('ok');
  });
});

describe('slixmpp SCRAM-PLUS over a real TLS connection (tls-server-end-point)', () => {
  const certificate = makeCertificate({ key: 'ec', digest: 'sha256', san: 'DNS:localhost' });
  const results: Array<SaslStep | undefined> = [];
  let port = 0;
  const tlsServer = createServer({ key: certificate.key, cert: certificate.cert }, (socket: TLSSocket) => {
    const bindings = channelBindingsForTls({
      protocol: socket.getProtocol(),
      exportKeyingMaterial: socket.exportKeyingMaterial.bind(socket),
      serverCertificate: socket.getX509Certificate()?.raw,
    });
    const readLine = lineReader(socket);
    void serveSasl({ readLine, writeLine: (l) => socket.write(`${l}\n`) }, new SaslServer({ decoyIterations: TEST_ITERATIONS }), ctxFor(true, bindings))
      .then((step) => results.push(step))
      .finally(() => socket.end());
  });

  beforeAll(async () => {
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    port = (tlsServer.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => tlsServer.close(() => resolve()));
  });

  for (const hash of ['SHA-1', 'SHA-256', 'SHA-512']) {
    it(`SCRAM-${hash}-PLUS succeeds with the binding both ends computed`, async () => {
      const run = await runSlixmpp([
        '--mechanism', `SCRAM-${hash}-PLUS`, '--username', 'juliet', '--password', 'r0m30myr0m30',
        '--connect', `127.0.0.1:${port}`,
      ]);
      expect(run.result).toBe('ok');
    });
  }

  it('a binding from another channel (a relaying MITM) → not-authorized', async () => {
    const run = await runSlixmpp([
      '--mechanism', 'SCRAM-SHA-256-PLUS', '--username', 'juliet', '--password', 'r0m30myr0m30',
      '--connect', `127.0.0.1:${port}`, '--wrong-binding',
    ]);
    expect(run.result).toBe('failure not-authorized');
  });
});
