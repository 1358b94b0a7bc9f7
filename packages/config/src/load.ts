// Loading the configuration: the YAML file (if any), then the AMBROSIA_* overrides, then the
// schema. Every problem is collected and reported at once, one line each; nothing starts on a
// configuration with any problem.
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { applyOverrides, CA_DIR_ENV, CONFIG_FILE_ENV, readEnvOverrides } from './env.js';
import { configLeaves, pathKeyNames } from './json-schema.js';
import { ConfigError, describeValue, fallbackMessage, suggest, type ConfigProblem } from './problems.js';
import { configSchema, DEFAULT_CA_DIR, type AmbrosiaConfig } from './schema.js';

/** Largest configuration file read. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** YAML aliases expanded at most (a "billion laughs" file stops here). */
export const MAX_YAML_ALIASES = 100;
/** Looked for in the working directory when no file is named. */
export const DEFAULT_CONFIG_FILE = 'ambrosia.yaml';

export interface LoadConfigOptions {
  /** A file named by the user (--config): it must exist. */
  file?: string;
  /** Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Default process.cwd(): where relative paths from the environment and the default file are taken. */
  cwd?: string;
  /** Look for ./ambrosia.yaml when no file is named (default true). */
  useDefaultFile?: boolean;
}

export interface LoadedConfig {
  config: AmbrosiaConfig;
  /** The file read, absolute; undefined when running on defaults and the environment. */
  file: string | undefined;
  /** The AMBROSIA_* variables applied. */
  env: string[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}

async function chooseFile(options: LoadConfigOptions, env: NodeJS.ProcessEnv, cwd: string): Promise<string | undefined> {
  if (options.file !== undefined) return resolve(cwd, options.file);
  const fromEnv = env[CONFIG_FILE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return resolve(cwd, fromEnv);
  if (options.useDefaultFile === false) return undefined;
  const fallback = resolve(cwd, DEFAULT_CONFIG_FILE);
  return (await exists(fallback)) ? fallback : undefined;
}

async function readYaml(path: string): Promise<{ raw: Record<string, unknown> } | { problems: ConfigProblem[] }> {
  let text: string;
  try {
    const info = await stat(path);
    if (!info.isFile()) return { problems: [{ path: [], file: path, message: 'is not a file' }] };
    if (info.size > MAX_CONFIG_BYTES) return { problems: [{ path: [], file: path, message: `is larger than ${MAX_CONFIG_BYTES} bytes` }] };
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { problems: [{ path: [], file: path, message: code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? 'error'})` }] };
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((error) => {
        const at = lineCounter.linePos(error.pos[0]);
        return { path: [], file: `${path}:${at.line}:${at.col}`, message: error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') };
      }),
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (error) {
    return { problems: [{ path: [], file: path, message: (error as Error).message }] };
  }
  if (value === null || value === undefined) return { raw: {} };
  if (typeof value !== 'object' || Array.isArray(value)) return { problems: [{ path: [], file: path, message: 'must be a mapping of sections (registry, gateway, imService, log)' }] };
  return { raw: value as Record<string, unknown> };
}

function valueAt(root: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

/** Which known keys a mapping at `path` has, for "did you mean". */
function knownKeysAt(path: ReadonlyArray<PropertyKey>): string[] {
  const keys = new Set<string>();
  const prefix = path.filter((p): p is string => typeof p === 'string');
  const depth = prefix.length;
  for (const leaf of configLeaves()) {
    if (leaf.path.length > depth && prefix.every((p, i) => leaf.path[i] === p)) keys.add(leaf.path[depth]!);
  }
  // Keys of list items (domainCertificates[n].cert) are not leaves of the walk; they are few.
  if (prefix[prefix.length - 1] === 'domainCertificates') ['domain', 'cert', 'key'].forEach((k) => keys.add(k));
  return [...keys];
}

function problemsOf(issues: ReadonlyArray<{ code: string; path: PropertyKey[]; message: string; keys?: string[] }>, raw: unknown, envOf: (path: ReadonlyArray<string | number>) => string | undefined): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(path);
      for (const key of issue.keys ?? []) {
        const close = suggest(key, known);
        problems.push({ path: [...path, key], message: `unknown key${close === undefined ? '' : ` (did you mean ${close}?)`}` });
      }
      continue;
    }
    const value = valueAt(raw, path);
    const env = envOf(path);
    let message = issue.message;
    if (issue.code === 'custom') {
      // A rule on one value shows it; a rule across keys names what is needed instead.
      if (['string', 'number', 'boolean'].includes(typeof value)) message = `${message} (got ${describeValue(value, path)})`;
    } else if (value === undefined) {
      message = `is missing (${message})`;
    } else {
      message = `${message} (got ${describeValue(value, path)})`;
    }
    problems.push({ path, message, ...(env === undefined ? {} : { env }) });
  }
  return problems;
}

/** Makes every path key absolute: from the file's directory, or the working directory for the environment and defaults. */
function resolvePaths(config: AmbrosiaConfig, base: { file: string | undefined; cwd: string }, fromEnv: (path: readonly string[]) => boolean, env: NodeJS.ProcessEnv): void {
  const fileDir = base.file === undefined ? base.cwd : dirname(base.file);
  const absolute = (value: string, path: readonly string[]): string => (isAbsolute(value) ? value : resolve(fromEnv(path) ? base.cwd : fileDir, value));
  const walk = (node: unknown, path: string[]): void => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      const here = [...path, key];
      if (typeof value === 'string' && PATH_KEYS.has(key)) (node as Record<string, unknown>)[key] = absolute(value, here);
      else walk(value, here);
    }
  };
  walk(config, []);
  // The CA directory: with no certificate files, the one `ambrosia ca init` writes by default.
  if (config.gateway.tls.caDir === undefined && config.gateway.tls.channelCert === undefined) {
    config.gateway.tls.caDir = resolve(base.cwd, env[CA_DIR_ENV] ?? DEFAULT_CA_DIR);
  }
  if (config.imService !== undefined && config.imService.tls.caDir === undefined && config.imService.tls.cert === undefined) {
    config.imService.tls.caDir = resolve(base.cwd, env[CA_DIR_ENV] ?? DEFAULT_CA_DIR);
  }
}

/** Keys holding a path (marked `format: path` in the schema). */
const PATH_KEYS = pathKeyNames();

/**
 * Reads, overrides and validates. Rejects with a ConfigError listing every problem; resolves
 * the configuration with every default filled in and every path absolute.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const chosen = await chooseFile(options, env, cwd);
  const problems: ConfigProblem[] = [];
  let raw: Record<string, unknown> = {};
  if (chosen !== undefined) {
    const read = await readYaml(chosen);
    if ('problems' in read) throw new ConfigError(read.problems);
    raw = read.raw;
  }
  const { overrides, problems: envProblems } = readEnvOverrides(env);
  problems.push(...envProblems);
  applyOverrides(raw, overrides);
  const envOf = (path: ReadonlyArray<string | number>): string | undefined => {
    const text = path.join('.');
    return overrides.find((o) => text === o.path.join('.') || text.startsWith(`${o.path.join('.')}.`))?.name;
  };

  const parsed = configSchema.safeParse(raw, { error: (issue) => fallbackMessage(issue) });
  if (!parsed.success) problems.push(...problemsOf(parsed.error.issues as never, raw, envOf));
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const config = parsed.data;
  resolvePaths(config, { file: chosen, cwd }, (path) => envOf(path) !== undefined, env);
  return { config, file: chosen, env: overrides.map((o) => o.name) };
}
