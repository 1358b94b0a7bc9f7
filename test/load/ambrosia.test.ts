// The load client against Ambrosia (gateway + IM service composed as the benchmark runs them).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAmbrosiaSystem, type AmbrosiaSystem } from '../bench/lib/ambrosia-system.mjs';
import { Fleet, seededCache, type Account } from './src/index.js';

const accounts: Account[] = Array.from({ length: 10 }, (_, i) => ({ username: `user${i}`, password: `secret-${i}` }));

describe('load client against Ambrosia', () => {
  let system: AmbrosiaSystem;

  beforeAll(async () => {
    const started = await startAmbrosiaSystem({ users: accounts });
    if ('pending' in started) throw new Error(started.pending);
    system = started;
  });
  afterAll(async () => {
    await system?.stop();
  });

  for (const tls of ['starttls', 'none'] as const) {
    it(`logs in 10 clients (${tls}) and exchanges messages without loss`, async () => {
      const fleet = new Fleet({ host: system.host, port: system.port, domain: 'localhost', tls, caPem: system.caPem }, seededCache(system.scramSeeds));
      const opened = await fleet.open(accounts, { presence: true, concurrency: 5 });
      expect(opened.errors).toEqual({});
      expect(opened.opened).toBe(10);
      const result = await fleet.exchange({ pairs: [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]], warmupMs: 100, durationMs: 700, window: 3 });
      expect(result).toMatchObject({ lost: 0, outOfOrder: 0, errors: 0 });
      expect(result.received).toBe(result.sent);
      expect(result.sent).toBeGreaterThan(15);
      await fleet.closeAll();
    });
  }
});
