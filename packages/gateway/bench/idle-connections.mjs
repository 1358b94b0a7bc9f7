// Bench of the pre-authentication deadline (issue #8): N clients (10 000 by default) open a c2s
// connection and then send nothing (`silent`), or a stream header and then nothing (`header`),
// from child processes (at most 5 000
// sockets each: a process may hold 20 000 open files) spread over 50 source addresses
// 127.0.1.1–127.0.1.50. The gateway's edge runs in this process with every limit on; once all N
// are held its heap and RSS growth are measured, then every connection must be closed by the
// deadline with `connection-timeout`.
//   npx tsc -p packages/gateway/tsconfig.build.json && node packages/gateway/bench/idle-connections.mjs [N]
//   npm run bench -- idle-connections
// Environment: IDLE_CONNECTIONS (N), IDLE_DEADLINE_MS (pre-auth deadline, default 15 000: long
// enough to open all N before the first one expires on a busy 2-core machine), IDLE_MODES
// (default `silent,header`).
// Returns rows { name, value, unit }.

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { connect as netConnect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { ask, settle } from './support/parent.mjs';

const SELF = fileURLToPath(import.meta.url);
const DOMAIN = 'bench.example';
const ADDRESSES = 50;
const PER_CHILD = 5000;
const CONCURRENT_CONNECTS = 200;
const HEADER = `<?xml version='1.0'?><stream:stream to='${DOMAIN}' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`;

// ---------------------------------------------------------------------------------------------
// Child: idle clients.

async function childMain() {
  const sockets = [];
  let closed = 0;
  let timedOut = 0;
  let failed = 0;
  process.on('message', async (message) => {
    if (message.cmd === 'open') {
      const { port, from, count, header } = message;
      let next = 0;
      const started = performance.now();
      const openOne = (index) =>
        new Promise((resolve) => {
          const socket = netConnect({ host: '127.0.0.1', port, localAddress: `127.0.1.${((from + index) % ADDRESSES) + 1}` });
          let text = '';
          let settled = false;
          const done = (ok) => {
            if (settled) return;
            settled = true;
            if (!ok) failed++;
            resolve();
          };
          socket.setEncoding('utf8');
          socket.on('connect', () => {
            if (header) socket.write(HEADER);
            else done(true);
          });
          socket.on('data', (chunk) => {
            // Keep only the tail: enough to see the stream error.
            text = (text + chunk).slice(-400);
            if (text.includes('</stream:features>')) done(true);
          });
          socket.on('error', () => done(false));
          socket.on('close', () => {
            closed++;
            if (text.includes('<connection-timeout')) timedOut++;
            done(false);
          });
          sockets.push(socket);
        });
      const worker = async () => {
        while (next < count) await openOne(next++);
      };
      await Promise.all(Array.from({ length: CONCURRENT_CONNECTS }, worker));
      process.send({ opened: true, ms: performance.now() - started, failed });
    } else if (message.cmd === 'status') {
      process.send({ status: true, closed, timedOut, failed, open: sockets.length - closed });
    } else if (message.cmd === 'exit') {
      for (const socket of sockets) socket.destroy();
      process.exit(0);
    }
  });
  process.send({ ready: true });
}

// ---------------------------------------------------------------------------------------------
// Parent: the gateway's edge.

const MiB = 1024 * 1024;
const round = (x, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

export async function run(n = Number(process.env.IDLE_CONNECTIONS ?? 10_000), deadlineMs = Number(process.env.IDLE_DEADLINE_MS ?? 15_000)) {
  const rows = [];
  for (const mode of (process.env.IDLE_MODES ?? 'silent,header').split(',')) {
    // Each mode's gateway in a fresh process: RSS, once grown, is not given back.
    const gateway = fork(SELF, ['--gateway', mode, String(n), String(deadlineMs)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] });
    const [result] = await once(gateway, 'message');
    await once(gateway, 'exit');
    rows.push(...result.rows.map((row) => ({ ...row, name: `${mode}: ${row.name}` })));
  }
  for (const row of rows) console.log(`${row.name.padEnd(46)} ${String(row.value).padStart(10)} ${row.unit}`);
  return rows;
}

async function measure(mode, n, deadlineMs) {
  const { ClientEdge, DomainCertificates } = await import(new URL('../dist/index.js', import.meta.url).href);
  const { createMemoryRegistry } = await import('@ambrosia/registry');
  const { createCA } = await import('@ambrosia/pki');
  const ca = await createCA({ commonName: 'bench CA' });
  const registry = createMemoryRegistry({ heartbeatIntervalMs: 0 });
  await registry.gateways.announce({ id: 'gw-idle', addresses: ['127.0.0.1'], ports: {}, load: 0, state: 'active' });
  const router = { serves: (d) => d === DOMAIN, route: async () => {}, sessionEvent: async () => {}, seeOtherHost: async () => undefined };
  const certificates = new DomainCertificates({ ca, mayIssue: (d) => d === DOMAIN, fallbackDomain: 'localhost' });
  await certificates.init();
  await certificates.contextFor(DOMAIN);
  const perAddress = Math.ceil(n / ADDRESSES);
  const edge = new ClientEdge({
    gatewayId: 'gw-idle',
    registry,
    router,
    certificates,
    host: '127.0.0.1',
    ports: { c2s: 0, c2sTls: null },
    auth: { decoySecret: Buffer.alloc(32, 1) },
    maxSessions: n + 100,
    // Every limit on, loopback not exempt; the per-IP caps sized so that N / 50 addresses fit.
    limits: {
      preAuthTimeoutMs: deadlineMs,
      exemptAddresses: [],
      maxUnauthenticatedPerIp: perAddress + 16,
      connectionRatePerIp: { limit: perAddress + 16, windowMs: 60_000 },
      clusterConnectionRatePerIp: { limit: perAddress + 16, windowMs: 60_000 },
    },
  });
  const { c2s: port } = await edge.start();
  const children = [];
  for (let i = 0; i * PER_CHILD < n; i++) {
    const child = fork(SELF, ['--child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    await new Promise((resolve) => child.once('message', resolve));
    children.push({ child, count: Math.min(PER_CHILD, n - i * PER_CHILD), from: i * PER_CHILD });
  }
  const rows = [];
  try {
    const before = await settle(500);
    const openStarted = performance.now();
    const opened = await Promise.all(children.map(({ child, count, from }) => ask(child, { cmd: 'open', port, count, from, header: mode === 'header' }, 'opened')));
    const openMs = performance.now() - openStarted;
    const failedToOpen = opened.reduce((sum, r) => sum + r.failed, 0);
    const after = await settle(500);
    const held = edge.stats().sessions.connections;
    // Every connection was accepted before openStarted + openMs; the deadline closes them all by
    // openStarted + openMs + deadlineMs (plus the close's linger for a client that reads).
    const waitUntil = openStarted + openMs + deadlineMs + 15_000;
    let statuses = [];
    while (performance.now() < waitUntil) {
      statuses = await Promise.all(children.map(({ child }) => ask(child, { cmd: 'status' }, 'status')));
      if (statuses.reduce((sum, s) => sum + s.closed, 0) >= n && edge.table.size === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const allClosedMs = performance.now() - openStarted;
    const closed = statuses.reduce((sum, s) => sum + s.closed, 0);
    const timedOut = statuses.reduce((sum, s) => sum + s.timedOut, 0);
    const heap = after.heapUsed - before.heapUsed;
    const rss = after.rss - before.rss;
    rows.push(
      { name: 'idle connections held', value: held, unit: 'connections' },
      { name: 'connections that failed to open', value: failedToOpen, unit: 'connections' },
      { name: 'time to open all', value: Math.round(openMs), unit: 'ms' },
      { name: 'gateway heap growth for all', value: round(heap / MiB), unit: 'MiB' },
      { name: 'gateway RSS growth for all', value: round(rss / MiB), unit: 'MiB' },
      { name: 'gateway heap per connection', value: round(heap / Math.max(1, held) / 1024, 2), unit: 'KiB' },
      { name: 'gateway RSS per connection', value: round(rss / Math.max(1, held) / 1024, 2), unit: 'KiB' },
      { name: 'pre-auth deadline', value: deadlineMs, unit: 'ms' },
      { name: 'closed with connection-timeout', value: timedOut, unit: 'connections' },
      { name: 'closed in all', value: closed, unit: 'connections' },
      { name: 'pre-auth-timeout trips counted', value: edge.stats().limits.tripped['pre-auth-timeout'], unit: 'trips' },
      { name: 'first connect to last close', value: Math.round(allClosedMs), unit: 'ms' },
      { name: 'connections left on the gateway', value: edge.table.size, unit: 'connections' },
    );
  } finally {
    for (const { child } of children) child.send({ cmd: 'exit' });
    await edge.stopAccepting();
    edge.shutdownAll(() => undefined);
    await edge.waitForEmpty(10_000);
    await registry.close();
  }
  return rows;
}

if (process.argv.includes('--child')) {
  await childMain();
} else if (process.argv.includes('--gateway')) {
  const at = process.argv.indexOf('--gateway');
  const rows = await measure(process.argv[at + 1], Number(process.argv[at + 2]), Number(process.argv[at + 3]));
  process.send({ rows }, () => process.exit(0));
} else if (process.argv[1] === SELF) {
  await run(process.argv[2] === undefined ? undefined : Number(process.argv[2]));
  process.exit(0);
}
