// The service hub, hub → service over one TLS 1.3 channel on 127.0.0.1, against the BUILT
// packages (`npm run build` first). Both ends run in this process, so the figures include the
// cost of the service side too; certificates come from a throwaway CA (@ambrosia/pki).
//
// - acked_per_s_<size>: route() calls kept 2 000 (64 KiB: 256) in flight, counted when the service's ack
//   resolves them (stanza key assignment, rendezvous choice, framing, TLS, ack).
// - latency_p50/p99_<size>_ms: one stanza at a time, route() to its ack.
// - latency_p50/p99_during_5MB_ms: 200 B stanzas one at a time on other sessions while a 5 MB
//   stanza is in flight (chunk interleaving, docs/service-protocol.md §7.3).
//
// AMBROSIA_BENCH_SCALE multiplies the counts (default 1).
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { createCA, issueCertificate, tlsOptionsForChannelClient } from '@ambrosia/pki';
import { createMemoryRegistry } from '@ambrosia/registry';
import { ChannelEndpoint } from '@ambrosia/service-protocol';
import { serialize, xml } from '@ambrosia/xml';
import { ServiceHub } from '../dist/services/index.js';

const SCALE = Number(process.env.AMBROSIA_BENCH_SCALE ?? 1);
const CASES = [
  { label: '200B', size: 200, throughputCount: 60_000, latencyCount: 2_000 },
  { label: '2KiB', size: 2048, throughputCount: 30_000, latencyCount: 2_000 },
  { label: '64KiB', size: 65_536, throughputCount: 1_500, latencyCount: 300 },
];
/** Kept below the channel's send-queue hard limit (64 MiB, §11.4), where route() would refuse. */
const inFlightFor = (size) => Math.min(2_000, Math.floor((16 * 1024 * 1024) / size));

function stanzaOf(size, n) {
  const skeleton = xml('message', { xmlns: 'jabber:client', from: `user${n % 64}@example.org/r`, to: 'friend@example.org', id: `m${n}` }, xml('body', {}, ''));
  const pad = Math.max(1, size - Buffer.byteLength(serialize(skeleton)));
  const element = xml('message', { xmlns: 'jabber:client', from: `user${n % 64}@example.org/r`, to: 'friend@example.org', id: `m${n}` }, xml('body', {}, 'x'.repeat(pad)));
  return { element, xml: serialize(element), domain: 'example.org', type: 'client', via: 'c2s', session: `c2s-${n % 64}`, origin: `user${n % 64}@example.org/r`, routingKey: `user${n % 64}@example.org` };
}

async function setUp() {
  const ca = await createCA();
  const gateway = await issueCertificate(ca, { role: 'gateway', commonName: 'bench-gw', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const service = await issueCertificate(ca, { role: 'service', commonName: 'bench-im', permissions: [{ domain: 'example.org', type: 'client' }] });
  const registry = createMemoryRegistry({ heartbeatIntervalMs: 0 });
  await registry.ready();
  await registry.gateways.announce({ id: 'bench-gw', addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
  const hub = new ServiceHub({ gatewayId: 'bench-gw', registry, host: '127.0.0.1', port: 0, tls: { cert: gateway.certPem, key: gateway.keyPem, ca: ca.certPem } });
  const { port } = await hub.listen();
  const endpoint = new ChannelEndpoint({ role: 'service', instance: 'bench-im', registrations: [{ domain: 'example.org', type: 'client' }] });
  const options = tlsOptionsForChannelClient({ caCertPem: ca.certPem, certPem: service.certPem, keyPem: service.keyPem });
  const socket = await new Promise((resolve, reject) => {
    const s = tls.connect({ ...options, host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
  socket.setNoDelay(true);
  await endpoint.attach(socket);
  return {
    hub,
    close: async () => {
      await endpoint.close();
      await hub.close();
      await registry.close();
    },
  };
}

async function throughput(hub, size, count) {
  const stanzas = Array.from({ length: 256 }, (_, n) => stanzaOf(size, n));
  const inFlight = inFlightFor(size);
  let next = 0;
  let done = 0;
  const started = performance.now();
  await new Promise((resolve, reject) => {
    const launch = () => {
      while (next < count && next - done < inFlight) {
        hub.route(stanzas[next++ % stanzas.length]).then(() => {
          done++;
          if (done === count) resolve();
          else launch();
        }, reject);
      }
    };
    launch();
  });
  return count / ((performance.now() - started) / 1000);
}

async function latencies(hub, size, count, keepGoing = () => true) {
  const stanzas = Array.from({ length: 64 }, (_, n) => stanzaOf(size, n));
  const samples = [];
  for (let n = 0; n < count && keepGoing(); n++) {
    const started = performance.now();
    await hub.route(stanzas[n % stanzas.length]);
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  const at = (q) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  return { p50: at(0.5), p99: at(0.99), count: samples.length };
}

export async function run() {
  const { hub, close } = await setUp();
  const figures = {};
  try {
    await throughput(hub, 200, 5_000); // warm-up
    for (const { label, size, throughputCount, latencyCount } of CASES) {
      figures[`acked_per_s_${label}`] = { value: Math.round(await throughput(hub, size, Math.round(throughputCount * SCALE))), unit: 'stanzas/s' };
      const { p50, p99 } = await latencies(hub, size, Math.round(latencyCount * SCALE));
      figures[`latency_p50_${label}_ms`] = { value: p50, unit: 'ms' };
      figures[`latency_p99_${label}_ms`] = { value: p99, unit: 'ms' };
    }
    const big = xml('message', { xmlns: 'jabber:client', from: 'big@example.org/r', to: 'friend@example.org', id: 'big' }, xml('body', {}, 'x'.repeat(5 * 1024 * 1024)));
    let bigDone = false;
    const bigStarted = performance.now();
    const bigAcked = hub
      .route({ element: big, xml: serialize(big), domain: 'example.org', type: 'client', via: 'c2s', session: 'c2s-big', origin: 'big@example.org/r', routingKey: 'big@example.org' })
      .then(() => {
        bigDone = true;
        return performance.now() - bigStarted;
      });
    const during = await latencies(hub, 200, 100_000, () => !bigDone);
    figures.latency_p50_during_5MB_ms = { value: during.p50, unit: 'ms' };
    figures.latency_p99_during_5MB_ms = { value: during.p99, unit: 'ms' };
    figures.small_acked_during_5MB = { value: during.count, unit: 'stanzas' };
    figures.acked_5MB_ms = { value: await bigAcked, unit: 'ms' };
  } finally {
    await close();
  }
  const result = { name: 'gateway.services', figures };
  for (const [key, { value, unit }] of Object.entries(figures)) console.log(`${key.padEnd(32)} ${Number(value.toPrecision(4))} ${unit}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
