// Operations per second of the edge limits on the paths every connection or stanza pays.
// Runs against the BUILT package:
//   npx tsc -p packages/edge-limits/tsconfig.build.json && npm run bench -- edge-limits
import { PerKeyLimiter, RateWindow, StanzaRateGuard, TokenBucket, addressKey, systemClock } from '../dist/index.js';

const DURATION_MS = 1000;

function measure(name, unit, setup) {
  const op = setup();
  for (let i = 0; i < 10_000; i++) op(i); // warm up
  let n = 0;
  let i = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  while (elapsed < BigInt(DURATION_MS) * 1_000_000n) {
    for (let k = 0; k < 1000; k++) op(i++);
    n += 1000;
    elapsed = process.hrtime.bigint() - start;
  }
  return { name, value: n / (Number(elapsed) / 1e9), unit };
}

const ipv4 = Array.from({ length: 100_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const ipv6 = Array.from({ length: 4096 }, (_, i) => `2001:db8:${i.toString(16)}:1:aaaa:bbbb:cccc:${(i * 13).toString(16)}`);

export async function run() {
  let sink = 0;
  const rows = [
    measure('TokenBucket.take (system clock)', 'ops/s', () => {
      const bucket = new TokenBucket({ rate: 1e9, burst: 1e9, clock: systemClock });
      return () => (sink += bucket.take(1));
    }),
    measure('StanzaRateGuard.check (system clock)', 'ops/s', () => {
      const guard = new StanzaRateGuard({ rate: 1e9, burst: 1e9 });
      return () => (sink += guard.check() === 'ok' ? 1 : 0);
    }),
    measure('PerKeyLimiter acquire+release, 100k keys, 50k live', 'ops/s', () => {
      // A steady state of 50k live connections: each new one releases the oldest (a ring).
      const limiter = new PerKeyLimiter({ maxPerKey: 8, maxKeys: 200_000 });
      const ring = new Array(50_000);
      return (i) => {
        const slot = i % ring.length;
        ring[slot]?.release();
        const r = limiter.acquire(ipv4[i % ipv4.length]);
        ring[slot] = r.ok ? r.lease : undefined;
      };
    }),
    measure('RateWindow.hit, 10k active keys', 'ops/s', () => {
      const rate = new RateWindow({ limit: 1e9, windowMs: 10_000, maxKeys: 100_000 });
      return (i) => (sink += rate.hit(ipv4[i % 10_000]).allowed ? 1 : 0);
    }),
    measure('RateWindow.hit, 100k keys at maxKeys (refusing new)', 'ops/s', () => {
      const rate = new RateWindow({ limit: 1e9, windowMs: 60_000, maxKeys: 50_000 });
      return (i) => (sink += rate.hit(ipv4[i % ipv4.length]).allowed ? 1 : 0);
    }),
    measure('addressKey IPv4', 'ops/s', () => (i) => (sink += addressKey(ipv4[i % ipv4.length]).length)),
    measure('addressKey IPv6 → /64', 'ops/s', () => (i) => (sink += addressKey(ipv6[i % ipv6.length]).length)),
  ];
  if (sink === 0) throw new Error('nothing measured');
  for (const r of rows) console.log(`${r.name.padEnd(56)} ${Math.round(r.value).toLocaleString('en-US').padStart(14)} ${r.unit}`);
  return rows;
}
