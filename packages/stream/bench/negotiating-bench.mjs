// Per-connection heap of a stream that is still negotiating (issue #8: idle unauthenticated
// connections must stay cheap). 10,000 streams, each in one of two states a silent attacker can
// leave it in:
//   created  — constructed, no byte received (what the gateway makes for a deadline or a refusal);
//   header   — a stream header received and answered with our header and <stream:features/>
//              (STARTTLS required, as on a plain c2s listener), then nothing.
// The figure is the heap growth (after two full GCs) divided by the number of streams; the streams'
// transports and hooks are shared or trivial, so the figure is the stream's own.
// Runs against the built package: `npm run bench -- negotiating` (or `node --expose-gc` this file).

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

const STREAMS = 10_000;
const HEADER = Buffer.from(
  "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>",
  'utf8',
);

/** A transport that can upgrade (so STARTTLS is offered) and keeps nothing per stream. */
const transportPrototype = {
  remoteAddress: '127.0.0.1',
  canStartTls: true,
  write: () => true,
  startTls() {},
  pauseReading() {},
  resumeReading() {},
  close() {},
  destroy() {},
};

const hooks = {
  authenticator: { offeredMechanisms: () => ['PLAIN'], session: () => undefined },
  resolveDomain: () => ({ kind: 'served' }),
  bind: async () => ({ kind: 'conflict' }),
  onStanza: async () => {},
};

function collect() {
  let gc = globalThis.gc;
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc');
  }
  gc();
  gc();
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function make({ ClientStream }, count, sendHeader) {
  const options = {};
  const streams = [];
  for (let i = 0; i < count; i++) {
    const stream = new ClientStream({ transport: Object.create(transportPrototype), hooks, options });
    if (sendHeader) stream.receive(HEADER);
    streams.push(stream);
  }
  // The domain hook may answer asynchronously: let every header be answered.
  for (let i = 0; i < 10 && streams.some((s) => s.busy); i++) await turn();
  if (sendHeader && streams.some((s) => s.state !== 'negotiating' || s.busy)) throw new Error('a stream did not answer its header');
  return streams;
}

/** Heap per stream, in bytes, for `count` streams in one state. */
async function perStream(api, count, sendHeader) {
  await make(api, 200, sendHeader); // warm up code paths, inline caches and interned strings
  collect();
  const before = process.memoryUsage().heapUsed;
  const streams = await make(api, count, sendHeader);
  collect();
  const after = process.memoryUsage().heapUsed;
  for (const stream of streams) stream.close();
  await turn();
  return (after - before) / streams.length;
}

/** Takes the package's exports so a test can run it against the sources. */
export async function measure(api, count = STREAMS) {
  const created = await perStream(api, count, false);
  collect();
  const header = await perStream(api, count, true);
  return [
    { name: 'stream: heap per negotiating stream, created (no byte yet)', value: Math.round(created), unit: 'bytes' },
    { name: 'stream: heap per negotiating stream, header answered', value: Math.round(header), unit: 'bytes' },
    { name: `stream: heap for ${count} streams, header answered`, value: Math.round((header * count) / 1024 / 102.4) / 10, unit: 'MiB' },
  ];
}

export async function run() {
  const api = await import('../dist/index.js');
  const rows = await measure(api);
  for (const r of rows) console.log(`${r.name}: ${r.value} ${r.unit}`);
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
