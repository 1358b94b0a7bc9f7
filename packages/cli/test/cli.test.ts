import { describe, expect, it } from 'vitest';
import { run } from './run.js';

describe('ambrosia', () => {
  it('prints help and exits 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('Usage: ambrosia');
    expect(r.out).toContain('dev');
  });

  it('refuses an unknown command with exit code 2 and a readable message', async () => {
    const r = await run('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'frobnicate'");
  });

  it('dev refuses bad options with exit code 2 before starting anything', async () => {
    const r = await run('dev', '--c2s-port', '70000');
    expect(r.code).toBe(2);
    expect(r.err).toBe('ambrosia: --c2s-port must be a port number from 0 to 65535 (got "70000")\n');
    const u = await run('dev', '--user', 'nopassword');
    expect(u.code).toBe(2);
    expect(u.err).toBe('ambrosia: --user takes name:password (got "nopassword")\n');
  });
});
