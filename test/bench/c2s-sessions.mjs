// Issue #6: N authenticated idle c2s sessions, with STARTTLS and without TLS, against Prosody and
// Ambrosia: server RSS per session (KiB), logins per second, server CPU per login.
// Settings (environment): see test/bench/README.md.
import { createLoadRunner } from '../load/dist/index.js';
import { benchAccounts, envInt, report, serversToRun, sleep, startServer } from './lib/common.mjs';

const MODES = ['starttls', 'none'];

async function measure(serverName, mode, settings) {
  const accounts = benchAccounts(settings.sessions);
  const server = await startServer(serverName, { accounts });
  const runner = await createLoadRunner({
    target: { host: server.host, port: server.port, domain: server.domain, tls: mode, caPem: server.caPem },
    sessions: accounts.length,
    scramSeeds: server.scramSeeds,
    ...(settings.processes !== undefined ? { processes: settings.processes } : {}),
  });
  try {
    await sleep(settings.settleMs);
    const before = server.figures();
    const opened = await runner.open(accounts, { concurrency: settings.concurrency, presence: false });
    const afterLogins = server.figures();
    if (opened.failed > 0) {
      console.log(`  ${serverName} ${mode}: ${opened.failed} logins failed:`, opened.errors);
      console.log(`  ${serverName}'s last log lines:\n${server.output().split('\n').slice(-20).join('\n')}`);
    }
    if (opened.opened === 0) {
      const reason = Object.keys(opened.errors)[0] ?? 'unknown';
      console.log(`  ${serverName} ${mode}: no session opened (${reason}); skipped`);
      return undefined;
    }
    await sleep(settings.settleMs); // let the server's allocator and GC settle on the idle sessions
    const idle = server.figures();
    return {
      rss_per_session: { value: (idle.rssKiB - before.rssKiB) / opened.opened, unit: 'KiB' },
      logins_per_second: { value: opened.opened / (opened.elapsedMs / 1000), unit: '1/s' },
      login_p99: { value: opened.loginP99Ms, unit: 'ms' },
      server_cpu_per_login: { value: ((afterLogins.cpuSeconds - before.cpuSeconds) / opened.opened) * 1e6, unit: 'µs' },
      server_rss_idle: { value: idle.rssKiB / 1024, unit: 'MiB' },
      client_cpu_per_login: { value: (opened.clientCpuSeconds / opened.opened) * 1e6, unit: 'µs' },
      sessions_failed: { value: opened.failed, unit: '' },
    };
  } finally {
    await runner.closeAll().catch((e) => console.log(`  close: ${e.message}`));
    await runner.stop();
    await server.stop();
  }
}

export async function run() {
  const settings = {
    sessions: envInt('C2S_SESSIONS', 2000),
    concurrency: envInt('C2S_CONCURRENCY', 100),
    settleMs: envInt('C2S_SETTLE_MS', 2000),
    processes: process.env.LOAD_PROCESSES ? envInt('LOAD_PROCESSES', 0) : undefined,
  };
  console.log(`c2s sessions: ${settings.sessions} sessions, ${settings.concurrency} logins in flight, SCRAM-SHA-1, servers: ${serversToRun().join(', ')}`);
  const results = {};
  for (const serverName of serversToRun()) {
    results[serverName] = {};
    for (const mode of MODES) {
      try {
        const figures = await measure(serverName, mode, settings);
        if (figures) results[serverName][mode === 'none' ? 'plain' : mode] = figures;
      } catch (error) {
        if (error?.code !== 'AMBROSIA_PENDING') throw error;
        console.log(`  ${error.message}`);
        break;
      }
    }
  }
  const rows = report(`c2s: ${settings.sessions} idle sessions`, results, {
    better: { rss_per_session: 'lower', logins_per_second: 'higher', server_cpu_per_login: 'lower', login_p99: 'lower' },
  });
  // scripts/bench.mjs drops an output chunk that also carries its results marker: let the table
  // leave in a chunk of its own.
  await sleep(200);
  return rows;
}
