// Configuration problems as one readable line each: the key path, what is wrong, the value
// found, and the environment variable it came from. `ambrosia: config: gateway.ports.c2s: must
// be a port from 0 to 65535 (got "abc")`.
import type * as z from 'zod';

export interface ConfigProblem {
  /** Key path, e.g. ['gateway', 'ports', 'c2s'] or ['gateway', 'domainCertificates', 0, 'cert']; [] for the file itself. */
  path: ReadonlyArray<string | number>;
  message: string;
  /** The environment variable that gave the value, if one did. */
  env?: string;
  /** The configuration file, for problems reading or parsing it. */
  file?: string;
}

export const CONFIG_EXIT_CODE = 2;

/** Thrown by loadConfig and checkConfigFiles: every problem found, not just the first. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = CONFIG_EXIT_CODE;
  constructor(readonly problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }
}

export function isConfigError(error: unknown): error is ConfigError {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 'CONFIG_INVALID' && Array.isArray((error as ConfigError).problems);
}

/** `gateway.domainCertificates[0].cert` */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out === '' ? part : `.${part}`;
  return out;
}

/** One line, without the `ambrosia: ` prefix the CLI adds. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.path.length > 0 ? formatPath(problem.path) : problem.file ?? 'configuration';
  return `config: ${where}: ${problem.message}${problem.env === undefined ? '' : ` (from ${problem.env})`}`;
}

const MAX_SHOWN_CHARS = 80;

/** A value as shown in "(got …)": short, and never a password from a URL. */
export function describeValue(value: unknown, path: ReadonlyArray<string | number>): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') {
    let shown = path[path.length - 1] === 'url' ? value.replace(/(\/\/[^:/@]*:)[^@/]*@/, '$1***@') : value;
    if (shown.length > MAX_SHOWN_CHARS) shown = `${shown.slice(0, MAX_SHOWN_CHARS)}…`;
    return JSON.stringify(shown);
  }
  return String(value);
}

const TYPE_NAMES: Record<string, string> = {
  string: 'text',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping of keys',
  null: 'null',
};

/** The message for an issue whose schema gave none (wrong type of section, list bounds, ...). */
export function fallbackMessage(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return `must be ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return issue.origin === 'array' ? `needs at least ${String(issue.minimum)} entries` : `must be at least ${String(issue.minimum)}`;
    case 'too_big':
      return issue.origin === 'array' ? `takes at most ${String(issue.maximum)} entries` : `must be at most ${String(issue.maximum)}`;
    case 'invalid_format':
      return `must be ${issue.format}`;
    default:
      return 'is not valid';
  }
}

/** Levenshtein distance, for "did you mean". Keys are short, so the quadratic table is fine. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}

/** The closest known name, if close enough to be a typo. */
export function suggest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}
