import { describe, expect, it } from 'vitest';
import { main } from '../src/index.js';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}

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

  it('dev says what it will start, in human form and as JSON', async () => {
    const human = await run('dev', '--domain', 'example.org');
    expect(human.code).toBe(0);
    expect(human.out).toContain('for example.org');
    const json = await run('--json', 'dev');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ ready: false, domain: 'localhost' });
  });
});
