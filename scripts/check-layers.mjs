#!/usr/bin/env node
// The layering check run by `npm test` (docs/ARCHITECTURE.md, "Dependency rules"):
//  1. every import in a package is declared in that package's package.json;
//  2. @ambrosia packages depend only on packages of a lower layer (so protocol packages never
//     reach the gateway, and the IM service never imports the gateway);
//  3. some npm packages belong to exactly one place (ioredis to the Redis connection layer and
//     the storage adapters on Redis, ltx to the xml package, node-forge to pki).
import { readFileSync, readdirSync, existsSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';

const repoRoot = new URL('..', import.meta.url).pathname;

// Layer of each workspace package: a package may import only packages of a strictly lower layer.
// A new package must be placed here (and in docs/ARCHITECTURE.md) before it can be imported.
export const LAYERS = {
  // 0: pure protocol and foundation libraries: no sockets of the gateway, no Redis
  xml: 0,
  jid: 0,
  pki: 0,
  'testing-redis': 0,
  'proxy-protocol': 0,
  'edge-limits': 0,
  // ambrosia.yaml's schema and loader: plain types, so any layer (and `ambrosia check config`) can
  // read it; the composition root (cli) maps it onto each role's options, where tsc checks the fit.
  config: 0,
  errors: 1,
  sasl: 1,
  'service-protocol': 1,
  registry: 1,
  'im-store': 1,
  // the one Redis connection layer (URL forms, ioredis client) under the storage adapters
  'redis-connection': 1,
  // 2: composition over the interfaces; storage adapters
  auth: 2,
  stream: 2,
  'registry-redis': 2,
  'im-store-redis': 2,
  // 3: the two sides of the service channel
  gateway: 3,
  'service-sdk': 3,
  // 4: services built on the SDK alone, as an outside service would be
  'im-service': 4,
  // 5: the composition root
  cli: 5,
};

// Packages that the `im-service` layer may never reach even though its layer is higher.
const FORBIDDEN = {
  'im-service': ['gateway', 'stream', 'registry-redis'],
  'service-sdk': ['gateway'],
};

// npm packages that only the named workspace packages may import.
const OWNED = {
  ioredis: ['redis-connection', 'registry-redis', 'im-store-redis', 'testing-redis'],
  ltx: ['xml'],
  'node-forge': ['pki'],
};

const SOURCE_DIRS = ['src', 'test', 'bench'];
const SOURCE_EXT = /\.(?:[cm]?[jt]s)$/;
const builtins = new Set(builtinModules);

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  const out = [];
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...listFiles(path));
    else if (SOURCE_EXT.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

const IMPORT_PATTERNS = [
  /(?:^|[\n;])\s*(?:import|export)\s[^;'"]*?\bfrom\s*['"]([^'"]+)['"]/g,
  /(?:^|[\n;])\s*import\s*['"]([^'"]+)['"]/g,
  /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  /\brequire\(\s*['"]([^'"]+)['"]\s*\)/g,
];

export function importsOf(text) {
  const found = new Set();
  for (const pattern of IMPORT_PATTERNS) {
    for (const match of text.matchAll(pattern)) found.add(match[1]);
  }
  return [...found];
}

function packageNameOf(specifier) {
  if (specifier.startsWith('.') || specifier.startsWith('/')) return undefined;
  if (specifier.startsWith('node:') || builtins.has(specifier) || builtins.has(specifier.split('/')[0])) return undefined;
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0];
}

export function check(root = repoRoot) {
  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  // Test and benchmark files may use the root's shared dev tools (vitest, fast-check) undeclared.
  const sharedDevTools = new Set(Object.keys(rootManifest.devDependencies ?? {}));
  const problems = [];
  const workspaces = [
    ...readdirSync(join(root, 'packages')).map((name) => ({ dir: join(root, 'packages', name), folder: name })),
    { dir: join(root, 'test'), folder: undefined },
  ].filter((w) => existsSync(join(w.dir, 'package.json')));

  for (const { dir, folder } of workspaces) {
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.devDependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const isPackage = folder !== undefined;
    if (isPackage) {
      if (manifest.name !== `@ambrosia/${folder}`) problems.push(`${folder}/package.json: name must be @ambrosia/${folder}`);
      if (!(folder in LAYERS)) problems.push(`packages/${folder}: not placed in a layer (scripts/check-layers.mjs and docs/ARCHITECTURE.md)`);
      if (manifest.type !== 'module') problems.push(`${folder}/package.json: "type" must be "module"`);
      const main = manifest.exports?.['.'];
      if (!main?.types || !main?.default || !main?.source) problems.push(`${folder}/package.json: exports["."] needs source, types and default`);
    }
    const roots = isPackage ? SOURCE_DIRS.map((d) => join(dir, d)) : [dir];
    for (const file of roots.flatMap(listFiles)) {
      const where = relative(root, file);
      const isTestOrBench = /(?:^|\/)(?:test|bench)\//.test(relative(dir, file)) || !isPackage;
      for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
        const name = packageNameOf(specifier);
        if (name === undefined || name === manifest.name) continue; // self-reference through exports
        if (!declared.has(name) && !(isTestOrBench && sharedDevTools.has(name))) problems.push(`${where}: imports "${name}", which ${manifest.name}'s package.json does not declare`);
        if (!isPackage) continue;
        const owners = OWNED[name];
        if (owners && !owners.includes(folder)) problems.push(`${where}: only ${owners.join(', ')} may import "${name}"`);
        if (name.startsWith('@ambrosia/')) {
          const target = name.slice('@ambrosia/'.length);
          if (!(target in LAYERS)) continue; // reported as unplaced above, or not a package
          if (LAYERS[target] >= LAYERS[folder]) {
            problems.push(`${where}: ${folder} (layer ${LAYERS[folder]}) must not import ${target} (layer ${LAYERS[target]}); dependencies point down`);
          }
          if (FORBIDDEN[folder]?.includes(target)) problems.push(`${where}: ${folder} must never import ${target}`);
        }
      }
    }
    // A declared @ambrosia dependency must respect the layers even if not imported yet.
    if (isPackage) {
      for (const name of Object.keys(manifest.dependencies ?? {})) {
        if (!name.startsWith('@ambrosia/')) continue;
        const target = name.slice('@ambrosia/'.length);
        if (target in LAYERS && folder in LAYERS && LAYERS[target] >= LAYERS[folder]) {
          problems.push(`packages/${folder}/package.json: depends on ${name} of layer ${LAYERS[target]} from layer ${LAYERS[folder]}`);
        }
      }
    }
  }
  return problems;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const problems = check();
  if (problems.length > 0) {
    console.error(`Layering check failed (${problems.length} problem${problems.length === 1 ? '' : 's'}):`);
    for (const p of problems) console.error(`  - ${p}`);
    process.exit(1);
  }
  console.log('Layering check: every import declared, every dependency points down.');
}
