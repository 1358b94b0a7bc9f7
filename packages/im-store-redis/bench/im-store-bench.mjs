#!/usr/bin/env node
// IM store operations per second, against the BUILT packages (run `npm run build` first) and a
// redis-server this script starts on a free loopback port; the memory store is measured the same
// way for comparison.
//
//   node packages/im-store-redis/bench/im-store-bench.mjs        prints a table
//   import { run } from '.../im-store-bench.mjs'; await run()    [{ name, value, unit }]
//
// Each figure is a rate over a fixed window with CONCURRENCY calls in flight (ioredis pipelines
// them), spread over many accounts as a busy service instance would be: throughput, not the
// latency of one call. Reads run on accounts filled beforehand (ARCHIVE_PER_READER messages,
// ROSTER_PER_READER roster items), so they measure a realistic amount of state.

import { pathToFileURL } from 'node:url';
import { createMemoryImStore } from '@ambrosia/im-store';
import { startRedis, stopAll } from '@ambrosia/testing-redis';
import { createRedisImStore } from '../dist/index.js';

const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 1500);
const CONCURRENCY = 64;
const ACCOUNTS = 500;
const READ_ACCOUNTS = 20;
const ARCHIVE_PER_READER = 1000;
const ROSTER_PER_READER = 200;
const MESSAGE = `<message from='romeo@example.net/orchard' to='juliet@example.com' type='chat' id='m1'><body>${'Wherefore art thou? '.repeat(10)}</body></message>`;

/** Runs `op(i)` from CONCURRENCY loops for WINDOW_MS; returns completed operations per second. */
async function rate(op, opsPerCall = 1) {
  let done = 0;
  let next = 0;
  const started = performance.now();
  const deadline = started + WINDOW_MS;
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

function expectOk(result, what) {
  if (!result.ok) throw new Error(`${what} refused: ${JSON.stringify(result)}`);
  return result;
}

/** Runs `op(i)` for i in [0, count) with CONCURRENCY calls in flight (setup, not measured). */
async function fill(count, op) {
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await op(next++);
    }),
  );
}

async function measure(label, store) {
  const run = `${label.replace(/\s+/g, '-')}-${process.pid}`;
  const account = (i) => `bench-${run}-${i % ACCOUNTS}@example.com`;
  // Accounts with a realistic amount of state, filled before the read measurements.
  const reader = (i) => `reader-${run}-${i % READ_ACCOUNTS}@example.com`;

  // Offline: store one message, then fetch it and acknowledge it (the no-loss delivery path),
  // all for one account per loop so each fetch finds the message just stored.
  const offline = await rate(async (i) => {
    const acct = account(i);
    expectOk(await store.offline.push(acct, MESSAGE), 'offline push');
    const page = await store.offline.peek(acct, { max: 10 });
    if (page.length > 0) await store.offline.ack(acct, page[page.length - 1].id);
  });

  const archive = await rate(async (i) => {
    expectOk(await store.archive.append(account(i), { with: `contact${i % 50}@example.net`, direction: i % 2 ? 'in' : 'out', xml: MESSAGE }), 'archive append');
  });

  // Roster set: a read-modify-write with a version bump, as a client's roster set costs. Each
  // account cycles through 200 contacts.
  const roster = await rate(async (i) => {
    const contact = `contact${Math.floor(i / ACCOUNTS) % 200}@example.net`;
    expectOk(await store.roster.update(account(i), contact, (c) => ({ item: { ...c.item, name: `Contact ${i}`, groups: ['Friends'] } })), 'roster update');
  });

  await fill(READ_ACCOUNTS * ARCHIVE_PER_READER, (i) =>
    store.archive.append(reader(i), { with: `contact${Math.floor(i / READ_ACCOUNTS) % 50}@example.net`, direction: 'in', xml: MESSAGE }),
  );
  const archiveQuery = await rate(async (i) => {
    const result = await store.archive.query(reader(i), { with: `contact${i % 50}@example.net`, max: 20, before: '' });
    if (!result.ok || result.messages.length !== 20) throw new Error('archive query failed');
  });

  await fill(READ_ACCOUNTS * ROSTER_PER_READER, (i) =>
    store.roster.update(reader(i), `contact${Math.floor(i / READ_ACCOUNTS)}@example.net`, () => ({ item: { name: `Contact ${i}`, groups: ['Friends'], subscription: 'both' } })),
  );
  const rosterGet = await rate(async (i) => {
    const view = await store.roster.get(reader(i));
    if (view.kind !== 'full' || view.items.length !== ROSTER_PER_READER) throw new Error('roster read failed');
  });

  for (let i = 0; i < ACCOUNTS; i++) await store.deleteAccount(account(i));
  for (let i = 0; i < READ_ACCOUNTS; i++) await store.deleteAccount(reader(i));
  return [
    { name: `${label}: offline store + fetch + ack`, value: offline, unit: 'messages/s' },
    { name: `${label}: archive append`, value: archive, unit: 'appends/s' },
    { name: `${label}: roster set (read-modify-write + version)`, value: roster, unit: 'updates/s' },
    { name: `${label}: archive query (last 20 with one correspondent, ${ARCHIVE_PER_READER} archived)`, value: archiveQuery, unit: 'queries/s' },
    { name: `${label}: full roster read (${ROSTER_PER_READER} items)`, value: rosterGet, unit: 'reads/s' },
  ];
}

export async function run() {
  const results = [];
  const memory = createMemoryImStore();
  results.push(...(await measure('memory', memory)));
  await memory.close();

  const server = await startRedis();
  try {
    const redis = await createRedisImStore({ url: server.url, prefix: 'bench:' });
    try {
      results.push(...(await measure('redis standalone', redis)));
    } finally {
      await redis.close();
    }
  } finally {
    await stopAll();
  }
  return results;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = await run();
  const width = Math.max(...results.map((r) => r.name.length));
  for (const r of results) console.log(`${r.name.padEnd(width)}  ${Math.round(r.value).toLocaleString('en-US').padStart(10)} ${r.unit}`);
}
