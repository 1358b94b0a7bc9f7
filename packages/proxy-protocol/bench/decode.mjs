// PROXY header decoding throughput (headers/s) for the header shapes HAProxy sends, plus the
// trusted-proxy check every connection pays. Runs against the BUILT package:
//   npx tsc -p packages/proxy-protocol/tsconfig.build.json && npm run bench -- proxy-protocol
import { ProxyHeaderDecoder, TrustedProxies, encodeV1, encodeV2 } from '../dist/index.js';

const DURATION_MS = 1000;
const DISTINCT = 256; // distinct inputs per workload, so nothing is memoised by the engine
const APP = Buffer.from("<?xml version='1.0'?><stream:stream to='example.com' version='1.0'>");

const v4 = (i) => `198.51.${(i >> 8) & 255}.${i & 255}`;
const v6 = (i) => `2001:db8:${i.toString(16)}::${(i * 7).toString(16)}`;

const WORKLOADS = {
  'v1 TCP4': (i) => [Buffer.concat([encodeV1({ source: { address: v4(i), port: 1024 + i }, destination: { address: '192.0.2.1', port: 5222 } }), APP])],
  'v1 TCP6': (i) => [Buffer.concat([encodeV1({ source: { address: v6(i), port: 1024 + i }, destination: { address: '2001:db8::1', port: 5222 } }), APP])],
  'v2 IPv4': (i) => [Buffer.concat([encodeV2({ source: { address: v4(i), port: 1024 + i }, destination: { address: '192.0.2.1', port: 5222 } }), APP])],
  'v2 IPv6': (i) => [Buffer.concat([encodeV2({ source: { address: v6(i), port: 1024 + i }, destination: { address: '2001:db8::1', port: 5222 } }), APP])],
  'v2 IPv6 + authority, SSL, unique id, CRC32c': (i) => [
    Buffer.concat([
      encodeV2({
        source: { address: v6(i), port: 1024 + i },
        destination: { address: '2001:db8::1', port: 5223 },
        tlvs: { authority: 'chat.example.com', uniqueId: Buffer.from(`conn-${i}`), ssl: { tls: true, version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', signatureAlgorithm: 'SHA256', keyAlgorithm: 'EC256' }, crc32c: true },
      }),
      APP,
    ]),
  ],
  'v2 IPv4 split in 3 reads': (i) => {
    const b = Buffer.concat([encodeV2({ source: { address: v4(i), port: 1024 + i }, destination: { address: '192.0.2.1', port: 5222 } }), APP]);
    return [b.subarray(0, 7), b.subarray(7, 20), b.subarray(20)];
  },
};

function measure(make) {
  const inputs = Array.from({ length: DISTINCT }, (_, i) => make(i));
  let checksum = 0;
  const decodeAll = () => {
    for (const chunks of inputs) {
      const decoder = new ProxyHeaderDecoder();
      let step;
      for (const c of chunks) {
        step = decoder.push(c);
        if (step.status !== 'incomplete') break;
      }
      checksum += step.header.source.port;
    }
  };
  decodeAll(); // warm up
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(DURATION_MS) * 1_000_000n) {
    decodeAll();
    n += inputs.length;
    elapsed = process.hrtime.bigint() - start;
  }
  if (checksum === 0) throw new Error('nothing decoded');
  return n / (Number(elapsed) / 1e9);
}

function measureTrusted() {
  const trusted = new TrustedProxies(['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '2001:db8:ffff::/48', '::1']);
  const peers = Array.from({ length: DISTINCT }, (_, i) => (i % 3 === 0 ? `::ffff:10.0.${i & 255}.1` : i % 3 === 1 ? v4(i) : v6(i)));
  let hits = 0;
  let n = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(DURATION_MS) * 1_000_000n) {
    for (const p of peers) hits += trusted.trusts(p) ? 1 : 0;
    n += peers.length;
    elapsed = process.hrtime.bigint() - start;
  }
  if (hits === 0) throw new Error('nothing trusted');
  return n / (Number(elapsed) / 1e9);
}

export async function run() {
  const rows = Object.entries(WORKLOADS).map(([name, make]) => ({ name: `decode ${name}`, value: measure(make), unit: 'headers/s' }));
  rows.push({ name: 'TrustedProxies.trusts (5 blocks, mixed IPv4/mapped/IPv6 peers)', value: measureTrusted(), unit: 'checks/s' });
  for (const r of rows) console.log(`${r.name.padEnd(64)} ${Math.round(r.value).toLocaleString('en-US').padStart(12)} ${r.unit}`);
  return rows;
}
