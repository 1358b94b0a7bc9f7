// Many client sessions in one process: log them in with bounded concurrency, keep them idle,
// or make pairs exchange timestamped messages; then close them all.
import { escapeAttribute, type Element } from '@ambrosia/xml';
import { LoginError, XmppConnection, type Account, type LoadTarget } from './connection.js';
import { SaltedPasswordCache } from './scram.js';
import { LatencySamples, cpuSecondsSince, percentilesOf } from './stats.js';

export interface OpenOptions {
  /** Logins in flight at once; default 100. */
  concurrency?: number;
  /** Send initial presence after binding; default false. */
  presence?: boolean;
  /** Bound on each negotiation step; default 10 s. */
  stepTimeoutMs?: number;
  /** Source address for these connections. */
  localAddress?: string;
  /** Resource at bind; default `load`. */
  resource?: string;
}

export interface OpenResult {
  opened: number;
  failed: number;
  /** Failure reasons with counts (at most MAX_ERROR_KINDS kinds). */
  errors: Record<string, number>;
  /** From the first connect to the last bind. */
  elapsedMs: number;
  /** Per login: connect to bound (and presence sent), ms. */
  loginP50Ms: number;
  loginP99Ms: number;
  /** CPU this process spent on the logins. */
  clientCpuSeconds: number;
}

export interface ExchangeOptions {
  /** Indices (into the opened accounts) of sender and receiver; messages go to the bare JID. */
  pairs: ReadonlyArray<readonly [number, number]>;
  /** Measured period after the warm-up; default 10 s. */
  durationMs?: number;
  /** Sent and received but not counted; default 1 s. */
  warmupMs?: number;
  /** Messages in flight per pair (sent, not yet received); default 4. */
  window?: number;
  /** Body length in bytes; default 200. */
  bodyBytes?: number;
  /** After the measured period, bound on the wait for messages in flight; default 10 s. */
  drainTimeoutMs?: number;
}

export interface ExchangeResult {
  sent: number;
  received: number;
  /** Received during the measured period, and sent after its start. */
  measured: number;
  measuredMs: number;
  /** Sent but never received within the drain timeout. */
  lost: number;
  /** Received with a sequence number not above the last one of the pair (RFC 6120 §10.1 order). */
  outOfOrder: number;
  /** `<message type='error'>` received. */
  errors: number;
  /** Kept latency samples of the measured period (ms). */
  latencies: Float64Array;
  clientCpuSeconds: number;
}

/** Distinct failure reasons kept; the rest are counted under "other". */
const MAX_ERROR_KINDS = 20;
/** Stop writing to a sender whose socket holds this much unsent data. */
const MAX_SENDER_BACKLOG_BYTES = 256 * 1024;
/** How often stalled senders are retried. */
const PUMP_INTERVAL_MS = 20;

const FILLER = 'Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. ';

interface PairState {
  index: number;
  sender: XmppConnection;
  to: string;
  inFlight: number;
  nextSeq: number;
  lastReceivedSeq: number;
}

interface ExchangeState {
  /** Carried in every body: a straggler from an earlier exchange is not counted in this one. */
  id: number;
  pairs: PairState[];
  window: number;
  bodyBytes: number;
  padding: string;
  sending: boolean;
  measureStart: number;
  measureEnd: number;
  sent: number;
  received: number;
  measured: number;
  outOfOrder: number;
  errors: number;
  samples: LatencySamples;
  onIdle: (() => void) | undefined;
}

export class Fleet {
  /** Open sessions by account index (undefined: not opened, failed or closed). */
  readonly sessions: Array<XmppConnection | undefined> = [];
  private accounts: readonly Account[] = [];
  private exchangeState: ExchangeState | undefined;
  private exchanges = 0;
  /** Stanzas received outside an exchange, by session index (tests read them). */
  onStanza: ((index: number, stanza: Element) => void) | undefined;

  constructor(
    readonly target: LoadTarget,
    readonly cache = new SaltedPasswordCache(),
  ) {}

  get openCount(): number {
    return this.sessions.reduce((n, s) => n + (s?.isOpen ? 1 : 0), 0);
  }

  bareJid(index: number): string {
    return `${this.accounts[index]!.username}@${this.target.domain}`;
  }

  async open(accounts: readonly Account[], options: OpenOptions = {}): Promise<OpenResult> {
    this.accounts = accounts;
    const concurrency = Math.max(1, options.concurrency ?? 100);
    const errors: Record<string, number> = {};
    const loginMs: number[] = [];
    let failed = 0;
    let next = 0;
    const cpuStart = process.cpuUsage();
    const start = performance.now();
    const worker = async (): Promise<void> => {
      while (next < accounts.length) {
        const index = next++;
        const began = performance.now();
        try {
          this.sessions[index] = await XmppConnection.login(this.target, accounts[index]!, {
            cache: this.cache,
            presence: options.presence ?? false,
            ...(options.stepTimeoutMs !== undefined ? { stepTimeoutMs: options.stepTimeoutMs } : {}),
            ...(options.localAddress !== undefined ? { localAddress: options.localAddress } : {}),
            ...(options.resource !== undefined ? { resource: options.resource } : {}),
            onStanza: (stanza) => this.dispatch(index, stanza),
          });
          loginMs.push(performance.now() - began);
        } catch (error) {
          failed++;
          const reason = (error instanceof LoginError ? error.message : String(error)).slice(0, 160);
          const key = reason in errors || Object.keys(errors).length < MAX_ERROR_KINDS ? reason : 'other';
          errors[key] = (errors[key] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, accounts.length) }, worker));
    const elapsedMs = performance.now() - start;
    const [p50, p99] = percentilesOf(loginMs, [50, 99]);
    return {
      opened: loginMs.length,
      failed,
      errors,
      elapsedMs,
      loginP50Ms: p50!,
      loginP99Ms: p99!,
      clientCpuSeconds: cpuSecondsSince(cpuStart),
    };
  }

  /** Each pair's sender keeps `window` messages in flight to its receiver for the whole run. */
  async exchange(options: ExchangeOptions): Promise<ExchangeResult> {
    if (this.exchangeState) throw new Error('an exchange is already running');
    const warmupMs = options.warmupMs ?? 1000;
    const durationMs = options.durationMs ?? 10_000;
    const bodyBytes = options.bodyBytes ?? 200;
    const pairs: PairState[] = options.pairs.map(([from, to], index) => {
      const sender = this.sessions[from];
      if (!sender?.isOpen || !this.sessions[to]?.isOpen) throw new Error(`pair ${index}: session ${sender?.isOpen ? to : from} is not open`);
      return { index, sender, to: escapeAttribute(this.bareJid(to)), inFlight: 0, nextSeq: 0, lastReceivedSeq: -1 };
    });
    const start = performance.now();
    const state: ExchangeState = {
      id: ++this.exchanges,
      pairs,
      window: Math.max(1, options.window ?? 4),
      bodyBytes,
      // The header "<exchange> <pair> <seq> <ms> " is ~30 bytes; the filler makes up the rest.
      padding: FILLER.repeat(Math.ceil(bodyBytes / FILLER.length) + 1),
      sending: true,
      measureStart: start + warmupMs,
      measureEnd: start + warmupMs + durationMs,
      sent: 0,
      received: 0,
      measured: 0,
      outOfOrder: 0,
      errors: 0,
      samples: new LatencySamples(),
      onIdle: undefined,
    };
    this.exchangeState = state;
    const cpuStart = process.cpuUsage();
    const pumpAll = () => {
      for (const pair of pairs) this.pump(state, pair);
    };
    const ticker = setInterval(pumpAll, PUMP_INTERVAL_MS);
    try {
      pumpAll();
      await new Promise((r) => setTimeout(r, warmupMs + durationMs));
      state.sending = false;
      const inFlight = () => pairs.reduce((n, p) => n + p.inFlight, 0);
      if (inFlight() > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, options.drainTimeoutMs ?? 10_000);
          state.onIdle = () => {
            if (inFlight() === 0) {
              clearTimeout(timer);
              resolve();
            }
          };
        });
      }
      return {
        sent: state.sent,
        received: state.received,
        measured: state.measured,
        measuredMs: durationMs,
        lost: inFlight(),
        outOfOrder: state.outOfOrder,
        errors: state.errors,
        latencies: state.samples.values(),
        clientCpuSeconds: cpuSecondsSince(cpuStart),
      };
    } finally {
      clearInterval(ticker);
      this.exchangeState = undefined;
    }
  }

  /** Closes every open session, `concurrency` closing handshakes at a time. */
  async closeAll(concurrency = 500): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < this.sessions.length) {
        const session = this.sessions[next];
        this.sessions[next++] = undefined;
        await session?.close();
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, this.sessions.length)) }, worker));
  }

  private pump(state: ExchangeState, pair: PairState): void {
    while (state.sending && pair.inFlight < state.window && pair.sender.isOpen && pair.sender.writableLength < MAX_SENDER_BACKLOG_BYTES) {
      const header = `${state.id} ${pair.index} ${pair.nextSeq++} ${performance.now().toFixed(3)} `;
      const body = header + state.padding.slice(0, Math.max(0, state.bodyBytes - header.length));
      pair.sender.send(`<message to='${pair.to}' type='chat' id='m${pair.nextSeq}'><body>${body}</body></message>`);
      pair.inFlight++;
      state.sent++;
    }
  }

  private dispatch(index: number, stanza: Element): void {
    const state = this.exchangeState;
    if (!state || stanza.name !== 'message') {
      this.onStanza?.(index, stanza);
      return;
    }
    if (stanza.attrs.type === 'error') {
      state.errors++;
      return;
    }
    const body = stanza.getChildText('body');
    if (body === null) return; // chat states, receipts: not ours
    const now = performance.now();
    const [idText, pairText, seqText, sentText] = body.split(' ', 4);
    const pair = state.pairs[Number(pairText)];
    const sentAt = Number(sentText);
    if (Number(idText) !== state.id || !pair || !Number.isFinite(sentAt)) return;
    const seq = Number(seqText);
    if (seq <= pair.lastReceivedSeq) state.outOfOrder++;
    else pair.lastReceivedSeq = seq;
    pair.inFlight--;
    state.received++;
    if (sentAt >= state.measureStart && now <= state.measureEnd) {
      state.measured++;
      state.samples.record(now - sentAt);
    }
    if (state.sending) this.pump(state, pair);
    else state.onIdle?.();
  }
}
