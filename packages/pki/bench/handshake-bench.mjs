// Service-channel TLS 1.3 mutual handshakes, RSA-2048 vs ECDSA P-256, against the BUILT
// package (run `npx tsc -p packages/pki/tsconfig.build.json` first). Three views:
//
// - pki.tls13-mutual-handshakes.*: client and server in this one thread on 127.0.0.1, so the
//   rate covers BOTH ends (each signs a CertificateVerify, verifies the other's chain, runs
//   X25519) plus Node's per-connection overhead. Wall-clock based: sensitive to a busy machine.
// - pki.tls13-mutual-cpu-per-handshake.*: the same run as process CPU time per handshake, which
//   other load on the machine does not inflate.
// - pki.tls13-server-cpu-per-handshake.*: clients in a child process, this process only
//   serves; its CPU time per accepted handshake is what a gateway pays, whatever clients cost.
// - pki.tls13-c2s-server-cpu-per-handshake.*: the same for an XMPP domain certificate without
//   client certificates, as on the client-facing listeners (selfSignedCertificate).
//
// Variants alternate over several rounds and medians are reported. AMBROSIA_BENCH_SECONDS sets
// the measuring time per round (default 1.5).
import { fork } from 'node:child_process';
import { constants, generateKeyPair, generateKeyPairSync, sign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect, createSecureContext, createServer } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createCA, issueCertificate, selfSignedCertificate, tlsOptionsForChannelClient, tlsOptionsForChannelServer } from '../dist/index.js';

const SECONDS_PER_ROUND = Number(process.env.AMBROSIA_BENCH_SECONDS ?? 1.5);
const ROUNDS = 3;
const WARM_UP_MS = 300;
/** Handshakes in flight: enough to keep a thread busy while the kernel moves packets. */
const CONCURRENCY = 8;
const KEYGEN_SAMPLES = 8;
const CLIENT_PROCESS_FLAG = '--ambrosia-pki-bench-clients';

const VARIANTS = [
  { keyType: 'rsa', label: 'rsa2048' },
  { keyType: 'ec', label: 'ecdsa-p256' },
];

async function material(keyType) {
  const ca = await createCA({ keyType, commonName: `bench ${keyType} CA` });
  const gateway = await issueCertificate(ca, { role: 'gateway', commonName: 'bench-gateway', ipAddresses: ['127.0.0.1'], keyType });
  const service = await issueCertificate(ca, {
    role: 'service',
    commonName: 'bench-service',
    permissions: [{ domain: 'example.org', type: 'client' }],
    keyType,
  });
  const clientCredentials = { caCertPem: ca.certPem, ...service };
  const domain = await selfSignedCertificate({ domains: ['localhost'], keyType });
  return {
    server: tlsOptionsForChannelServer({ caCertPem: ca.certPem, ...gateway }),
    client: tlsOptionsForChannelClient(clientCredentials),
    clientCredentials,
    domain,
    chainBytes: Buffer.byteLength(gateway.certPem) + Buffer.byteLength(service.certPem),
  };
}

/**
 * One handshake, complete only when the server's first byte arrives: in TLS 1.3 the client is
 * "connected" before the server has verified the client's certificate, and closing right then
 * would abort the server's half of the work being measured.
 */
function handshakeOnce(port, clientOptions) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...clientOptions }, () => {
      if (!socket.authorized || socket.getProtocol() !== 'TLSv1.3') {
        socket.destroy();
        reject(new Error(`handshake not authorised: ${socket.authorizationError ?? socket.getProtocol()}`));
      }
    });
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the server accepted')));
  });
}

/** Runs CONCURRENCY handshake loops until stopAt; counts those finished after countFrom. */
async function handshakeLoops(port, clientOptions, countFrom, stopAt) {
  let completed = 0;
  const loop = async () => {
    while (performance.now() < stopAt) {
      await handshakeOnce(port, clientOptions);
      if (performance.now() >= countFrom) completed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return completed;
}

async function listen(serverOptions, onAccepted = () => {}) {
  const server = createServer(serverOptions, (socket) => {
    if (serverOptions.requestCert && !socket.authorized) throw new Error('server accepted an unauthorised peer');
    onAccepted();
    socket.on('error', () => {}); // the client destroys as soon as it hears from us
    socket.end('k');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

const cpuMicros = (usage) => usage.user + usage.system;

async function measureBothEnds(options) {
  const server = await listen(options.server);
  const countFrom = performance.now() + WARM_UP_MS;
  const stopAt = countFrom + SECONDS_PER_ROUND * 1000;
  let cpuBefore;
  setTimeout(() => (cpuBefore = process.cpuUsage()), WARM_UP_MS);
  const completed = await handshakeLoops(server.address().port, options.client, countFrom, stopAt);
  const cpu = cpuMicros(process.cpuUsage(cpuBefore));
  const elapsedSeconds = (performance.now() - countFrom) / 1000;
  await new Promise((resolve) => server.close(resolve));
  return { rate: completed / elapsedSeconds, cpuPerHandshake: cpu / completed };
}

/** `clientSpec` goes to the child: channel credentials, or the certificate a c2s client trusts. */
async function measureServerSide(serverOptions, clientSpec) {
  let accepted = 0;
  const server = await listen(serverOptions, () => accepted++);
  // execArgv: [] so a runner's own flags (`node -e …`) are not handed to the child.
  const clients = fork(fileURLToPath(import.meta.url), [CLIENT_PROCESS_FLAG], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const finished = new Promise((resolve, reject) => {
    clients.once('message', resolve);
    clients.once('error', reject);
    clients.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`client process exited with ${code}`))));
  });
  clients.send({ port: server.address().port, ...clientSpec, seconds: SECONDS_PER_ROUND + (2 * WARM_UP_MS) / 1000 });
  await new Promise((resolve) => setTimeout(resolve, WARM_UP_MS * 2)); // includes the child's start-up
  const acceptedBefore = accepted;
  const cpuBefore = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, SECONDS_PER_ROUND * 1000));
  const cpu = cpuMicros(process.cpuUsage(cpuBefore));
  const handshakes = accepted - acceptedBefore;
  await finished;
  await new Promise((resolve) => server.close(resolve));
  if (handshakes === 0) throw new Error('no handshakes reached the server');
  return cpu / handshakes;
}

function clientProcess() {
  process.once('message', async ({ port, credentials, trust, seconds }) => {
    const options = credentials
      ? tlsOptionsForChannelClient(credentials)
      : { secureContext: createSecureContext({ ca: [trust], minVersion: 'TLSv1.3' }), servername: 'localhost' };
    const now = performance.now();
    await handshakeLoops(port, options, now, now + seconds * 1000);
    process.send('done', () => process.disconnect());
  });
}

/**
 * The private-key operation each side performs once per handshake (TLS 1.3 CertificateVerify:
 * RSA-PSS for RSA keys, RFC 8446 §4.4.3), alone: where the two key types differ most.
 */
function measureSignatures(keyType) {
  const { privateKey } = generateKeyPairSync(keyType, keyType === 'ec' ? { namedCurve: 'prime256v1' } : { modulusLength: 2048 });
  const key = keyType === 'rsa' ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : privateKey;
  const data = Buffer.alloc(130, 0x20);
  let count = 0;
  const started = performance.now();
  const stopAt = started + 500;
  while (performance.now() < stopAt) {
    for (let i = 0; i < 20; i++) sign('sha256', data, key);
    count += 20;
  }
  return count / ((performance.now() - started) / 1000);
}

async function measureKeyGeneration(keyType) {
  const started = performance.now();
  for (let i = 0; i < KEYGEN_SAMPLES; i++) {
    await new Promise((resolve, reject) =>
      generateKeyPair(keyType, keyType === 'ec' ? { namedCurve: 'prime256v1' } : { modulusLength: 2048 }, (error) => (error ? reject(error) : resolve())),
    );
  }
  return (performance.now() - started) / KEYGEN_SAMPLES;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function run() {
  const prepared = [];
  for (const variant of VARIANTS) prepared.push({ ...variant, options: await material(variant.keyType), bothEnds: [], serverSide: [], c2s: [] });
  for (let round = 0; round < ROUNDS; round++) {
    for (const v of prepared) v.bothEnds.push(await measureBothEnds(v.options));
    for (const v of prepared) v.serverSide.push(await measureServerSide(v.options.server, { credentials: v.options.clientCredentials }));
    for (const v of prepared) {
      const c2sServer = { cert: v.options.domain.certPem, key: v.options.domain.keyPem, minVersion: 'TLSv1.3' };
      v.c2s.push(await measureServerSide(c2sServer, { trust: v.options.domain.certPem }));
    }
  }
  const results = [];
  const add = (name, value, unit) => results.push({ name, value, unit });
  for (const v of prepared) add(`pki.tls13-mutual-handshakes.${v.label}`, Math.round(median(v.bothEnds.map((m) => m.rate))), 'handshakes/s');
  for (const v of prepared) add(`pki.tls13-mutual-cpu-per-handshake.${v.label}`, Math.round(median(v.bothEnds.map((m) => m.cpuPerHandshake))), 'µs');
  for (const v of prepared) add(`pki.tls13-server-cpu-per-handshake.${v.label}`, Math.round(median(v.serverSide)), 'µs');
  for (const v of prepared) add(`pki.tls13-c2s-server-cpu-per-handshake.${v.label}`, Math.round(median(v.c2s)), 'µs');
  for (const v of prepared) add(`pki.certificate-verify-signatures.${v.label}`, Math.round(measureSignatures(v.keyType)), 'signatures/s');
  for (const v of prepared) add(`pki.keygen.${v.label}`, Number((await measureKeyGeneration(v.keyType)).toFixed(2)), 'ms/key');
  for (const v of prepared) add(`pki.channel-certificates-pem.${v.label}`, v.options.chainBytes, 'bytes');
  return results;
}

if (process.argv.includes(CLIENT_PROCESS_FLAG)) {
  clientProcess();
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const { name, value, unit } of await run()) console.log(`${name.padEnd(48)} ${String(value).padStart(10)} ${unit}`);
}
