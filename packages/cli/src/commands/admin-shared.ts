// What the cluster admin commands (gateways, services, sessions, see-other-host) share: the
// --registry option, durations, addresses normalised with @ambrosia/jid, registry errors as one
// readable line, aligned tables, and bounded polling for the outcome of a best-effort command.
import type { Command } from 'commander';
import { domainpartToASCII, isJidError, parseJID, type JID } from '@ambrosia/jid';
import { isRegistryError } from '@ambrosia/registry';
import { CliError, EXIT_USAGE } from '../output.js';
import { registryUrl } from '../registry.js';

export const REGISTRY_OPTION_HELP = 'registry URL (default $AMBROSIA_REGISTRY_URL or redis://127.0.0.1:6379)';

/** Adds `--registry` to a command group and returns a reader of the URL it resolves to. */
export function registryOption(group: Command): () => string {
  group.option('--registry <url>', REGISTRY_OPTION_HELP);
  return () => registryUrl(group.opts<{ registry?: string }>().registry);
}

/**
 * A registry error as one line: bad input is a usage error (exit 2), anything else (unreachable,
 * read-only, overloaded) a failure (exit 1). The registry's code prefix is kept out of the text.
 */
export function registryMessage(e: unknown): never {
  if (isRegistryError(e)) {
    const text = e.message.replace(/^REGISTRY_[A-Z_]+: /, '');
    if (e.code === 'REGISTRY_INVALID_ARGUMENT') throw new CliError(text, EXIT_USAGE, e.code);
    throw new CliError(`the registry refused: ${text}`, 1, e.code);
  }
  throw e;
}

// ---------------------------------------------------------------------------------------------
// Durations: `--ttl 10m`, `--wait 5s`.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The registry's own bound on lease and ttl values (docs/registry.md, Limits). */
export const MAX_DURATION_MS = 366 * 86_400_000;

/** `90s`, `10m`, `2h`, `7d`, `500ms`; `0` only where `allowZero`. */
export function parseDuration(text: string, flag: string, opts: { allowZero?: boolean } = {}): number {
  const match = /^(\d{1,9})(ms|s|m|h|d)$/.exec(text.trim());
  if (text.trim() === '0' && opts.allowZero) return 0;
  if (match === null) throw new CliError(`${flag} takes a duration such as 30s, 10m, 2h or 7d (got "${text}")`, EXIT_USAGE);
  const ms = Number(match[1]) * UNIT_MS[match[2]!]!;
  if (ms === 0 && !opts.allowZero) throw new CliError(`${flag} must be longer than 0`, EXIT_USAGE);
  if (ms > MAX_DURATION_MS) throw new CliError(`${flag} must be at most 366d (got "${text}")`, EXIT_USAGE);
  return ms;
}

/** `in 14s`, `3m ago`: a lease end or a start as a person reads it. */
export function relative(ms: number, now = Date.now()): string {
  const delta = ms - now;
  const abs = Math.abs(delta);
  const text =
    abs < 1_000 ? `${abs}ms` : abs < 120_000 ? `${Math.round(abs / 1_000)}s` : abs < 7_200_000 ? `${Math.round(abs / 60_000)}m` : abs < 172_800_000 ? `${Math.round(abs / 3_600_000)}h` : `${Math.round(abs / 86_400_000)}d`;
  return delta >= 0 ? `in ${text}` : `${text} ago`;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

// ---------------------------------------------------------------------------------------------
// Addresses, as the gateway spells them in the registry (U-label domains, PRECIS-prepared parts).

function parseAddress(text: string, what: string): JID {
  try {
    return parseJID(text);
  } catch (e) {
    // A JidError's message never echoes the input, so quoting it here is ours to do.
    if (isJidError(e)) throw new CliError(`"${text}" is not a valid ${what}: ${e.message}`, EXIT_USAGE, e.code);
    throw e;
  }
}

/** A bare JID `user@domain`, normalised; a resource, if given, is returned apart. */
export function accountAddress(text: string): { bareJid: string; resource?: string } {
  const jid = parseAddress(text, 'JID');
  if (jid.local === '') throw new CliError(`"${text}" is not a user's address: write it as user@domain`, EXIT_USAGE);
  return { bareJid: jid.bare.toString(), ...(jid.resource !== '' ? { resource: jid.resource } : {}) };
}

/** A see-other-host key: a bare JID or a domain (never a full JID: entries are per account or per domain). */
export function redirectKey(text: string): string {
  const jid = parseAddress(text, 'JID or domain');
  if (jid.resource !== '') throw new CliError(`"${text}" has a resource: see-other-host entries are for a bare JID or a domain`, EXIT_USAGE);
  return jid.local === '' ? jid.domain : jid.bare.toString();
}

/** A domain as the registry's service keys spell it: lower-case A-labels (what the gateway routes on). */
export function serviceDomain(text: string): string {
  const jid = parseAddress(text, 'domain');
  if (jid.local !== '' || jid.resource !== '') throw new CliError(`"${text}" is not a domain`, EXIT_USAGE);
  return domainpartToASCII(jid.domain);
}

// ---------------------------------------------------------------------------------------------
// Output

/** Columns padded to their widest cell; the last column is not padded. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

export function pageLimit(text: string): number {
  const limit = Number(text);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new CliError('--limit must be an integer from 1 to 1000', EXIT_USAGE);
  return limit;
}

// ---------------------------------------------------------------------------------------------

const POLL_INTERVAL_MS = 100;

/**
 * Kick and drain are pub/sub commands, at most once (docs/registry.md, Events): the CLI checks
 * their outcome in the registry. Polls `check` until it returns true or `waitMs` passed.
 */
export async function pollUntil(check: () => Promise<boolean>, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, Math.min(POLL_INTERVAL_MS, Math.max(1, deadline - Date.now()))));
  }
}
