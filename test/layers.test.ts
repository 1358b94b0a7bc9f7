import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without type declarations
import { check, importsOf } from '../scripts/check-layers.mjs';

const scratch = mkdtempSync(join(tmpdir(), 'ambrosia-layers-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function writePackage(root: string, folder: string, deps: Record<string, string>, source: string): void {
  const dir = join(root, 'packages', folder);
  mkdirSync(join(dir, 'src'), { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: `@ambrosia/${folder}`,
      type: 'module',
      exports: { '.': { source: './src/index.ts', types: './dist/index.d.ts', default: './dist/index.js' } },
      dependencies: deps,
    }),
  );
  writeFileSync(join(dir, 'src', 'index.ts'), source);
}

describe('the layering check', () => {
  it('finds static, multi-line, re-export, side-effect and dynamic imports', () => {
    const text = [
      "import { a,\n  b } from '@ambrosia/xml';",
      "export * from './local.js';",
      "export { c } from 'ltx';",
      "import 'side-effect';",
      // Written so that this file's own text does not read as a dynamic import.
      `const m = await ${'imp'}ort('ioredis');`,
      "import type { T } from '@ambrosia/jid';",
    ].join('\n');
    expect(importsOf(text).sort()).toEqual(['./local.js', '@ambrosia/jid', '@ambrosia/xml', 'ioredis', 'ltx', 'side-effect'].sort());
  });

  it('passes on this repository', () => {
    expect(check()).toEqual([]);
  });

  it('flags undeclared imports, upward dependencies, forbidden edges and owned packages', () => {
    const root = join(scratch, 'repo');
    mkdirSync(join(root, 'test'), { recursive: true });
    writeFileSync(join(root, 'package.json'), JSON.stringify({ devDependencies: { vitest: '4' } }));
    writePackage(root, 'xml', {}, "import { x } from '@ambrosia/gateway';\n");
    writePackage(root, 'gateway', { '@ambrosia/xml': '0.1.0' }, "import { y } from '@ambrosia/xml';\nimport Redis from 'ioredis';\n");
    writePackage(root, 'im-service', { '@ambrosia/gateway': '0.1.0' }, "import { z } from '@ambrosia/gateway';\n");
    writePackage(root, 'mystery', {}, 'export {};\n');
    const problems: string[] = check(root);
    const has = (fragment: string) => expect(problems.some((p) => p.includes(fragment)), fragment).toBe(true);
    has('packages/xml/src/index.ts: imports "@ambrosia/gateway", which @ambrosia/xml');
    has('xml (layer 0) must not import gateway');
    has('packages/gateway/src/index.ts: imports "ioredis", which @ambrosia/gateway');
    has('only redis-connection, registry-redis, im-store-redis, testing-redis may import "ioredis"');
    has('im-service must never import gateway');
    has('packages/mystery: not placed in a layer');
  });
});
