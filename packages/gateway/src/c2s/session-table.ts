// The sessions this gateway holds: every client stream from accept to close (negotiating,
// established or detached awaiting resumption), indexed by session id, by bound full JID and by
// bare JID. The service hub delivers through it (`LocalSessions`); the edge's hooks keep it.

import { tryParseJID, type JID } from '@ambrosia/jid';
import type { ClientStream } from '@ambrosia/stream';
import type { Element } from '@ambrosia/xml';
import type { LocalSessions, SessionDeliveryOutcome } from '../contracts.js';
import type { TransportKind } from './socket-transport.js';

export interface SessionEntry {
  stream: ClientStream;
  /** How the client reached us: picks the see-other-host port when draining. */
  transport: TransportKind;
  /** ms since the epoch, accept time. */
  since: number;
  /** The full JID while bound (or resumed). */
  jid: JID | undefined;
  /** Set when this gateway ended the session on purpose (kick, conflict, shutdown): for the closed event. */
  endReason: string | undefined;
  /** The XEP-0198 SM-ID written to the registry's resumption records, to delete it at the end. */
  resumptionId: string | undefined;
  /** Last broadcast presence written to the registry's session record (RFC 6121 §4.7.2.3). */
  presence: { available: boolean; priority: number };
}

export const DEFAULT_MAX_SESSIONS = 100_000;

export class SessionTable implements LocalSessions {
  private readonly entries = new Map<string, SessionEntry>();
  private readonly byFullJid = new Map<string, string>();
  private readonly byBareJid = new Map<string, Set<string>>();

  constructor(readonly maxSessions: number = DEFAULT_MAX_SESSIONS) {
    if (!Number.isSafeInteger(maxSessions) || maxSessions < 1) throw new RangeError('maxSessions must be a positive integer');
  }

  /** Accepted connections whose stream is not made yet (they have not sent a byte). */
  private reserved = 0;

  /** Connections held (silent, negotiating, established and detached). */
  get size(): number {
    return this.entries.size + this.reserved;
  }

  /** At the max-sessions bound: new connections are refused with `resource-constraint`. */
  get full(): boolean {
    return this.size >= this.maxSessions;
  }

  /** Counts a connection that has no stream yet; `unreserve()` when it gets one (then `add`) or goes. */
  reserve(): void {
    this.reserved++;
  }

  unreserve(): void {
    if (this.reserved > 0) this.reserved--;
  }

  add(stream: ClientStream, transport: TransportKind): SessionEntry {
    const entry: SessionEntry = { stream, transport, since: Date.now(), jid: undefined, endReason: undefined, resumptionId: undefined, presence: { available: false, priority: 0 } };
    this.entries.set(stream.sessionId, entry);
    return entry;
  }

  get(sessionId: string): SessionEntry | undefined {
    return this.entries.get(sessionId);
  }

  /** Indexes the stream under its bound full JID; a previous holder's index entry is overwritten. */
  bind(stream: ClientStream, jid: JID): void {
    const entry = this.entries.get(stream.sessionId);
    if (entry === undefined) return;
    entry.jid = jid;
    this.byFullJid.set(jid.toString(), stream.sessionId);
    const bare = jid.bare.toString();
    let set = this.byBareJid.get(bare);
    if (set === undefined) this.byBareJid.set(bare, (set = new Set()));
    set.add(stream.sessionId);
  }

  remove(stream: ClientStream): SessionEntry | undefined {
    const entry = this.entries.get(stream.sessionId);
    if (entry === undefined) return undefined;
    this.entries.delete(stream.sessionId);
    const jid = entry.jid;
    if (jid !== undefined) {
      const full = jid.toString();
      // Only this session's index entry: a newer session may hold the full JID already.
      if (this.byFullJid.get(full) === stream.sessionId) this.byFullJid.delete(full);
      const bare = jid.bare.toString();
      const set = this.byBareJid.get(bare);
      set?.delete(stream.sessionId);
      if (set?.size === 0) this.byBareJid.delete(bare);
    }
    return entry;
  }

  /** Sessions of one account held here (bound or detached). */
  forBareJid(bareJid: string): SessionEntry[] {
    const ids = this.byBareJid.get(bareJid);
    if (ids === undefined) return [];
    const out: SessionEntry[] = [];
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (entry !== undefined) out.push(entry);
    }
    return out;
  }

  values(): IterableIterator<SessionEntry> {
    return this.entries.values();
  }

  counts(): { connections: number; silent: number; negotiating: number; established: number; detached: number; bound: number } {
    let negotiating = 0;
    let established = 0;
    let detached = 0;
    for (const { stream } of this.entries.values()) {
      const state = stream.state;
      if (state === 'negotiating') negotiating++;
      else if (state === 'established') established++;
      else if (state === 'detached') detached++;
    }
    return { connections: this.size, silent: this.reserved, negotiating, established, detached, bound: this.byFullJid.size };
  }

  // -- LocalSessions (contracts.ts), used by the service hub --

  deliver(sessionId: string, stanza: Element, onOutcome?: (outcome: SessionDeliveryOutcome) => void): 'sent' | 'queued' | 'refused' {
    const entry = this.entries.get(sessionId);
    if (entry === undefined) return 'refused';
    // A stanza written to a stream without XEP-0198 is as delivered as we can know.
    return entry.stream.deliver(stanza, onOutcome === undefined ? undefined : { onOutcome: (outcome) => onOutcome(outcome === 'undelivered' ? 'undelivered' : 'delivered') });
  }

  sessionFor(fullJid: string): string | undefined {
    const found = this.byFullJid.get(fullJid);
    if (found !== undefined) return found;
    // The hub normally passes prepared JIDs; a non-canonical spelling is prepared once here.
    const parsed = tryParseJID(fullJid);
    if (parsed === undefined || parsed.resource === '') return undefined;
    const canonical = parsed.toString();
    return canonical === fullJid ? undefined : this.byFullJid.get(canonical);
  }
}
