// Service-channel throughput and latency over real TLS 1.3 with mutual authentication on
// 127.0.0.1, against the BUILT package (run `npx tsc -p packages/service-protocol/tsconfig.build.json`
// first). Gateway → service, one channel, both ends in this process (so the figures include the
// cost of both sides), certificates from a throwaway CA made with the openssl CLI.
//
// - service-protocol.acked-per-second.<size>: stanzas sent as fast as the channel's backpressure
//   allows, counted when the service's ack resolves the gateway's send().
// - service-protocol.latency-p50/p99.<size>: one stanza at a time, from send() to its ack (a full
//   round trip: frame, TLS, reassemble, decode, deliver, ACK back).
//
// AMBROSIA_BENCH_SCALE multiplies the message counts (default 1).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { ALPN_PROTOCOL, ChannelAcceptor, ChannelEndpoint } from '../dist/index.js';

const SCALE = Number(process.env.AMBROSIA_BENCH_SCALE ?? 1);
const CASES = [
  { label: '200B', size: 200, throughputCount: 100_000, latencyCount: 2_000 },
  { label: '2KiB', size: 2048, throughputCount: 40_000, latencyCount: 2_000 },
  { label: '64KiB', size: 65_536, throughputCount: 2_000, latencyCount: 500 },
];

function makeCertificates() {
  const dir = mkdtempSync(join(tmpdir(), 'ambrosia-channel-bench-'));
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=bench-ca', '-days', '1',
    '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const issue = (name, sans) => {
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    writeFileSync(join(dir, `${name}.ext`), `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${sans}\n`);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`]);
    return { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
  };
  const certificates = {
    ca: readFileSync(join(dir, 'ca.crt'), 'utf8'),
    gateway: issue('gateway', 'DNS:localhost,IP:127.0.0.1,URI:ambrosia:role:gateway'),
    service: issue('service', 'URI:ambrosia:role:service,URI:ambrosia:register:example.org/client'),
  };
  rmSync(dir, { recursive: true, force: true });
  return certificates;
}

async function openChannel() {
  const certificates = makeCertificates();
  let gatewayChannel;
  const acceptor = new ChannelAcceptor({ gateway: 'bench-gw', onChannel: (channel) => (gatewayChannel = channel) });
  const server = tls.createServer(
    { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ca: [certificates.ca], ...certificates.gateway, requestCert: true, rejectUnauthorized: true, ALPNProtocols: [ALPN_PROTOCOL] },
    (socket) => {
      socket.setNoDelay(true);
      if (!socket.authorized || socket.alpnProtocol !== ALPN_PROTOCOL) return socket.destroy();
      // The certificate's URIs (checked by the gateway through packages/pki) grant this.
      acceptor.handle(socket, { role: 'service', permissions: [{ domain: 'example.org', type: 'client' }] });
    },
  );
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const socket = await new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port: server.address().port, servername: 'localhost', minVersion: 'TLSv1.3', ca: [certificates.ca], ...certificates.service, ALPNProtocols: [ALPN_PROTOCOL] },
      () => resolve(s),
    );
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  const service = new ChannelEndpoint({ role: 'service', instance: 'bench', registrations: [{ domain: 'example.org', type: 'client' }] });
  await service.attach(socket);
  return {
    gateway: gatewayChannel,
    service,
    async close() {
      await service.close();
      await acceptor.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function stanza(size, n) {
  const head = `<message to='romeo@example.org' id='b${n}' type='chat'><body>`;
  const tail = '</body></message>';
  const xml = Buffer.from(head + 'x'.repeat(Math.max(0, size - head.length - tail.length)) + tail);
  return { kind: 'stanza', context: { via: 'c2s', gateway: 'bench-gw', session: `s${n % 64}`, origin: 'juliet@example.org/balcony', key: '' }, xml };
}

async function throughput(gateway, size, count) {
  const message = stanza(size, 0);
  let acked = 0;
  let resolveAll;
  const all = new Promise((resolve) => (resolveAll = resolve));
  const onAck = () => {
    if (++acked === count) resolveAll();
  };
  const started = performance.now();
  for (let n = 0; n < count; n++) {
    message.context.session = `s${n % 64}`;
    gateway.send(message).then(onAck, (error) => {
      throw error;
    });
    if (!gateway.writable) await gateway.waitForCapacity();
    else if (n % 256 === 255) await new Promise((resolve) => setImmediate(resolve));
  }
  await all;
  return count / ((performance.now() - started) / 1000);
}

async function latency(gateway, size, count) {
  const message = stanza(size, 1);
  const samples = new Float64Array(count);
  for (let n = 0; n < count; n++) {
    const started = performance.now();
    await gateway.send(message);
    samples[n] = performance.now() - started;
  }
  samples.sort();
  const at = (q) => samples[Math.min(count - 1, Math.floor(q * count))];
  return { p50: at(0.5), p99: at(0.99) };
}

export async function run() {
  const channel = await openChannel();
  const received = { count: 0 };
  channel.service.on('message', () => received.count++);
  const results = [];
  let sent = 0;
  try {
    // Warm-up: JIT and TLS buffers.
    await throughput(channel.gateway, 2048, 5_000);
    sent += 5_000;
    for (const { label, size, throughputCount, latencyCount } of CASES) {
      const throughputMessages = Math.max(100, Math.round(throughputCount * SCALE));
      const latencyMessages = Math.max(50, Math.round(latencyCount * SCALE));
      const rate = await throughput(channel.gateway, size, throughputMessages);
      const { p50, p99 } = await latency(channel.gateway, size, latencyMessages);
      sent += throughputMessages + latencyMessages;
      // Every ack stands for a stanza the service application was handed (auto-ack mode).
      if (received.count !== sent) throw new Error(`service received ${received.count} stanzas, ${sent} were acked`);
      results.push(
        { name: `service-protocol.acked-per-second.${label}`, value: Math.round(rate), unit: 'msg/s' },
        { name: `service-protocol.latency-p50.${label}`, value: Number(p50.toFixed(3)), unit: 'ms' },
        { name: `service-protocol.latency-p99.${label}`, value: Number(p99.toFixed(3)), unit: 'ms' },
      );
    }
  } finally {
    await channel.close();
  }
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await run();
  for (const { name, value, unit } of results) console.log(`${name.padEnd(46)} ${String(value).padStart(12)} ${unit}`);
}
