// `ambrosia see-other-host set|get|del|list`: the registry's redirect map (RFC 6120 §4.9.3.19).
// A domain's entry sends every client opening a stream to that domain elsewhere (answered to the
// stream header); a bare JID's entry sends that account elsewhere after it authenticates.
import { isIP } from 'node:net';
import type { Command } from 'commander';
import { domainpartToASCII } from '@ambrosia/jid';
import type { SeeOtherHostEntry } from '@ambrosia/registry';
import { CliError, EXIT_USAGE, type Output } from '../output.js';
import { withRegistry } from '../registry.js';
import { iso, pageLimit, parseDuration, redirectKey, registryMessage, registryOption, relative, table } from './admin-shared.js';

/**
 * RFC 6120 §4.9.3.19: the value is a hostname or IP address, optionally with a port; an IPv6
 * address goes in brackets (RFC 3986 §3.2.2). An internationalised host name becomes A-labels,
 * since the client resolves it in the DNS. Returns the canonical `host[:port]`.
 */
export function seeOtherHostTarget(text: string): string {
  const bad = (why: string): never => {
    throw new CliError(`"${text}" is not a see-other-host target (host[:port]): ${why}`, EXIT_USAGE);
  };
  if (/[/@?#\s]/.test(text)) bad('write host[:port] alone, without a scheme, user or path');
  let host: string;
  let port: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) bad('an IPv6 literal needs its closing "]"');
    host = text.slice(1, close);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) bad('only ":port" may follow "]"');
    port = rest === '' ? undefined : rest.slice(1);
    if (isIP(host) !== 6) bad('the bracketed address is not IPv6');
    host = `[${host.toLowerCase()}]`;
  } else {
    const colons = text.split(':').length - 1;
    if (colons > 1) bad(isIP(text) === 6 ? `write an IPv6 address in brackets: [${text}]` : 'too many ":"');
    const at = text.indexOf(':');
    host = at < 0 ? text : text.slice(0, at);
    port = at < 0 ? undefined : text.slice(at + 1);
    if (host === '') bad('the host is missing');
    if (isIP(host) !== 4) {
      let ascii = '';
      try {
        ascii = domainpartToASCII(host);
      } catch {
        bad('the host is not a host name or IPv4 address');
      }
      // A DNS name: letters, digits, hyphens (and '_' some deployments use); not a literal in brackets.
      if (!/^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/.test(ascii)) bad('the host is not a host name or IPv4 address');
      host = ascii;
    }
  }
  if (port !== undefined && (!/^[0-9]{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) bad('the port must be 1-65535');
  return port === undefined ? host : `${host}:${Number(port)}`;
}

interface EntryOut {
  key: string;
  target: string;
  expiresAt?: string;
}

function entryOut(entry: SeeOtherHostEntry): EntryOut {
  return { key: entry.key, target: entry.target, ...(entry.expiresAt !== undefined ? { expiresAt: iso(entry.expiresAt) } : {}) };
}

function expiryText(entry: SeeOtherHostEntry): string {
  return entry.expiresAt === undefined ? 'never' : relative(entry.expiresAt);
}

export function registerSeeOtherHostCommands(program: Command, getOutput: () => Output): void {
  const soh = program
    .command('see-other-host')
    .description('redirect a domain or an account to another host (RFC 6120 §4.9.3.19 see-other-host)');
  const url = registryOption(soh);

  soh
    .command('set <jid-or-domain> <host[:port]>')
    .description('send clients of a domain (at the stream header) or of one account (after login) to host[:port]')
    .option('--ttl <duration>', 'remove the entry after this long (e.g. 30s, 10m, 2h, 7d; at most 366d); default: never')
    .action(async (keyText: string, targetText: string, flags: { ttl?: string }) => {
      const key = redirectKey(keyText);
      const target = seeOtherHostTarget(targetText);
      const ttlMs = flags.ttl === undefined ? undefined : parseDuration(flags.ttl, '--ttl');
      const entry = await withRegistry(url(), async (registry) => {
        await registry.seeOtherHost.set(key, target, ttlMs === undefined ? {} : { ttlMs }).catch(registryMessage);
        return registry.seeOtherHost.get(key).catch(registryMessage);
      });
      const out = entry === undefined ? { key, target } : entryOut(entry);
      getOutput().result(out, () => `${key} → ${target}${ttlMs === undefined ? '' : ` (expires ${relative(Date.now() + ttlMs)})`}`);
    });

  soh
    .command('get <jid-or-domain>')
    .description("show the entry for a bare JID or a domain (--resolve: what a login of that JID meets: its own entry, else its domain's)")
    .option('--resolve', "fall back to the domain's entry, as the gateway does")
    .action(async (keyText: string, flags: { resolve?: boolean }) => {
      const key = redirectKey(keyText);
      const entry = await withRegistry(url(), (registry) => (flags.resolve ? registry.seeOtherHost.resolve(key) : registry.seeOtherHost.get(key)).catch(registryMessage));
      if (entry === undefined) throw new CliError(`no see-other-host entry for ${key}${flags.resolve && key.includes('@') ? ' or its domain' : ''}`);
      getOutput().result(entryOut(entry), () => `${entry.key} → ${entry.target} (expires ${expiryText(entry)})`);
    });

  soh
    .command('del <jid-or-domain>')
    .description('remove the entry for a bare JID or a domain')
    .action(async (keyText: string) => {
      const key = redirectKey(keyText);
      const deleted = await withRegistry(url(), (registry) => registry.seeOtherHost.delete(key).catch(registryMessage));
      if (!deleted) throw new CliError(`no see-other-host entry for ${key}`);
      getOutput().result({ key, deleted: true }, () => `deleted the see-other-host entry for ${key}`);
    });

  soh
    .command('list')
    .description('list the entries in key order, a page at a time')
    .option('--limit <n>', 'entries per page (1-1000)', '100')
    .option('--cursor <cursor>', 'the cursor printed with the previous page')
    .action(async (flags: { limit: string; cursor?: string }) => {
      const limit = pageLimit(flags.limit);
      const page = await withRegistry(url(), (registry) =>
        registry.seeOtherHost.list({ limit, ...(flags.cursor !== undefined ? { cursor: flags.cursor } : {}) }).catch(registryMessage),
      );
      const out = { entries: page.entries.map(entryOut), ...(page.cursor !== undefined ? { cursor: page.cursor } : {}) };
      getOutput().result(out, () => {
        if (page.entries.length === 0) return 'no see-other-host entries';
        const rows = page.entries.map((e) => [e.key, e.target, expiryText(e)]);
        return [table(['key', 'target', 'expires'], rows), ...(page.cursor !== undefined ? [`(more: --cursor ${page.cursor})`] : [])].join('\n');
      });
    });
}
