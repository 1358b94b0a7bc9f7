// The example service in examples/ keeps working as the SDK changes: its demo runs it end to end
// against a gateway-side channel acceptor over mutual TLS and checks the echoes.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, runProcess } from '../support/processes.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
afterAll(killAll);

describe('examples/echo-service', () => {
  it('the demo registers, echoes a message, answers a ping and says OK', async () => {
    if (!existsSync(join(root, 'packages/service-sdk/dist/index.js'))) {
      const build = await runProcess('npm', ['run', 'build'], { cwd: root, timeoutMs: 300_000 });
      expect(build.code, build.stderr).toBe(0);
    }
    const demo = await runProcess(process.execPath, [join(root, 'examples/echo-service/demo.mjs')], { cwd: root, timeoutMs: 60_000 });
    expect(demo.code, demo.stderr + demo.stdout).toBe(0);
    expect(demo.stdout).toContain('echo: echoed 19 characters to juliet@example.org/balcony');
    expect(demo.stdout.trimEnd().endsWith('demo: OK')).toBe(true);
  });
});
