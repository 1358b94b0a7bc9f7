// Issue #7: one-to-one message throughput and latency, client → server → client, with N pairs
// of logged-in clients, against Prosody and Ambrosia. Two scenarios on the same sessions:
// "loaded" (every pair keeps a window of messages in flight: throughput, latency with queueing)
// and "light" (a few pairs, one message in flight: latency without queueing).
// Each pair's sender keeps a window of messages in flight to its receiver's bare JID (after
// initial presence, RFC 6121 §8.5.2.1.1); latency is from the sender's write to the receiver's
// parse, both in the same load process. Settings (environment): see test/bench/README.md.
import { createLoadRunner, percentilesOf } from '../load/dist/index.js';
import { benchAccounts, envInt, report as printReport, serversToRun, sleep, startServer } from './lib/common.mjs';

function report(serverName, scenario, result) {
  if (result.lost > 0 || result.outOfOrder > 0 || result.errors > 0) {
    console.log(`  ${serverName} ${scenario}: ${result.lost} lost, ${result.outOfOrder} out of order, ${result.errors} errors`);
  }
}

async function measure(serverName, settings) {
  const accounts = benchAccounts(settings.pairs * 2);
  const server = await startServer(serverName, { accounts });
  const runner = await createLoadRunner({
    target: { host: server.host, port: server.port, domain: server.domain, tls: settings.tls, caPem: server.caPem },
    sessions: accounts.length,
    scramSeeds: server.scramSeeds,
    ...(settings.processes !== undefined ? { processes: settings.processes } : {}),
  });
  try {
    const opened = await runner.open(accounts, { concurrency: 50, presence: true });
    if (opened.failed > 0) throw new Error(`${serverName}: ${opened.failed} logins failed: ${JSON.stringify(opened.errors)}`);
    await sleep(500); // initial presences processed before the clock starts
    const pairs = Array.from({ length: settings.pairs }, (_, k) => [2 * k, 2 * k + 1]);
    const figures = {};

    // Throughput: every pair keeps `window` messages in flight; latency here includes queueing.
    const before = server.figures();
    const loaded = await runner.exchange({
      pairs,
      durationMs: settings.seconds * 1000,
      warmupMs: settings.warmupMs,
      window: settings.window,
      bodyBytes: settings.bodyBytes,
    });
    const after = server.figures();
    const [p50, p99] = percentilesOf(loaded.latencies, [50, 99]);
    figures.loaded = {
      messages_per_second: { value: loaded.measured / (loaded.measuredMs / 1000), unit: 'msg/s' },
      latency_p50: { value: p50, unit: 'ms' },
      latency_p99: { value: p99, unit: 'ms' },
      server_cpu_per_message: { value: ((after.cpuSeconds - before.cpuSeconds) / loaded.received) * 1e6, unit: 'µs' },
      client_cpu_per_message: { value: (loaded.clientCpuSeconds / loaded.received) * 1e6, unit: 'µs' },
      messages_lost: { value: loaded.lost, unit: '' },
      out_of_order: { value: loaded.outOfOrder, unit: '' },
    };
    report(serverName, 'loaded', loaded);

    // Latency without queueing: a few pairs, one message in flight each.
    if (settings.lightPairs > 0) {
      const light = await runner.exchange({
        pairs: pairs.slice(0, settings.lightPairs),
        durationMs: settings.lightSeconds * 1000,
        warmupMs: 500,
        window: 1,
        bodyBytes: settings.bodyBytes,
      });
      const [l50, l99] = percentilesOf(light.latencies, [50, 99]);
      figures.light = {
        messages_per_second: { value: light.measured / (light.measuredMs / 1000), unit: 'msg/s' },
        latency_p50: { value: l50, unit: 'ms' },
        latency_p99: { value: l99, unit: 'ms' },
        messages_lost: { value: light.lost, unit: '' },
      };
      report(serverName, 'light', light);
    }
    return figures;
  } finally {
    await runner.closeAll().catch((e) => console.log(`  close: ${e.message}`));
    await runner.stop();
    await server.stop();
  }
}

export async function run() {
  const settings = {
    pairs: envInt('IM_PAIRS', 50),
    window: envInt('IM_WINDOW', 4),
    seconds: envInt('IM_SECONDS', 10),
    warmupMs: envInt('IM_WARMUP_MS', 2000),
    bodyBytes: envInt('IM_BODY_BYTES', 200),
    lightPairs: envInt('IM_LIGHT_PAIRS', 5),
    lightSeconds: envInt('IM_LIGHT_SECONDS', 5),
    tls: process.env.IM_TLS === '0' ? 'none' : 'starttls',
    processes: process.env.LOAD_PROCESSES ? envInt('LOAD_PROCESSES', 0) : undefined,
  };
  console.log(
    `im messages: ${settings.pairs} pairs, ${settings.window} in flight per pair, ${settings.bodyBytes} B bodies, ` +
      `${settings.seconds} s measured after ${settings.warmupMs} ms warm-up, ${settings.tls}, servers: ${serversToRun().join(', ')}`,
  );
  const results = {};
  for (const serverName of serversToRun()) {
    try {
      results[serverName] = await measure(serverName, settings);
    } catch (error) {
      if (error?.code !== 'AMBROSIA_PENDING') throw error;
      console.log(`  ${error.message}`);
    }
  }
  const rows = printReport(`im: one-to-one messages; loaded = ${settings.pairs} pairs × ${settings.window} in flight, light = ${settings.lightPairs} pairs × 1`, results, {
    better: { messages_per_second: 'higher', latency_p50: 'lower', latency_p99: 'lower', server_cpu_per_message: 'lower' },
  });
  // scripts/bench.mjs drops an output chunk that also carries its results marker: let the table
  // leave in a chunk of its own.
  await sleep(200);
  return rows;
}
