// End-to-end through DomainService over real TLS 1.3 (mutual authentication) on 127.0.0.1,
// against the BUILT packages (`npm run build`, or `npx tsc -p packages/service-sdk/tsconfig.build.json`).
//
// One round trip: the service route()s a stanza → a gateway-role ChannelAcceptor acks it and
// sends it straight back to the service (as a client's stanza, with a key) → the SDK runs it
// through its lanes, the handler sees it, the SDK acks it. Both ends run in this process, so the
// figures include the cost of both sides (and of the TLS on both).
//
// - acked_per_s_<size>: round trips completed per second with up to 2 048 (at most 16 MiB) in flight.
// - latency_p50/p99_<size>_ms: one round trip at a time, route() call to the handler seeing it.
//
// AMBROSIA_BENCH_SCALE multiplies the counts (default 1).
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { authorisedChannelPeer, createCA, issueCertificate, tlsOptionsForChannelServer } from '@ambrosia/pki';
import { ChannelAcceptor } from '@ambrosia/service-protocol';
import { xml } from '@ambrosia/xml';
import { DomainService } from '../dist/index.js';

const SCALE = Number(process.env.AMBROSIA_BENCH_SCALE ?? 1);
// Round trips in flight: 2 048, or 16 MiB of stanzas, whichever is fewer.
const inFlight = (size) => Math.min(2048, Math.floor((16 * 1024 * 1024) / size));
const CASES = [
  { label: '200B', size: 200, throughputCount: 40_000, latencyCount: 2_000 },
  { label: '2KiB', size: 2048, throughputCount: 20_000, latencyCount: 2_000 },
  { label: '64KiB', size: 65_536, throughputCount: 2_000, latencyCount: 500 },
];

async function setUp() {
  const ca = await createCA({ commonName: 'bench-ca', validityDays: 2 });
  const gatewayCert = await issueCertificate(ca, { role: 'gateway', commonName: 'bench-gw', ipAddresses: ['127.0.0.1'], validityDays: 1 });
  const serviceCert = await issueCertificate(ca, { role: 'service', commonName: 'bench-im', permissions: [{ domain: 'example.org', type: 'client' }], validityDays: 1 });
  let echoed = 0;
  const acceptor = new ChannelAcceptor({
    gateway: 'bench-gw',
    onChannel: (channel) => {
      channel.on('message', (inbound) => {
        if (inbound.message.kind !== 'stanza') return;
        const n = echoed++;
        channel.send({ kind: 'stanza', context: { via: 'c2s', gateway: 'bench-gw', session: `s${n % 64}`, origin: 'juliet@example.org/balcony', key: `bench-gw:${n}` }, xml: inbound.message.xml }).catch(() => {});
      });
    },
  });
  const sockets = new Set();
  const server = tls.createServer(tlsOptionsForChannelServer({ caCertPem: ca.certPem, certPem: gatewayCert.certPem, keyPem: gatewayCert.keyPem }), (socket) => {
    socket.setNoDelay(true);
    const peer = authorisedChannelPeer(socket);
    if (peer === undefined) return socket.destroy();
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    acceptor.handle(socket, peer);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const service = new DomainService({
    instance: 'bench-im',
    registrations: [{ domain: 'example.org', type: 'client' }],
    tls: { cert: serviceCert.certPem, key: serviceCert.keyPem, ca: ca.certPem },
    gateways: [{ id: 'bench-gw', host: '127.0.0.1', port: server.address().port }],
  });
  const waiting = new Map();
  service.onStanza((stanza) => {
    const id = stanza.element.attrs.id;
    const done = waiting.get(id);
    if (done !== undefined) {
      waiting.delete(id);
      done();
    }
  });
  await service.start();
  return {
    service,
    waiting,
    async close() {
      await service.stop();
      await acceptor.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

let sequence = 0;
function stanza(size) {
  const id = `b${sequence++}`;
  const head = 64 + id.length;
  return { id, element: xml('message', { from: 'example.org', to: `user${sequence % 64}@example.org`, id }, xml('body', {}, 'x'.repeat(Math.max(1, size - head)))) };
}

function roundTrip({ service, waiting }, size) {
  const { id, element } = stanza(size);
  const echoed = new Promise((resolve) => waiting.set(id, resolve));
  return service.route(element).then(() => echoed);
}

async function throughput(bench, size, count) {
  const started = performance.now();
  let issued = 0;
  let completed = 0;
  await new Promise((resolve, reject) => {
    const next = () => {
      while (issued < count && issued - completed < inFlight(size)) {
        issued++;
        roundTrip(bench, size).then(() => {
          completed++;
          if (completed === count) resolve();
          else next();
        }, reject);
      }
    };
    next();
  });
  return count / ((performance.now() - started) / 1000);
}

async function latencies(bench, size, count) {
  const samples = [];
  for (let n = 0; n < count; n++) {
    const started = performance.now();
    await roundTrip(bench, size);
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return { p50: at(0.5), p99: at(0.99) };
}

export async function run() {
  const bench = await setUp();
  const figures = {};
  try {
    await throughput(bench, 2048, 5_000); // warm-up: JIT, TLS buffers
    for (const { label, size, throughputCount, latencyCount } of CASES) {
      figures[`acked_per_s_${label}`] = { value: Math.round(await throughput(bench, size, Math.max(100, Math.round(throughputCount * SCALE)))), unit: 'round trips/s' };
      const { p50, p99 } = await latencies(bench, size, Math.max(50, Math.round(latencyCount * SCALE)));
      figures[`latency_p50_${label}_ms`] = { value: Number(p50.toFixed(3)), unit: 'ms' };
      figures[`latency_p99_${label}_ms`] = { value: Number(p99.toFixed(3)), unit: 'ms' };
    }
    const stats = bench.service.stats();
    if (stats.handlerErrors !== 0 || stats.duplicatesSkipped !== 0) throw new Error(`unexpected: ${JSON.stringify(stats)}`);
  } finally {
    await bench.close();
  }
  for (const [key, { value, unit }] of Object.entries(figures)) console.log(`${key.padEnd(28)} ${String(value).padStart(12)} ${unit}`);
  return { name: 'service-sdk.round-trip', figures };
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
