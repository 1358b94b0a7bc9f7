// What the connection layer costs: parsing a URL (done once per adapter start, so this only shows
// it is negligible) and connecting to a real redis-server until the client is ready.
// Run: npm run build && node packages/redis-connection/bench/url-bench.mjs
import { createRedisConnection, parseRedisUrl, waitUntilReady } from '../dist/index.js';
import { startRedis, stopAll } from '@ambrosia/testing-redis';

const WINDOW_MS = 1000;
const CONNECTIONS = 50;
const URLS = {
  standalone: 'rediss://user:p%40ss@redis.example:6380/3',
  sentinel: 'redis-sentinel://10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379/mymaster?db=2&sentinelPassword=s',
  cluster: 'redis-cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000,10.0.0.4:7000,10.0.0.5:7000,10.0.0.6:7000',
};

function parsesPerSecond(url) {
  let done = 0;
  const started = performance.now();
  const deadline = started + WINDOW_MS;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) parseRedisUrl(url);
    done += 1000;
  }
  return Math.round(done / ((performance.now() - started) / 1000));
}

async function connectMs(url) {
  const times = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    const started = performance.now();
    const connection = createRedisConnection({ url });
    connection.on('error', () => {});
    await waitUntilReady(connection, 5000);
    times.push(performance.now() - started);
    connection.disconnect();
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], p99: times[Math.floor(times.length * 0.99)] };
}

export async function run() {
  const figures = {};
  for (const [form, url] of Object.entries(URLS)) figures[`parse_${form}_per_s`] = parsesPerSecond(url);
  const server = await startRedis();
  try {
    const { median, p99 } = await connectMs(server.url);
    figures.connect_ready_median_ms = Math.round(median * 100) / 100;
    figures.connect_ready_p99_ms = Math.round(p99 * 100) / 100;
  } finally {
    await server.stop();
    await stopAll();
  }
  const result = { name: 'redis-connection', figures };
  for (const [key, value] of Object.entries(figures)) console.log(`${key.padEnd(28)} ${value.toLocaleString('en-US')}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
