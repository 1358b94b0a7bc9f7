// Runs Ambrosia (ambrosia-system.mjs) for a benchmark in its own process, so the server's RSS
// and CPU are not mixed with the load client's (see ambrosia.mjs).
// stdin: one JSON line { users: [{ username, password }], domain, iterations? }.
// stdout: one JSON line { ready: true, host, port, caPem, scramSeeds } | { pending: reason } | { error }.
// Stops gracefully on SIGTERM (bounded: exits after 20 s regardless).
import { createInterface } from 'node:readline';
import { startAmbrosiaSystem } from './ambrosia-system.mjs';

function answer(value) {
  process.stdout.write(JSON.stringify(value) + '\n');
}

async function main() {
  const line = await new Promise((resolve) => createInterface({ input: process.stdin }).once('line', resolve));
  const system = await startAmbrosiaSystem({ ...JSON.parse(line), log: true });
  if (system.pending) {
    answer({ pending: system.pending });
    return;
  }
  process.once('SIGTERM', () => {
    setTimeout(() => process.exit(1), 20_000).unref();
    system.stop().finally(() => process.exit(0));
  });
  const scramSeeds = system.scramSeeds.map((s) => ({ ...s, saltedPassword: s.saltedPassword.toString('base64') }));
  answer({ ready: true, host: system.host, port: system.port, caPem: system.caPem, scramSeeds });
}

main().catch((error) => {
  answer({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exit(1);
});
