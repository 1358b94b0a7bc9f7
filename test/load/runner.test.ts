// The load runner over child processes (each with its own 127.x source address) against Prosody:
// accounts split across processes, pairs kept inside one process, results merged.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProsody, type RunningProsody } from '../prosody/src/index.js';
import { createLoadRunner, type Account } from './src/index.js';

const accounts: Account[] = Array.from({ length: 12 }, (_, i) => ({ username: `user${i}`, password: `secret-${i}` }));
const worker = {
  script: fileURLToPath(new URL('./src/worker.ts', import.meta.url)),
  execArgv: ['--conditions=source', '--import', fileURLToPath(new URL('./support/ts-loader.mjs', import.meta.url))],
};

describe('load runner with child processes', () => {
  let prosody: RunningProsody;

  beforeAll(async () => {
    prosody = await startProsody({ accounts });
  });
  afterAll(async () => {
    await prosody?.stop();
  });

  it('opens sessions in 2 processes, exchanges messages within each, and merges the results', async () => {
    const runner = await createLoadRunner({
      target: { host: prosody.host, port: prosody.port, domain: prosody.domain, tls: 'starttls', caPem: prosody.caPem },
      sessions: accounts.length,
      processes: 2,
      scramSeeds: prosody.scram.map((s) => ({ hash: 'sha1' as const, ...s })),
      worker,
    });
    try {
      expect(runner.processes).toBe(2);
      const opened = await runner.open(accounts, { presence: true, concurrency: 4 });
      expect(opened).toMatchObject({ opened: 12, failed: 0 });
      const pairs = Array.from({ length: 6 }, (_, k) => [2 * k, 2 * k + 1] as const);
      const result = await runner.exchange({ pairs, warmupMs: 100, durationMs: 700, window: 2 });
      expect(result).toMatchObject({ lost: 0, outOfOrder: 0, errors: 0 });
      expect(result.received).toBe(result.sent);
      expect(result.latencies.length).toBe(result.measured);
      await expect(runner.exchange({ pairs: [[0, 11]], durationMs: 100 })).rejects.toThrow(/spans two load processes/);
      await runner.closeAll();
    } finally {
      await runner.stop();
    }
  });
});
