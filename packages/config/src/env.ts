// Environment overrides. Rule: every key of the file has one variable, AMBROSIA_ followed by its
// path with each camelCase word upper-cased and every boundary (section or word) an underscore:
//   registry.url            → AMBROSIA_REGISTRY_URL
//   gateway.ports.c2sTls    → AMBROSIA_GATEWAY_PORTS_C2S_TLS
//   imService.store.url     → AMBROSIA_IM_SERVICE_STORE_URL
// A variable overrides the file. Values are read by the key's type: numbers, true/false, null,
// lists of text as comma-separated values, lists of mappings as JSON. The names come from the
// JSON Schema, and a test checks that no two keys share one.
import { acceptedTypes, configLeaves, type ConfigLeaf } from './json-schema.js';
import { suggest, type ConfigProblem } from './problems.js';

export const ENV_PREFIX = 'AMBROSIA_';
/** The configuration file to read when no --config is given. */
export const CONFIG_FILE_ENV = 'AMBROSIA_CONFIG';
/** The CA directory variable `ambrosia ca` uses; also the default of `tls.caDir`. */
export const CA_DIR_ENV = 'AMBROSIA_CA_DIR';
/** Variables of other commands that start like ours but are not keys. */
const OTHER_VARIABLES = new Set([CONFIG_FILE_ENV, CA_DIR_ENV, 'AMBROSIA_REGISTRY']);
/** Longest value read from one variable (a JSON list of domain certificates fits easily). */
export const MAX_ENV_VALUE_CHARS = 65_536;

/** `c2sTls` → `C2S_TLS`, `imService` → `IM_SERVICE`. */
export function envWord(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function envName(path: readonly string[]): string {
  return ENV_PREFIX + path.map(envWord).join('_');
}

let table: Map<string, ConfigLeaf> | undefined;

/** Variable name → the key it sets. */
export function envTable(): ReadonlyMap<string, ConfigLeaf> {
  if (table === undefined) {
    table = new Map();
    for (const leaf of configLeaves()) table.set(envName(leaf.path), leaf);
  }
  return table;
}

export interface EnvOverride {
  name: string;
  path: readonly string[];
  value: unknown;
}

/** Reads one variable by the type of its key; `undefined` value and a problem when unreadable. */
function readValue(name: string, raw: string, leaf: ConfigLeaf): { value: unknown } | { problem: ConfigProblem } {
  const types = acceptedTypes(leaf.schema);
  if (raw.length > MAX_ENV_VALUE_CHARS) return { problem: { path: leaf.path, env: name, message: `is longer than ${MAX_ENV_VALUE_CHARS} characters` } };
  const trimmed = raw.trim();
  if ((types.has('integer') || types.has('number')) && /^[+-]?\d+(\.\d+)?$/.test(trimmed)) return { value: Number(trimmed) };
  if (types.has('boolean') && (trimmed === 'true' || trimmed === 'false')) return { value: trimmed === 'true' };
  if (types.has('null') && trimmed === 'null') return { value: null };
  if (types.has('array')) {
    const itemTypes = leaf.schema.items === undefined ? new Set<string>() : acceptedTypes(leaf.schema.items);
    if (itemTypes.has('object') || trimmed.startsWith('[')) {
      try {
        return { value: JSON.parse(trimmed) as unknown };
      } catch {
        return { problem: { path: leaf.path, env: name, message: 'must be a JSON list' } };
      }
    }
    return { value: trimmed === '' ? [] : trimmed.split(',').map((part) => part.trim()) };
  }
  // Anything else is text; a number-typed key given text fails validation and shows the text.
  return { value: raw };
}

/** The overrides the environment gives, and the problems of variables that match no key. */
export function readEnvOverrides(env: NodeJS.ProcessEnv): { overrides: EnvOverride[]; problems: ConfigProblem[] } {
  const overrides: EnvOverride[] = [];
  const problems: ConfigProblem[] = [];
  const known = envTable();
  const sections = new Set([...known.values()].map((leaf) => envName(leaf.path.slice(0, 1))));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || OTHER_VARIABLES.has(name)) continue;
    const leaf = known.get(name);
    if (leaf === undefined) {
      // Only names inside one of our sections are surely meant for us; others are left alone.
      if ([...sections].some((section) => name.startsWith(`${section}_`))) {
        const close = suggest(name, known.keys());
        problems.push({ path: [], file: name, message: `no such setting${close === undefined ? '' : ` (did you mean ${close}?)`}` });
      }
      continue;
    }
    const read = readValue(name, raw, leaf);
    if ('problem' in read) problems.push(read.problem);
    else overrides.push({ name, path: leaf.path, value: read.value });
  }
  overrides.sort((a, b) => a.name.localeCompare(b.name));
  return { overrides, problems };
}

/** Writes the overrides into the parsed file (creating sections as needed). */
export function applyOverrides(raw: Record<string, unknown>, overrides: readonly EnvOverride[]): void {
  for (const { path, value } of overrides) {
    let node: Record<string, unknown> = raw;
    let ok = true;
    for (const key of path.slice(0, -1)) {
      const next = node[key];
      if (next === undefined || next === null) node[key] = {};
      else if (typeof next !== 'object' || Array.isArray(next)) {
        ok = false; // the file's own value is wrong here; validation reports it
        break;
      }
      node = node[key] as Record<string, unknown>;
    }
    if (ok) node[path[path.length - 1]!] = value;
  }
}
