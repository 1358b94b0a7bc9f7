import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeDir, runScript, transpileSources } from './helpers/child.js';
import { waitUntilGone } from './helpers/processes.js';

let compiled: { dir: string; indexUrl: string };

beforeAll(() => {
  compiled = transpileSources();
});
afterAll(() => {
  removeDir(compiled.dir);
});

interface Started {
  pids: number[];
  root: string;
}

/** Starts a non-persistent and a persistent server in the child, prints their pids and the scratch root. */
function startingScript(then: string): string {
  return `
    import { dirname } from 'node:path';
    import { startRedis } from ${JSON.stringify(compiled.indexUrl)};
    const servers = [await startRedis(), await startRedis({ persistence: true })];
    console.log(JSON.stringify({ pids: servers.map((s) => s.pid), root: dirname(servers[0].dir) }));
    ${then}
  `;
}

describe('no Redis process outlives the process that started it', () => {
  it('exits on its own when stop() was forgotten, and the exit hook kills the servers', async () => {
    // Nothing keeps the event loop alive: the servers are unref'ed children.
    const run = runScript(startingScript(''));
    const started = (await run.firstLine) as Started;
    expect(await run.exited, run.output()).toBe(0);
    for (const pid of started.pids) expect(await waitUntilGone(pid)).toBe(true);
    expect(existsSync(started.root)).toBe(false);
  });

  it('the watchdog kills the servers when the process is SIGKILLed', async () => {
    const run = runScript(startingScript('setInterval(() => {}, 1000);'));
    const started = (await run.firstLine) as Started;
    run.kill('SIGKILL');
    expect(await run.exited).toBe('SIGKILL');
    for (const pid of started.pids) expect(await waitUntilGone(pid)).toBe(true);
    // The watchdog removes the scratch root after the kill.
    const deadline = Date.now() + 10_000;
    while (existsSync(started.root) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(existsSync(started.root)).toBe(false);
  });

  it('names the Debian package when redis-server is missing', async () => {
    const run = runScript(
      `
      import { startRedis } from ${JSON.stringify(compiled.indexUrl)};
      try { await startRedis(); console.log(JSON.stringify({ started: true })); }
      catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }
    `,
      { ...process.env, PATH: '/nonexistent' },
    );
    const reply = (await run.firstLine) as { code: string; message: string };
    expect(reply.code).toBe('ERR_REDIS_BINARY_MISSING');
    expect(reply.message).toContain('apt-get install -y redis-server');
    expect(await run.exited).toBe(0);
  });
});
