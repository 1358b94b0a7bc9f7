// Parse throughput of @ambrosia/jid on the kinds of addresses the routing hot path sees.
// Run with the others by `npm run bench -- jid` (after a build), or alone:
//   node -e "import('./packages/jid/bench/parse.mjs').then(m => m.run()).then(console.log)"
import { parseJID } from '../dist/index.js';

const DURATION_MS = 1500;
const DISTINCT = 1000; // distinct inputs per workload, so no result can be memoised by the engine

const WORKLOADS = {
  'canonical ASCII full JID (user42@example.com/phone)': (i) => `user${i}@example.com/phone${i % 7}`,
  'ASCII bare JID, mixed case (User42@Example.COM)': (i) => `User${i}@Example.COM`,
  'ASCII domain JID (conference.example.org)': (i) => `room${i}.conference.example.org`,
  'Latin non-ASCII (jürgen42@münchen.example/Küche)': (i) => `jürgen${i}@münchen.example/Küche${i % 7}`,
  'Cyrillic IDN (пользователь42@пример.рф/ресурс)': (i) => `пользователь${i}@пример.рф/ресурс`,
  'A-label domain (user42@xn--mnchen-3ya.example)': (i) => `user${i}@xn--mnchen-3ya.example`,
};

function measure(make) {
  const inputs = Array.from({ length: DISTINCT }, (_, i) => make(i));
  for (const s of inputs) parseJID(s); // warm up
  let parses = 0;
  let checksum = 0;
  const start = process.hrtime.bigint();
  let elapsedNs = 0n;
  while (elapsedNs < BigInt(DURATION_MS) * 1_000_000n) {
    for (const s of inputs) checksum += parseJID(s).domain.length;
    parses += inputs.length;
    elapsedNs = process.hrtime.bigint() - start;
  }
  if (checksum === 0) throw new Error('nothing parsed');
  return parses / (Number(elapsedNs) / 1e9);
}

export async function run() {
  return Object.entries(WORKLOADS).map(([name, make]) => ({ name: `parseJID: ${name}`, value: measure(make), unit: 'parses/s' }));
}
