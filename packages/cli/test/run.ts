import { main } from '../src/index.js';

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** Runs the CLI in-process, capturing what it prints. */
export async function run(...argv: string[]): Promise<RunResult> {
  let out = '';
  let err = '';
  process.exitCode = undefined;
  const code = await main(argv, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
  return { code, out, err };
}
