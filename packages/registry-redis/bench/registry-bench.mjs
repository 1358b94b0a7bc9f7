#!/usr/bin/env node
// Registry operations per second, against the BUILT packages (run `npm run build` first) and a
// redis-server this script starts on a free loopback port. The same operations on the memory
// registry are measured for comparison.
//
//   node packages/registry-redis/bench/registry-bench.mjs        prints a table
//   import { run } from '.../registry-bench.mjs'; await run()    [{ name, value, unit }]
//
// Each figure is the rate over a fixed time window with CONCURRENCY calls in flight (ioredis
// pipelines them automatically), so it reflects throughput, not the latency of one call.

import { createMemoryRegistry } from '@ambrosia/registry';
import { startRedis } from '@ambrosia/testing-redis';
import { createRedisRegistry } from '../dist/index.js';

const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 1500);
const CONCURRENCY = 64;

/** Runs `op(i)` from CONCURRENCY loops for WINDOW_MS; returns completed operations per second. */
async function rate(op, opsPerCall = 1) {
  let done = 0;
  let next = 0;
  const deadline = performance.now() + WINDOW_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < deadline) {
        await op(next++);
        done += opsPerCall;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** A synchronous call in a tight loop (the routing hot path): calls per second. */
function syncRate(op) {
  let done = 0;
  const started = performance.now();
  const deadline = started + WINDOW_MS;
  while (performance.now() < deadline) {
    for (let i = 0; i < 1000; i++) op(i);
    done += 1000;
  }
  return done / ((performance.now() - started) / 1000);
}

async function measure(label, registry) {
  await registry.ready();
  const gatewayId = `bench-gw-${label}`;
  await registry.gateways.announce({ id: gatewayId, addresses: ['127.0.0.1'], ports: { c2s: 5222 }, load: 0, state: 'active' });
  for (let i = 0; i < 4; i++) await registry.services.register({ domain: 'bench.example', type: 'client', instanceId: `im-${i}`, gatewayId });
  for (let i = 0; i < 1000; i++) await registry.seeOtherHost.set(`user${i}@moved.example`, 'other.example:5222');

  const bindUnbind = await rate(async (i) => {
    const bareJid = `user${i}@bench.example`;
    await registry.sessions.bind({ bareJid, resource: 'r', gatewayId, sessionId: `s${i}`, priority: 0, available: true });
    await registry.sessions.unbind(bareJid, 'r', `s${i}`);
  }, 2);
  const sohStore = await rate(async (i) => {
    await registry.seeOtherHost.resolve(`user${i % 2000}@moved.example`);
  });
  const routing = syncRate(() => registry.routing.instances('bench.example', 'client'));
  await registry.gateways.withdraw(gatewayId);
  return [
    { name: `registry.${label}.session_bind_unbind`, value: Math.round(bindUnbind), unit: 'ops/s' },
    { name: `registry.${label}.see_other_host_lookup`, value: Math.round(sohStore), unit: 'ops/s' },
    { name: `registry.${label}.routing_lookup_cached`, value: Math.round(routing), unit: 'ops/s' },
  ];
}

export async function run() {
  const results = [];
  const server = await startRedis();
  try {
    // Lookups go to Redis every time (cache ttl 0): the figure is the store's, not the cache's.
    const redis = createRedisRegistry({ url: server.url, prefix: 'bench', heartbeatIntervalMs: 0, seeOtherHostCacheTtlMs: 0 });
    try {
      results.push(...(await measure('redis', redis)));
    } finally {
      await redis.close();
    }
  } finally {
    await server.stop();
  }
  const memory = createMemoryRegistry({ heartbeatIntervalMs: 0, seeOtherHostCacheTtlMs: 0 });
  try {
    results.push(...(await measure('memory', memory)));
  } finally {
    await memory.close();
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const results = await run();
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) console.log(`${r.name.padEnd(width)}  ${r.value.toLocaleString('en-US').padStart(12)} ${r.unit}`);
}
