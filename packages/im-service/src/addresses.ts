// Addresses as the IM service needs them: parsed once, compared as normalised strings.
import { tryParseJID, type JID } from '@ambrosia/jid';

/** Parses an address attribute; undefined when absent, null when present but malformed. */
export function parseAddress(value: string | undefined): JID | undefined | null {
  if (value === undefined) return undefined;
  return tryParseJID(value) ?? null;
}

/**
 * XEP-0191 §6 (and RFC 6121 §2.1 for the forms): the blocklist entries that match an address —
 * the full JID itself, its bare JID, its domain with its resource, and its domain.
 */
export function blockCandidates(address: JID): string[] {
  const forms = new Set<string>([address.toString(), address.toBareString(), address.domain]);
  if (address.resource !== '') forms.add(`${address.domain}/${address.resource}`);
  return [...forms];
}

/** Whether a blocklist (normalised JIDs) matches an address. */
export function matchesBlocklist(blocklist: ReadonlySet<string>, address: JID): boolean {
  if (blocklist.size === 0) return false;
  return blockCandidates(address).some((form) => blocklist.has(form));
}
