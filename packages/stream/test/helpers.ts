// Test support: an in-memory transport, an authenticator over the real SaslServer, a SCRAM
// client computed with node:crypto, and a transcript harness in the style of Prosody's scansion
// ("client sends X / server sends Y", Y matched exactly with generated values captured).

import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { StanzaError } from '@ambrosia/errors';
import type { JID } from '@ambrosia/jid';
import { SaslServer, makeScramCredentials, type CredentialRecord, type SaslContext, type SaslServerOptions } from '@ambrosia/sasl';
import { serialize, type Element } from '@ambrosia/xml';
import { expect } from 'vitest';
import {
  ClientStream,
  ManualClock,
  type BindOutcome,
  type BindRequest,
  type ClientStreamHooks,
  type ClientStreamOptions,
  type DomainResolution,
  type ResumeLookup,
  type StanzaContext,
  type StreamAuthenticator,
  type StreamClosedInfo,
  type StreamTransport,
  type TlsInfo,
} from '../src/index.js';

export const DOMAIN = 'example.com';
export const PASSWORD = 'r0m30myr0m30';
/** Minimum the sasl package allows; the tests compute SaltedPassword themselves. */
export const ITERATIONS = 4096;
export const SALT = Buffer.from('0123456789abcdef');
/** Fixed nonces make a whole login byte-for-byte predictable (the split-at-every-byte test). */
export const SERVER_NONCE = 'serverNONCEserverNONCE';
export const CLIENT_NONCE = 'clientNONCEclientNONCE';

let cachedCredentials: CredentialRecord | undefined;
export async function credentials(): Promise<CredentialRecord> {
  cachedCredentials ??= await makeScramCredentials(PASSWORD, { iterations: ITERATIONS, salt: SALT });
  return cachedCredentials;
}

/** An authenticator over the real SaslServer: @ambrosia/auth's shape without its policy layer. */
export function testAuthenticator(accounts: Record<string, CredentialRecord>, options: SaslServerOptions = {}): StreamAuthenticator {
  const saslOptions: SaslServerOptions = { nonce: () => SERVER_NONCE, decoyIterations: ITERATIONS, ...options };
  const template = new SaslServer(saslOptions);
  return {
    offeredMechanisms: (offer) => template.offeredMechanisms(offer),
    session(connection) {
      const server = new SaslServer(saslOptions);
      const { ip: _ip, ...rest } = connection;
      const ctx: SaslContext = {
        ...rest,
        lookup: async (username) => {
          const record = accounts[username];
          return record === undefined ? { kind: 'unknown' } : { kind: 'found', username, record };
        },
      };
      return {
        start: (mechanism, data) => server.start(mechanism, data, ctx),
        step: (data) => server.step(data),
        abort: () => server.abort(),
        get identity() {
          return server.identity;
        },
      };
    },
  };
}

/** The transport end the tests hold: records output, and lets a test play a slow reader. */
export class MemoryTransport implements StreamTransport {
  remoteAddress = '127.0.0.1';
  canStartTls = true;
  /** What `write` answers: false plays a transport above its high-water mark. */
  accepting = true;
  paused = false;
  closed = false;
  destroyed = false;
  startTlsCalls = 0;
  written = 0;
  private chunks: Buffer[] = [];

  write(data: Buffer): boolean {
    this.chunks.push(Buffer.from(data));
    this.written += data.length;
    return this.accepting;
  }
  startTls(): void {
    this.startTlsCalls++;
  }
  pauseReading(): void {
    this.paused = true;
  }
  resumeReading(): void {
    this.paused = false;
  }
  close(): void {
    this.closed = true;
  }
  destroy(): void {
    this.destroyed = true;
  }
  /** Everything written since the last take. */
  take(): string {
    const text = Buffer.concat(this.chunks).toString('utf8');
    this.chunks = [];
    return text;
  }
}

export interface Deferred {
  resolve(): void;
  reject(error: unknown): void;
}

export interface ReceivedStanza extends Deferred {
  el: Element;
  ctx: StanzaContext;
  xml: string;
}

/** A tiny "gateway": the sessions by SM-ID, for resumption tests. */
export class SessionTable {
  readonly byId = new Map<string, ClientStream>();
  expired = new Map<string, number>();
  remember(stream: ClientStream): void {
    const record = stream.resumptionRecord;
    if (record !== undefined) this.byId.set(record.id, stream);
  }
  lookup(previd: string): ResumeLookup {
    const stream = this.byId.get(previd);
    if (stream !== undefined) return { kind: 'found', stream };
    const handled = this.expired.get(previd);
    return handled === undefined ? { kind: 'unknown' } : { kind: 'expired', handled };
  }
}

export interface HarnessOptions {
  options?: ClientStreamOptions;
  tls?: TlsInfo;
  clock?: ManualClock;
  /** Resolve every onStanza promise at once (default); otherwise the test settles them. */
  autoResolve?: boolean;
  /** Replaces the recording stanza handler. */
  onStanza?: ClientStreamHooks['onStanza'];
  bind?: (request: BindRequest) => Promise<BindOutcome>;
  resolveDomain?: (domain: string) => DomainResolution | Promise<DomainResolution>;
  userRedirect?: (jid: JID) => string | undefined;
  sessions?: SessionTable;
  accounts?: Record<string, CredentialRecord>;
  saslOptions?: SaslServerOptions;
  /** Replaces the authenticator over `accounts`. */
  authenticator?: StreamAuthenticator;
  /** Hooks that replace the recording ones. */
  hooks?: Partial<ClientStreamHooks>;
  transport?: MemoryTransport;
}

export function serveDomains(domain: string): DomainResolution {
  if (domain === DOMAIN) return { kind: 'served' };
  if (domain === 'moved.example') return { kind: 'see-other-host', host: 'other.example:5222' };
  return { kind: 'unknown' };
}

export class Harness {
  readonly stream: ClientStream;
  readonly transport: MemoryTransport;
  readonly clock: ManualClock;
  readonly stanzas: ReceivedStanza[] = [];
  readonly events: string[] = [];
  closedInfo: StreamClosedInfo | undefined;
  closedCount = 0;

  private constructor(stream: ClientStream, transport: MemoryTransport, clock: ManualClock) {
    this.stream = stream;
    this.transport = transport;
    this.clock = clock;
  }

  static async create(opts: HarnessOptions = {}): Promise<Harness> {
    const accounts = opts.accounts ?? { juliet: await credentials() };
    const transport = opts.transport ?? new MemoryTransport();
    const clock = opts.clock ?? new ManualClock(1_000_000);
    const autoResolve = opts.autoResolve ?? true;
    let harness: Harness | undefined;
    const hooks: ClientStreamHooks = {
      authenticator: opts.authenticator ?? testAuthenticator(accounts, opts.saslOptions),
      resolveDomain: opts.resolveDomain ?? serveDomains,
      bind: opts.bind ?? (async () => ({ kind: 'bound' })),
      onStanza: opts.onStanza ?? ((el, ctx) =>
        new Promise<void>((resolve, reject) => {
          const received: ReceivedStanza = { el, ctx, xml: serialize(el), resolve, reject };
          harness!.stanzas.push(received);
          if (autoResolve) resolve();
        })),
      onBound: (s) => harness!.events.push(`bound ${s.jid?.toString()}`),
      onResumed: (s) => harness!.events.push(`resumed ${s.jid?.toString()}`),
      onDetached: () => harness!.events.push('detached'),
      onClientState: (_s, state) => harness!.events.push(`client-state ${state}`),
      onClosed: (_s, info) => {
        harness!.closedCount++;
        harness!.closedInfo = info;
        harness!.events.push(`closed ${info.reason}${info.condition ? ` ${info.condition}` : ''}`);
      },
    };
    if (opts.userRedirect) hooks.userRedirect = opts.userRedirect;
    Object.assign(hooks, opts.hooks);
    const sessions = opts.sessions;
    if (sessions) hooks.resume = (previd) => sessions.lookup(previd);
    const stream = new ClientStream({ transport, hooks, options: opts.options, clock, tls: opts.tls });
    harness = new Harness(stream, transport, clock);
    return harness;
  }

  /** Client sends: the bytes reach the stream, then its asynchronous steps settle. */
  async send(text: string | Buffer): Promise<void> {
    this.stream.receive(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
    await this.settle();
  }

  /** Waits until the stream no longer waits for an asynchronous answer. */
  async settle(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!this.stream.busy) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (!this.stream.busy) return;
      }
    }
    throw new Error('the stream stayed busy');
  }

  /** Server sends: everything written since the last expect must match `pattern` exactly. */
  async expect(pattern: string): Promise<Record<string, string>> {
    await this.settle();
    return matchTranscript(pattern, this.transport.take());
  }

  /** Client sends X, server sends Y. */
  async exchange(sent: string, pattern: string): Promise<Record<string, string>> {
    await this.send(sent);
    return this.expect(pattern);
  }
}

/**
 * Exact match, except for `{{name}}` (captures a value: an attribute value or text without '"'
 * or '<'; a name used twice must match the same value) and `{{*}}` (any such value).
 */
export function matchTranscript(pattern: string, actual: string): Record<string, string> {
  const names: string[] = [];
  let source = '';
  let last = 0;
  for (const m of pattern.matchAll(/\{\{(\w+|\*)\}\}/g)) {
    source += escapeRegExp(pattern.slice(last, m.index));
    const name = m[1]!;
    if (name === '*') source += '[^"<]*';
    else if (names.includes(name)) source += `\\k<${name}>`;
    else {
      names.push(name);
      source += `(?<${name}>[^"<]*)`;
    }
    last = m.index + m[0].length;
  }
  source += escapeRegExp(pattern.slice(last));
  const match = new RegExp(`^${source}$`, 's').exec(actual);
  if (!match) {
    // Shows a readable diff of what was expected against what was written.
    expect(actual).toBe(pattern);
    throw new Error('transcript mismatch');
  }
  return { ...match.groups };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

// ---------------------------------------------------------------------------------------------
// Transcript building blocks.

export const CLIENT_HEADER = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='${DOMAIN}' version='1.0'>`;

export function serverHeader(opts: { from?: string; to?: string; lang?: string } = {}): string {
  const from = 'from' in opts ? opts.from : DOMAIN;
  return `<?xml version='1.0'?><stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" id="{{*}}"${from === undefined ? '' : ` from="${from}"`}${opts.to === undefined ? '' : ` to="${opts.to}"`} version="1.0" xml:lang="${opts.lang ?? 'en'}">`;
}

export function streamError(condition: string, text?: string, extra = ''): string {
  const textEl = text === undefined ? '' : `<text xmlns="urn:ietf:params:xml:ns:xmpp-streams">${text}</text>`;
  return `<stream:error xmlns:stream="http://etherx.jabber.org/streams"><${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>${textEl}${extra}</stream:error></stream:stream>`;
}

export const LIMITS_PREAUTH = '<limits xmlns="urn:xmpp:stream-limits:0"><max-bytes>8192</max-bytes><idle-seconds>300</idle-seconds></limits>';
export const LIMITS_POSTAUTH = '<limits xmlns="urn:xmpp:stream-limits:0"><max-bytes>262144</max-bytes><idle-seconds>300</idle-seconds></limits>';
export const FEATURES_STARTTLS = `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><starttls xmlns="urn:ietf:params:xml:ns:xmpp-tls"><required/></starttls>${LIMITS_PREAUTH}</stream:features>`;
export const MECHANISMS = ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'SCRAM-SHA-1', 'PLAIN'];
export function featuresSasl(mechanisms: readonly string[] = MECHANISMS, channelBindings: readonly string[] = []): string {
  const cb = channelBindings.length === 0
    ? ''
    : `<sasl-channel-binding xmlns="urn:xmpp:sasl-cb:0">${channelBindings.map((t) => `<channel-binding type="${t}"/>`).join('')}</sasl-channel-binding>`;
  return `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl">${mechanisms.map((m) => `<mechanism>${m}</mechanism>`).join('')}</mechanisms>${cb}${LIMITS_PREAUTH}</stream:features>`;
}
export const FEATURES_BOUND = `<stream:features xmlns:stream="http://etherx.jabber.org/streams"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"><optional/></session><sm xmlns="urn:xmpp:sm:3"/><csi xmlns="urn:xmpp:csi:0"/>${LIMITS_POSTAUTH}</stream:features>`;

export const FULL_JID = `juliet@${DOMAIN}/balcony`;

/**
 * Drives a client to a bound session over an already-secure stream (direct TLS) with
 * SCRAM-SHA-1, checking every server answer.
 */
export async function login(h: Harness, opts: { resource?: string } = {}): Promise<void> {
  const scram = new ScramClient('SHA-1', 'juliet', PASSWORD, CLIENT_NONCE);
  await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
  const { challenge } = await h.exchange(
    `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>${b64(scram.first())}</auth>`,
    '<challenge xmlns="urn:ietf:params:xml:ns:xmpp-sasl">{{challenge}}</challenge>',
  );
  const final = scram.final(unb64(challenge!));
  const { success } = await h.exchange(
    `<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>${b64(final)}</response>`,
    '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl">{{success}}</success>',
  );
  expect(scram.verifyServerFinal(unb64(success!))).toBe(true);
  await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_BOUND);
  const resource = opts.resource ?? 'balcony';
  await h.exchange(
    `<iq type='set' id='bind_1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`,
    `<iq type="result" id="bind_1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>juliet@${DOMAIN}/${resource}</jid></bind></iq>`,
  );
}

/** Over a secure harness: PLAIN, then the restarted stream's features (ready to bind or resume). */
export async function authenticate(h: Harness, user = 'juliet'): Promise<void> {
  await h.exchange(CLIENT_HEADER, serverHeader() + featuresSasl());
  await h.exchange(
    `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${b64(`\0${user}\0${PASSWORD}`)}</auth>`,
    '<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>',
  );
  await h.exchange(CLIENT_HEADER, serverHeader() + FEATURES_BOUND);
}

/** A secure harness (as after direct TLS, no channel bindings) logged in and bound. */
export async function boundHarness(opts: HarnessOptions = {}, resource?: string): Promise<Harness> {
  const h = await Harness.create({ tls: { channelBindings: {} }, ...opts });
  await login(h, { resource });
  return h;
}

export function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}
export function unb64(s: string): string {
  return Buffer.from(s, 'base64').toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// A SCRAM client (RFC 5802) with node:crypto, independent of the server's code.

type Hash = 'SHA-1' | 'SHA-256';
const DIGEST: Record<Hash, string> = { 'SHA-1': 'sha1', 'SHA-256': 'sha256' };
const LENGTH: Record<Hash, number> = { 'SHA-1': 20, 'SHA-256': 32 };

export class ScramClient {
  private readonly gs2Header: string;
  private readonly clientFirstBare: string;
  private serverSignature: Buffer | undefined;

  constructor(
    private readonly hash: Hash,
    username: string,
    private readonly password: string,
    nonce: string,
    private readonly channelBinding?: { type: string; data: Buffer },
  ) {
    this.gs2Header = channelBinding === undefined ? 'n,,' : `p=${channelBinding.type},,`;
    this.clientFirstBare = `n=${username},r=${nonce}`;
  }

  first(): string {
    return this.gs2Header + this.clientFirstBare;
  }

  /** The server-first-message's attributes, e.g. to check XEP-0474's `h`. */
  static attributes(serverFirst: string): Record<string, string> {
    return Object.fromEntries(serverFirst.split(',').map((kv) => [kv.slice(0, 1), kv.slice(2)]));
  }

  final(serverFirst: string): string {
    const attrs = ScramClient.attributes(serverFirst);
    const digest = DIGEST[this.hash];
    const salted = pbkdf2Sync(this.password, Buffer.from(attrs.s!, 'base64'), Number(attrs.i), LENGTH[this.hash], digest);
    const cbind = Buffer.concat([Buffer.from(this.gs2Header), this.channelBinding?.data ?? Buffer.alloc(0)]);
    const withoutProof = `c=${cbind.toString('base64')},r=${attrs.r}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const clientKey = createHmac(digest, salted).update('Client Key').digest();
    const storedKey = createHash(digest).update(clientKey).digest();
    const signature = createHmac(digest, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    const serverKey = createHmac(digest, salted).update('Server Key').digest();
    this.serverSignature = createHmac(digest, serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  verifyServerFinal(serverFinal: string): boolean {
    return this.serverSignature !== undefined && serverFinal === `v=${this.serverSignature.toString('base64')}`;
  }
}

/** XEP-0474: what the client computes from the features it saw. */
export function downgradeHash(hash: Hash, mechanisms: readonly string[], channelBindings: readonly string[] | undefined): string {
  const sort = (values: readonly string[]) => [...values].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  let input = sort(mechanisms).join('\x1e');
  if (channelBindings !== undefined) input += `\x1f${sort(channelBindings).join('\x1e')}`;
  return createHash(DIGEST[hash]).update(input).digest('base64');
}

export function stanzaError(condition: ConstructorParameters<typeof StanzaError>[0]): StanzaError {
  return new StanzaError(condition);
}
