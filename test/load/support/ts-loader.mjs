// Lets a child process run the load client's TypeScript sources (tests only: the benchmarks run
// the compiled dist/). Node 20 cannot strip types, so .ts files are transpiled with the
// repository's TypeScript, one file at a time (no type checking: the workspace typecheck does
// that). Use with `--conditions=source` so @ambrosia packages resolve to their sources too.
//   node --conditions=source --import ./ts-loader.mjs file.ts
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
