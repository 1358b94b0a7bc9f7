// The server side of one XMPP client stream (RFC 6120) as a state machine over bytes: the
// transport feeds `receive()`, the stream writes through `StreamTransport`, and everything else
// (domains, authentication, binding, routing, resumption lookups) comes through hooks.
//
// Phases of the byte stream:   await-header → open → (starttls → await-header → open)
//                              → (SASL success → await-header → open) → … → closed | detached
// Stages of negotiation:       pre-tls → sasl → authenticated → established

import { SaslFailure, StanzaError, StreamError, errorReply, isStanzaError, isStreamErrorCondition, type StreamErrorCondition } from '@ambrosia/errors';
import { jid as makeJid, tryParseJID, type JID } from '@ambrosia/jid';
import { channelBindingAdvertisement, decodeSaslPayload, encodeSaslPayload, type SaslStep } from '@ambrosia/sasl';
import { StreamParser, serialize, xml, type Element, type StreamHeader, type StreamParserEvents, type XmlStreamError } from '@ambrosia/xml';
import { TimerSlot, systemClock, type Clock } from './clock.js';
import { configFor, type ClientStreamConfig, type ClientStreamOptions } from './config.js';
import { PROCEED_XML, SM_REQUEST_XML, TLS_FAILURE_XML, authenticatedFeatures, initialFeatures, smAck, type AdvertisedLimits } from './features.js';
import { STREAM_CLOSE, checkStreamHeader, streamHeaderXml } from './header.js';
import { newPingId, newResource, newSessionId, newSmId, newStreamId } from './ids.js';
import { NS_BIND, NS_CLIENT, NS_CSI, NS_PING, NS_SASL, NS_SESSION, NS_SM, NS_STANZAS, NS_STREAMS, NS_TLS, NS_XMPP_STREAMS } from './namespaces.js';
import { Output, type WriteResult } from './output.js';
import { SmSession, parseH, type InboundTicket, type OutboundEntry } from './stream-management.js';
import type {
  BindOutcome,
  ClientState,
  ClientStreamHooks,
  DeliverOptions,
  DeliverResult,
  DeliveryOutcome,
  ResumeLookup,
  ResumptionRecord,
  StreamAuthSession,
  StreamClosedInfo,
  StreamTransport,
  TlsInfo,
} from './types.js';

type Phase = 'await-header' | 'open' | 'starttls' | 'detached' | 'closed';
type Stage = 'pre-tls' | 'sasl' | 'authenticated' | 'established';

/** The three stanza kinds of RFC 6120 §8. */
const STANZA_NAMES: ReadonlySet<string> = new Set(['message', 'presence', 'iq']);
const IQ_TYPES: ReadonlySet<string> = new Set(['get', 'set', 'result', 'error']);
const GT = 0x3e; // '>': every element, header and stream end completes at one
// Bits of ClientStream.flags.
const HEADER_SENT = 1;
const CLIENT_DECLARED_LANG = 2;
const SASL_STARTED = 4;
const AWAITING_ASYNC = 8;
const PAUSED_FOR_INFLIGHT = 16;
const READING_PAUSED = 32;
const PEER_CLOSE_PENDING = 64;
const CLOSING = 128;
/** The empty list, shared: a stream that offers nothing keeps no array of its own. */
const NONE: readonly string[] = Object.freeze([]);
/** Unanswered <r/>s kept at once; beyond it the oldest are answered with the current 'h'. */
const MAX_PENDING_ACK_REQUESTS = 32;

export interface ClientStreamInit {
  transport: StreamTransport;
  hooks: ClientStreamHooks;
  options?: ClientStreamOptions;
  clock?: Clock;
  /** Direct TLS (XEP-0368, port 5223): the connection is secure from the first byte. */
  tls?: TlsInfo;
}

/** What a stream is doing, for the gateway's bookkeeping and metrics. */
export type ClientStreamState = 'negotiating' | 'established' | 'detached' | 'closed';

type StreamTimer = TimerSlot<ClientStream>;

type SurrenderResult =
  | { ok: true; sm: SmSession; jid: JID }
  | { ok: false; reason: 'not-found' }
  | { ok: false; reason: 'h-too-high'; handled: number; sendCount: number };

export class ClientStream {
  /** Identifies this stream to the gateway and the service channel (SESSION_EVENT `session`). */
  readonly sessionId: string = newSessionId();

  private readonly config: ClientStreamConfig;
  private readonly hooks: ClientStreamHooks;
  private readonly clock: Clock;
  private transport: StreamTransport | undefined;
  private output: Output | undefined;
  /** Made at the first byte (a connection refused before it never needs one), dropped at the end. */
  private parser: StreamParser | undefined = undefined;

  private phase: Phase = 'await-header';
  private stage: Stage;
  /** Set once the connection is secure (direct TLS, or STARTTLS completed). */
  private tlsInfo: TlsInfo | undefined;
  /** The stream's yes/no state, one bit each (see the accessors below): one field instead of eight. */
  private flags = 0;

  // The current stream (one per header; restarts make new ones).
  private lang: string;
  private replyTo: string | undefined = undefined;
  /** The domain this stream is for, fixed by the first header (RFC 6120 §4.7.2). */
  private streamDomain: string | undefined = undefined;

  // Authentication.
  private offeredMechanisms: readonly string[] = NONE;
  private channelBindingTypes: readonly string[] = NONE;
  private authSession: StreamAuthSession | undefined = undefined;
  private account: JID | undefined = undefined;
  private pendingRedirect: string | undefined = undefined;
  private negotiationFailures = 0;

  // The session.
  private boundJid: JID | undefined = undefined;
  private sm: SmSession | undefined = undefined;
  private currentClientState: ClientState = 'active';
  /** Set when the session was resumed on another stream: late replies go there. */
  private successor: ClientStream | undefined = undefined;
  private inflight = 0;

  // Input held while an asynchronous answer is awaited, or while too many stanzas are in flight.
  private held: Buffer[] | undefined = undefined;
  private heldBytes = 0;
  /** Bumped when the input before a point must be thrown away (STARTTLS). */
  private discardEpoch = 0;
  private bytesReceived = 0;
  private lastInputAt: number;

  // Timers, each made on first use: a negotiating stream only ever starts the first one.
  private negotiationTimer: StreamTimer | undefined = undefined;
  private idleTimer: StreamTimer | undefined = undefined;
  private probeTimer: StreamTimer | undefined = undefined;
  private ackRequestTimer: StreamTimer | undefined = undefined;
  private drainTimer: StreamTimer | undefined = undefined;
  private resumeTimer: StreamTimer | undefined = undefined;
  private ackAnswerTimer: StreamTimer | undefined = undefined;
  /** For each unanswered <r/>: how many stanzas had arrived before it (made on the first one). */
  private pendingAckTargets: number[] | undefined = undefined;
  private probeBaseline = 0;
  private pingId: string | undefined = undefined;
  private detachedUntil: number | undefined = undefined;
  private closedInfo: StreamClosedInfo | undefined = undefined;

  private get secureTransport(): boolean {
    return this.tlsInfo !== undefined;
  }

  /** Our header for the current stream went out. */
  private get headerSent(): boolean {
    return (this.flags & HEADER_SENT) !== 0;
  }
  private set headerSent(on: boolean) {
    this.flags = on ? this.flags | HEADER_SENT : this.flags & ~HEADER_SENT;
  }

  /** The client's header carried a well-formed xml:lang. */
  private get clientDeclaredLang(): boolean {
    return (this.flags & CLIENT_DECLARED_LANG) !== 0;
  }
  private set clientDeclaredLang(on: boolean) {
    this.flags = on ? this.flags | CLIENT_DECLARED_LANG : this.flags & ~CLIENT_DECLARED_LANG;
  }

  /** A SASL exchange began (STARTTLS is refused from then on, RFC 6120 §5.4.2.2). */
  private get saslStarted(): boolean {
    return (this.flags & SASL_STARTED) !== 0;
  }
  private set saslStarted(on: boolean) {
    this.flags = on ? this.flags | SASL_STARTED : this.flags & ~SASL_STARTED;
  }

  /** An asynchronous negotiation step runs; input is held. */
  private get awaitingAsync(): boolean {
    return (this.flags & AWAITING_ASYNC) !== 0;
  }
  private set awaitingAsync(on: boolean) {
    this.flags = on ? this.flags | AWAITING_ASYNC : this.flags & ~AWAITING_ASYNC;
  }

  /** Reading paused because `maxInflightStanzas` stanzas are in flight. */
  private get pausedForInflight(): boolean {
    return (this.flags & PAUSED_FOR_INFLIGHT) !== 0;
  }
  private set pausedForInflight(on: boolean) {
    this.flags = on ? this.flags | PAUSED_FOR_INFLIGHT : this.flags & ~PAUSED_FOR_INFLIGHT;
  }

  /** The transport was told to stop reading. */
  private get readingPaused(): boolean {
    return (this.flags & READING_PAUSED) !== 0;
  }
  private set readingPaused(on: boolean) {
    this.flags = on ? this.flags | READING_PAUSED : this.flags & ~READING_PAUSED;
  }

  /** The client closed its stream while an asynchronous step ran. */
  private get peerClosePending(): boolean {
    return (this.flags & PEER_CLOSE_PENDING) !== 0;
  }
  private set peerClosePending(on: boolean) {
    this.flags = on ? this.flags | PEER_CLOSE_PENDING : this.flags & ~PEER_CLOSE_PENDING;
  }

  /** A close is being written: output that does not fit is dropped, not treated as a dead peer. */
  private get closing(): boolean {
    return (this.flags & CLOSING) !== 0;
  }
  private set closing(on: boolean) {
    this.flags = on ? this.flags | CLOSING : this.flags & ~CLOSING;
  }

  // What each timer does when it fires: shared functions, so a timer costs no closure per stream.
  private static readonly onNegotiationTimeout = (stream: ClientStream): void => stream.closeWith('connection-timeout', 'stream negotiation took too long');
  private static readonly onIdleTimeout = (stream: ClientStream): void => stream.onIdle();
  private static readonly onProbeTimeout = (stream: ClientStream): void => stream.onProbeUnanswered();
  private static readonly onAckRequestTimeout = (stream: ClientStream): void => stream.onAckRequestTimer();
  private static readonly onDrainTimeout = (stream: ClientStream): void => stream.peerGone('client does not read (drain timeout)', true);
  private static readonly onResumeTimeout = (stream: ClientStream): void => stream.finish({ reason: 'resume-timeout' });
  private static readonly onAckAnswerTimeout = (stream: ClientStream): void => stream.answerAckRequests(true);

  /**
   * The parser's events, as prototype methods of one small object per stream (instead of four
   * closures). Declared inside the class so it may call the stream's private handlers.
   */
  private static readonly ParserEvents = class implements StreamParserEvents {
    constructor(private readonly stream: ClientStream) {}
    streamStart(header: StreamHeader): void {
      this.stream.onStreamHeader(header);
    }
    element(el: Element): void {
      this.stream.onElement(el);
    }
    streamEnd(): void {
      this.stream.onPeerStreamEnd();
    }
    error(err: XmlStreamError): void {
      this.stream.onXmlError(err);
    }
  };

  constructor(init: ClientStreamInit) {
    this.config = configFor(init.options);
    this.hooks = init.hooks;
    this.clock = init.clock ?? systemClock;
    this.transport = init.transport;
    this.output = new Output(init.transport, this.config.maxSendBufferBytes);
    this.lang = this.config.lang;
    this.tlsInfo = init.tls;
    this.stage = init.tls !== undefined ? 'sasl' : 'pre-tls';
    this.lastInputAt = this.clock.now();
    (this.negotiationTimer = this.newTimer(ClientStream.onNegotiationTimeout)).start(this.config.negotiationTimeoutMs);
  }

  // ---------------------------------------------------------------------------------------------
  // Public surface: what the transport and the gateway call.

  get state(): ClientStreamState {
    if (this.phase === 'closed') return 'closed';
    if (this.phase === 'detached') return 'detached';
    return this.stage === 'established' ? 'established' : 'negotiating';
  }

  /** The bound full JID, once bound or resumed. */
  get jid(): JID | undefined {
    return this.boundJid;
  }

  /** The domain the client asked for (prepared), once its first header was accepted. */
  get domain(): string | undefined {
    return this.streamDomain;
  }

  get secure(): boolean {
    return this.secureTransport;
  }

  get clientState(): ClientState {
    return this.currentClientState;
  }

  /** Why the stream ended, once it has. */
  get closed(): StreamClosedInfo | undefined {
    return this.closedInfo;
  }

  /** True while the stream waits for an asynchronous answer (input is held meanwhile). */
  get busy(): boolean {
    return this.awaitingAsync;
  }

  /** XEP-0198 state for the registry; undefined unless resumption was enabled. */
  get resumptionRecord(): ResumptionRecord | undefined {
    const sm = this.sm;
    if (sm?.id === undefined || this.boundJid === undefined || this.phase === 'closed') return undefined;
    return {
      id: sm.id,
      sessionId: this.sessionId,
      jid: this.boundJid.toString(),
      handled: sm.handled,
      sent: sm.sent,
      acked: sm.acked,
      unacked: sm.unacked,
      resumeTimeoutMs: sm.resumeTimeoutMs,
      expiresAt: this.detachedUntil,
    };
  }

  /** Bytes from the client. Never throws. */
  receive(chunk: Buffer | Uint8Array): void {
    if (this.phase === 'closed' || this.phase === 'detached') return;
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (bytes.length === 0) return;
    this.bytesReceived += bytes.length;
    this.lastInputAt = this.clock.now();
    // RFC 6120 §5.4.3.3: nothing received between <starttls/> and the end of the TLS handshake is
    // trusted. Whatever arrives on the plain connection now is discarded (CVE-2011-1431: a
    // command injected after <starttls/> must not run inside the TLS session).
    if (this.phase === 'starttls') return;
    if (this.awaitingAsync || this.pausedForInflight || this.held !== undefined) {
      this.holdBack(bytes);
      return;
    }
    this.feed(bytes);
  }

  /** The transport's buffer drained after a `write` returned false. */
  drained(): void {
    const output = this.output;
    if (output === undefined) return;
    output.drained();
    if (!output.congested) this.drainTimer?.cancel();
  }

  /** The TLS handshake requested with `startTls()` completed (RFC 6120 §5.4.3.3). */
  tlsEstablished(info: TlsInfo): void {
    if (this.phase !== 'starttls') {
      if (this.phase !== 'closed' && this.phase !== 'detached') this.closeWith('internal-server-error', 'TLS established without STARTTLS');
      return;
    }
    this.tlsInfo = info;
    this.stage = 'sasl';
    this.log('debug', 'tls-established');
    // RFC 6120 §5.4.3.3: the client opens a new stream over the TLS layer.
    this.restartStream();
  }

  /** The connection is gone (closed by the peer, reset, TLS handshake failure, ...). */
  transportClosed(error?: unknown): void {
    if (this.phase === 'closed' || this.phase === 'detached') return;
    this.output?.discard();
    if (this.stage === 'established' && this.sm?.resumable === true) {
      this.detach(error === undefined ? 'connection closed' : 'connection error');
    } else {
      this.finish({ reason: 'transport-lost', detail: error === undefined ? undefined : 'connection error' });
    }
  }

  /**
   * A stanza from a service toward the client. Serialised, counted for XEP-0198 and written (or
   * queued). Never throws.
   */
  deliver(stanza: Element, options?: DeliverOptions): DeliverResult {
    if (this.phase === 'closed' || this.stage !== 'established') return 'refused';
    let data: string;
    try {
      data = serialize(stanza);
    } catch {
      this.log('warn', 'unserializable-stanza');
      return 'refused';
    }
    return this.sendStanza(data, options?.onOutcome);
  }

  /** Closes the stream, with a stream error if given (RFC 6120 §4.4, §4.9). */
  close(error?: StreamError): void {
    this.closeStream(error);
  }

  /** Another session took this full JID (RFC 6120 §7.7.2.2, first option): `conflict`. */
  replaced(): void {
    this.closeWith('conflict', 'replaced by a new connection for this resource');
  }

  /** The account's security context changed (credentials, deletion): RFC 6120 §4.9.3.16 `reset`. */
  reset(): void {
    this.closeWith('reset');
  }

  /** The gateway is draining: `see-other-host` when a target is known, else `system-shutdown`. */
  shutdown(seeOtherHost?: string): void {
    if (seeOtherHost !== undefined) this.closeStream(new StreamError('see-other-host', { seeOtherHost }));
    else this.closeWith('system-shutdown');
  }

  // ---------------------------------------------------------------------------------------------
  // Input: bytes → parser, with holding while the stream waits.

  private feed(bytes: Buffer): void {
    const parser = (this.parser ??= new StreamParser(new ClientStream.ParserEvents(this), this.stage === 'pre-tls' || this.stage === 'sasl' ? this.config.preAuthLimits : this.config.limits));
    if (this.stage === 'established') {
      parser.write(bytes);
      this.afterChunk();
      return;
    }
    // During negotiation an element may start an asynchronous step (a SASL exchange, binding) or
    // a restart (STARTTLS, SASL success); the bytes after it must not reach the parser before that
    // step ends. An element only ever completes at a '>', so the chunk is fed up to each '>' and
    // the remainder held (or, after STARTTLS, discarded) as soon as the stream has to wait.
    const epoch = this.discardEpoch;
    let start = 0;
    while (start < bytes.length) {
      const gt = bytes.indexOf(GT, start);
      const end = gt === -1 ? bytes.length : gt + 1;
      parser.write(start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end));
      start = end;
      if (this.phase === 'closed' || this.phase === 'detached' || this.phase === 'starttls' || this.discardEpoch !== epoch) return;
      if (this.awaitingAsync) {
        if (start < bytes.length) this.holdFront(bytes.subarray(start));
        return;
      }
    }
  }

  private afterChunk(): void {
    if (this.inflight >= this.config.maxInflightStanzas && !this.pausedForInflight && this.phase === 'open') {
      this.pausedForInflight = true;
      this.pauseReading();
    }
  }

  private holdBack(bytes: Buffer): void {
    (this.held ??= []).push(bytes);
    this.heldBytes += bytes.length;
    this.afterHold();
  }

  private holdFront(bytes: Buffer): void {
    (this.held ??= []).unshift(bytes);
    this.heldBytes += bytes.length;
    this.afterHold();
  }

  private afterHold(): void {
    // Before authentication a client can make us hold no more than two pre-auth stanzas' worth.
    const cap = this.stage === 'pre-tls' || this.stage === 'sasl'
      ? Math.min(this.config.maxHeldInputBytes, 2 * this.config.preAuthLimits.maxStanzaBytes)
      : this.config.maxHeldInputBytes;
    if (this.heldBytes > cap) {
      this.closeWith('policy-violation', 'too much data sent while the server was busy');
      return;
    }
    this.pauseReading();
  }

  private pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.transport?.pauseReading();
  }

  /** Feeds held input once the stream may read again. */
  private processHeld(): void {
    let held: Buffer[] | undefined;
    while ((held = this.held) !== undefined && !this.awaitingAsync && !this.pausedForInflight) {
      if (this.phase === 'closed' || this.phase === 'detached' || this.phase === 'starttls') return;
      const chunk = held.shift()!;
      this.heldBytes -= chunk.length;
      if (held.length === 0) this.held = undefined;
      this.feed(chunk);
    }
    if (this.held === undefined && !this.awaitingAsync && !this.pausedForInflight && this.readingPaused && this.phase !== 'closed') {
      this.readingPaused = false;
      this.transport?.resumeReading();
    }
  }

  /**
   * Runs an asynchronous negotiation step. Input is held until it ends; the step checks
   * `this.ended` after each await, since the stream may close meanwhile.
   */
  private runAsync(step: () => Promise<void>): void {
    this.awaitingAsync = true;
    void (async () => {
      try {
        await step();
      } catch (err) {
        this.log('warn', 'negotiation-step-failed', { error: err instanceof Error ? err.name : typeof err });
        if (!this.ended) this.closeWith('internal-server-error');
      }
      if (this.ended) return;
      this.awaitingAsync = false;
      if (this.peerClosePending) {
        this.peerClosePending = false;
        this.closeByPeer();
        return;
      }
      this.processHeld();
    })();
  }

  private get ended(): boolean {
    return this.phase === 'closed' || this.phase === 'detached';
  }

  // ---------------------------------------------------------------------------------------------
  // Parser events.

  private onXmlError(err: XmlStreamError): void {
    if (this.ended) return;
    this.log('debug', 'xml-error', { code: err.code });
    // The parser's message may quote client input: only the condition goes back.
    this.closeWith(err.condition);
  }

  private onPeerStreamEnd(): void {
    if (this.ended) return;
    // A self-closing root (<stream:stream .../>) ends the stream in the same '>' that opened it,
    // possibly while its header is still being checked.
    if (this.awaitingAsync) {
      this.peerClosePending = true;
      return;
    }
    this.closeByPeer();
  }

  private onStreamHeader(header: StreamHeader): void {
    if (this.ended) return;
    const check = checkStreamHeader(header, this.config.lang);
    this.lang = check.lang;
    if (!check.ok) {
      this.closeWith(check.condition, check.text);
      return;
    }
    const { domain, replyTo } = check.header;
    this.clientDeclaredLang = check.langFromClient;
    if (this.streamDomain !== undefined) {
      // A restart (after TLS or SASL) names the same host: authentication and the TLS certificate
      // were for it (the attack of Prosody issue #1147 switches hosts after authenticating).
      if (domain !== this.streamDomain) {
        this.closeWith('not-authorized', "the 'to' attribute must stay the same across stream restarts");
        return;
      }
      this.replyTo = replyTo;
      this.openStream();
      return;
    }
    this.runAsync(async () => {
      const resolution = await this.hooks.resolveDomain(domain);
      if (this.ended) return;
      switch (resolution.kind) {
        case 'served':
          this.streamDomain = domain;
          this.replyTo = replyTo;
          this.openStream();
          return;
        case 'see-other-host':
          // RFC 6120 §4.9.3.19: the domain is served, elsewhere; our header speaks for it.
          this.closeStream(new StreamError('see-other-host', { seeOtherHost: resolution.host }), domain);
          return;
        default:
          this.closeWith('host-unknown', 'this server does not serve the requested domain');
      }
    });
  }

  private onElement(el: Element): void {
    if (this.phase !== 'open') return;
    const ns = el.getNS();
    const name = el.getName();
    switch (ns) {
      case NS_CLIENT:
        if (STANZA_NAMES.has(name)) this.handleStanza(el, name);
        else this.closeWith('unsupported-stanza-type');
        return;
      case NS_SASL:
        if (name === 'auth' || name === 'response' || name === 'abort') this.handleSasl(el, name);
        else this.closeWith('unsupported-stanza-type');
        return;
      case NS_TLS:
        if (name === 'starttls') this.handleStartTls();
        else this.closeWith('unsupported-stanza-type');
        return;
      case NS_SM:
        this.handleStreamManagement(el, name);
        return;
      case NS_CSI:
        if (name === 'active' || name === 'inactive') this.handleClientState(name);
        else this.closeWith('unsupported-stanza-type');
        return;
      case NS_STREAMS:
        if (name === 'error') this.handlePeerError(el);
        else this.closeWith('unsupported-stanza-type');
        return;
      default:
        // RFC 6120 §4.9.3.24: a first-level element whose namespace we do not understand.
        this.closeWith('unsupported-stanza-type');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Stream open, features, close.

  private openStream(): void {
    this.phase = 'open';
    this.writeHeader(this.streamDomain);
    switch (this.stage) {
      case 'pre-tls':
      case 'sasl':
        this.sendInitialFeatures();
        return;
      case 'authenticated':
        if (this.pendingRedirect !== undefined) {
          this.closeStream(new StreamError('see-other-host', { seeOtherHost: this.pendingRedirect }));
          return;
        }
        this.write(serialize(authenticatedFeatures({
          legacySession: this.config.legacySession,
          streamManagement: this.config.sm.enabled,
          limits: this.advertisedLimits(this.config.limits.maxStanzaBytes),
        })));
        return;
      default:
        this.closeWith('internal-server-error');
    }
  }

  private sendInitialFeatures(): void {
    const transportCanUpgrade = this.transport?.canStartTls === true;
    if (this.stage === 'pre-tls' && this.config.requireTls && !transportCanUpgrade) {
      this.closeWith('policy-violation', 'encryption is required and cannot be negotiated on this connection');
      return;
    }
    const offerSasl = this.stage === 'sasl' || !this.config.requireTls;
    if (offerSasl) this.computeSaslOffer();
    if (offerSasl && this.offeredMechanisms.length === 0 && (this.stage === 'sasl' || !transportCanUpgrade)) {
      this.closeWith('undefined-condition', 'no authentication mechanism is available');
      return;
    }
    const startTls = this.stage === 'pre-tls' && transportCanUpgrade ? (this.config.requireTls ? 'required' : 'optional') : 'unavailable';
    this.write(serialize(initialFeatures({
      startTls,
      mechanisms: offerSasl ? this.offeredMechanisms : undefined,
      channelBindingTypes: this.channelBindingTypes,
      limits: this.advertisedLimits(this.config.preAuthLimits.maxStanzaBytes),
    })));
  }

  private computeSaslOffer(): void {
    const channelBindingTypes = this.tlsInfo !== undefined ? channelBindingAdvertisement(this.tlsInfo.channelBindings) : NONE;
    this.channelBindingTypes = channelBindingTypes;
    this.offeredMechanisms = [
      ...this.hooks.authenticator.offeredMechanisms({
        secure: this.secureTransport,
        channelBindingTypes,
        hasClientCert: this.tlsInfo?.peerCertificate !== undefined,
      }),
    ];
  }

  private advertisedLimits(maxBytes: number): AdvertisedLimits {
    return { maxBytes, idleSeconds: Math.ceil(this.config.idleTimeoutMs / 1000) };
  }

  private writeHeader(from: string | undefined): void {
    // The id is only ever written: nothing reads it back (RFC 6120 §4.7.3).
    this.headerSent = true;
    this.write(streamHeaderXml({ id: newStreamId(), from, to: this.replyTo, lang: this.lang }));
  }

  /** RFC 6120 §4.3.3: a new stream over the same connection, with new parser state and stream id. */
  private restartStream(): void {
    this.phase = 'await-header';
    this.headerSent = false;
    this.parser?.reset();
  }

  private closeWith(condition: StreamErrorCondition, text?: string, application?: Element): void {
    this.closeStream(new StreamError(condition, { text, application }));
  }

  /**
   * Ends the stream from our side (RFC 6120 §4.4): our header first if the client never got one
   * (§4.9.1.2), the error if any, the closing tag, then the transport.
   */
  private closeStream(error: StreamError | undefined, headerFrom?: string): void {
    if (this.phase === 'closed') return;
    if (this.phase === 'detached') {
      this.finish(error === undefined ? { reason: 'closed' } : { reason: 'stream-error', condition: error.condition, detail: error.text });
      return;
    }
    this.closing = true;
    if (!this.headerSent) this.writeHeader(headerFrom ?? this.streamDomain ?? this.config.defaultDomain);
    if (error !== undefined) {
      this.log(error.condition === 'see-other-host' || error.condition === 'system-shutdown' ? 'debug' : 'info', 'stream-error', { condition: error.condition });
      this.write(serialize(error.toElement()));
    }
    this.write(STREAM_CLOSE);
    this.endTransport('close', error === undefined ? { reason: 'closed' } : { reason: 'stream-error', condition: error.condition, detail: error.text });
  }

  /**
   * The session ends first, then the transport: a transport that reports its own closing
   * synchronously (`transportClosed`) then finds the stream already closed, with our reason.
   */
  private endTransport(how: 'close' | 'destroy', info: StreamClosedInfo): void {
    const transport = this.transport;
    if (how === 'close') this.output?.flushForClose();
    this.finish(info);
    if (how === 'close') transport?.close();
    else transport?.destroy();
  }

  /** The client closed its stream (RFC 6120 §4.4): we close ours and the connection. */
  private closeByPeer(): void {
    if (this.ended) return;
    this.closing = true;
    if (!this.headerSent) this.writeHeader(this.streamDomain ?? this.config.defaultDomain);
    // Every <r/> gets its <a/> (XEP-0198 §4), even one the client sent just before closing.
    this.answerAckRequests(true);
    this.write(STREAM_CLOSE);
    this.endTransport('close', { reason: 'normal' });
  }

  /** RFC 6120 §4.9.1.1: the client sent a stream error; the stream is over. */
  private handlePeerError(el: Element): void {
    const condition = el.getChildElements().find((c) => c.getNS() === NS_XMPP_STREAMS && c.getName() !== 'text')?.getName();
    this.closing = true;
    this.write(STREAM_CLOSE);
    const info: StreamClosedInfo = { reason: 'peer-error' };
    if (condition !== undefined && isStreamErrorCondition(condition)) info.condition = condition;
    this.endTransport('close', info);
  }

  /**
   * Ends the session for good: timers stop, unacknowledged stanzas are reported undelivered,
   * `onClosed` fires exactly once.
   */
  private finish(info: StreamClosedInfo): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.closedInfo = info;
    this.awaitingAsync = false;
    this.cancelTimers();
    this.resumeTimer?.cancel();
    this.detachedUntil = undefined;
    this.held = undefined;
    this.heldBytes = 0;
    this.releaseParser();
    this.output?.discard();
    this.output = undefined;
    this.transport = undefined;
    const sm = this.sm;
    if (sm !== undefined) {
      for (const entry of sm.takeUnacked()) report(entry, 'undelivered');
    }
    this.log('debug', 'closed', { reason: info.reason, condition: info.condition });
    this.notify(() => this.hooks.onClosed?.(this, info));
  }

  /**
   * Drops the parser, and a partial stanza it may hold (up to maxStanzaBytes), once no input will
   * come. This may run inside one of the parser's own callbacks: the parser finishes its chunk
   * (every event after the end is ignored) and is collected afterwards.
   */
  private releaseParser(): void {
    this.parser = undefined;
  }

  private cancelTimers(): void {
    this.negotiationTimer?.cancel();
    this.idleTimer?.cancel();
    this.probeTimer?.cancel();
    this.ackRequestTimer?.cancel();
    this.drainTimer?.cancel();
    this.ackAnswerTimer?.cancel();
    this.pendingAckTargets = undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // STARTTLS (RFC 6120 §5).

  private handleStartTls(): void {
    const transport = this.transport;
    // RFC 6120 §5.4.2.2: STARTTLS that cannot proceed (already secure, after SASL began, or not
    // possible on this connection) is answered with <failure/> and the stream is closed.
    if (this.stage !== 'pre-tls' || this.saslStarted || transport === undefined || !transport.canStartTls) {
      this.closing = true;
      this.write(TLS_FAILURE_XML);
      this.write(STREAM_CLOSE);
      this.endTransport('close', { reason: 'stream-error', detail: 'STARTTLS failure' });
      return;
    }
    this.write(PROCEED_XML);
    this.phase = 'starttls';
    this.discardEpoch++;
    this.held = undefined;
    this.heldBytes = 0;
    // Not from inside the parser's callback: the upgrade may complete synchronously, and the
    // restart it causes resets the parser.
    queueMicrotask(() => {
      if (this.phase === 'starttls' && this.transport === transport) transport.startTls();
    });
  }

  // ---------------------------------------------------------------------------------------------
  // SASL (RFC 6120 §6).

  private handleSasl(el: Element, name: 'auth' | 'response' | 'abort'): void {
    if (this.stage === 'authenticated' || this.stage === 'established') {
      this.closeWith('not-authorized', 'already authenticated');
      return;
    }
    if (this.stage === 'pre-tls' && this.config.requireTls) {
      // RFC 6120 §5.3.1 (TLS is mandatory-to-negotiate here) and §6.5.3.
      this.saslLocalFailure('encryption-required');
      return;
    }
    if (name === 'abort') {
      // RFC 6120 §6.4.4: never a success, so nothing here waits.
      void this.onSaslStep(this.authSession?.abort() ?? { kind: 'failure', condition: 'aborted' });
      return;
    }
    if (name === 'response' && this.authSession === undefined) {
      this.saslLocalFailure('malformed-request', 'no authentication exchange in progress');
      return;
    }
    const decoded = decodeSaslPayload(el.getText());
    if (!decoded.ok) {
      this.saslLocalFailure(decoded.condition, decoded.text);
      return;
    }
    this.saslStarted = true;
    const session = (this.authSession ??= this.hooks.authenticator.session({
      ip: this.transport?.remoteAddress ?? '',
      domain: this.streamDomain ?? '',
      secure: this.secureTransport,
      channelBindings: this.tlsInfo?.channelBindings ?? {},
      offeredMechanisms: this.offeredMechanisms,
      // XEP-0474 hashes exactly what XEP-0440 advertised, and nothing when it was not used.
      advertisedChannelBindingTypes: this.channelBindingTypes.length > 0 ? this.channelBindingTypes : undefined,
      peerCertificate: this.tlsInfo?.peerCertificate,
      streamKind: 'c2s',
    }));
    const data = decoded.data;
    const mechanism = el.attrs.mechanism ?? '';
    this.runAsync(async () => {
      const step = name === 'auth' ? await session.start(mechanism, data) : await session.step(data);
      if (this.ended) return;
      await this.onSaslStep(step);
    });
  }

  private async onSaslStep(step: SaslStep): Promise<void> {
    switch (step.kind) {
      case 'challenge':
        // An empty challenge is an empty element; '=' is only for empty *responses* (§6.4.2).
        this.write(saslElement('challenge', step.data.length === 0 ? '' : encodeSaslPayload(step.data)));
        return;
      case 'failure':
        this.write(serialize(new SaslFailure(step.condition, { text: step.text }).toElement()));
        this.log('debug', 'sasl-failure', { condition: step.condition });
        // RFC 6120 §6.4.5: the retries are used up. Every failure (an <abort/> or a stray
        // <response/> too) also counts against the stream's own budget.
        if (step.retriesExhausted === true) this.closeWith('policy-violation', 'too many failed authentication attempts');
        else this.countNegotiationFailure();
        return;
      case 'success': {
        const identity = step.identity;
        let account: JID | undefined;
        try {
          account = identity.kind === 'server' ? undefined : makeJid(identity.username, this.streamDomain ?? '');
        } catch {
          account = undefined;
        }
        if (account === undefined) {
          this.closeWith('not-authorized', 'this identity cannot open a client session');
          return;
        }
        let redirect: string | undefined;
        if (this.hooks.userRedirect !== undefined) {
          try {
            redirect = await this.hooks.userRedirect(account);
          } catch {
            this.log('warn', 'user-redirect-failed');
          }
          if (this.ended) return;
        }
        this.write(saslElement('success', encodeSaslPayload(step.data)));
        // The exchange is over for good (SASL elements are refused from now on): free it.
        this.authSession = undefined;
        this.account = account;
        this.pendingRedirect = redirect;
        this.stage = 'authenticated';
        this.log('info', 'authenticated', { mechanism: identity.mechanism });
        // RFC 6120 §6.4.6: both sides restart; the larger post-authentication budget applies.
        this.restartStream();
        this.parser?.setLimits(this.config.limits);
        return;
      }
    }
  }

  /** A SASL failure the stream answers itself; counted against `maxNegotiationFailures`. */
  private saslLocalFailure(condition: SaslFailure['condition'], text?: string): void {
    this.write(serialize(new SaslFailure(condition, { text }).toElement()));
    this.countNegotiationFailure();
  }

  private countNegotiationFailure(): void {
    this.negotiationFailures++;
    if (this.negotiationFailures >= this.config.maxNegotiationFailures) {
      this.closeWith('policy-violation', 'too many failed negotiation attempts');
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Stanzas (RFC 6120 §7, §8).

  private handleStanza(el: Element, name: string): void {
    if (this.stage !== 'established') {
      if (this.stage === 'authenticated' && name === 'iq' && el.getChild('bind', NS_BIND) !== undefined) {
        this.handleBind(el);
        return;
      }
      // RFC 6120 §4.9.3.12 and §7.1: no stanza is processed before authentication and binding.
      this.closeWith('not-authorized', this.stage === 'authenticated' ? 'bind a resource first' : 'authenticate first');
      return;
    }
    const bound = this.boundJid!;
    const sm = this.sm;
    const ticket = sm?.receive();
    // RFC 6120 §8.1.2.1: the server stamps 'from' with the full JID. A client that claims another
    // address (anything but its own full or bare JID) is refused with invalid-from (§4.9.3.9).
    const claimed = el.attrs.from;
    if (claimed !== undefined) {
      const parsed = tryParseJID(claimed);
      if (parsed === undefined || !(parsed.equals(bound) || parsed.equals(bound.bare))) {
        this.closeWith('invalid-from', "the 'from' attribute does not match the bound address");
        return;
      }
    }
    el.attrs.from = bound.toString();
    // RFC 6120 §8.1.5: a stanza without xml:lang gets the one the client declared for the stream.
    if (this.clientDeclaredLang && el.attrs['xml:lang'] === undefined) el.attrs['xml:lang'] = this.lang;
    let to: JID | undefined;
    const rawTo = el.attrs.to;
    if (rawTo !== undefined) {
      to = tryParseJID(rawTo);
      if (to === undefined) {
        this.answerLocally(el, ticket, new StanzaError('jid-malformed', { text: "the 'to' address is not a valid JID" }));
        return;
      }
      el.attrs.to = to.toString();
    }
    if (name === 'iq' && this.handleIqLocally(el, ticket)) return;
    this.dispatch(el, to, ticket, sm);
  }

  /** The iqs the stream answers itself; true when handled. RFC 6120 §8.2.3 checks first. */
  private handleIqLocally(el: Element, ticket: InboundTicket | undefined): boolean {
    const type = el.attrs.type ?? '';
    const id = el.attrs.id;
    if (!IQ_TYPES.has(type) || id === undefined) {
      this.answerLocally(el, ticket, new StanzaError('bad-request', { text: "an iq needs an 'id' and a 'type' of get, set, result or error" }));
      return true;
    }
    if (type === 'result' || type === 'error') {
      // The answer to our XEP-0199 ping is consumed here, never routed.
      if (this.pingId !== undefined && id === this.pingId) {
        this.pingId = undefined;
        this.handledHere(ticket);
        return true;
      }
      return false;
    }
    const children = el.getChildElements();
    if (children.length !== 1) {
      this.answerLocally(el, ticket, new StanzaError('bad-request', { text: 'an iq get or set carries exactly one child element' }));
      return true;
    }
    const payload = children[0]!;
    if (payload.is('bind', NS_BIND)) {
      // RFC 6120 §7.6.2.2: one resource per stream.
      this.answerLocally(el, ticket, new StanzaError('not-allowed', { text: 'a resource is already bound to this stream' }));
      return true;
    }
    if (payload.is('session', NS_SESSION) && type === 'set' && this.config.legacySession) {
      // RFC 3921 §3: session establishment; a no-op since RFC 6120.
      this.sendStanza(serialize(xml('iq', { type: 'result', id, to: el.attrs.from })), undefined);
      this.handledHere(ticket);
      return true;
    }
    return false;
  }

  private dispatch(el: Element, to: JID | undefined, ticket: InboundTicket | undefined, sm: SmSession | undefined): void {
    this.inflight++;
    let settled: Promise<void>;
    try {
      settled = Promise.resolve(this.hooks.onStanza(el, { stream: this, sessionId: this.sessionId, from: this.boundJid!, to }));
    } catch (err) {
      settled = Promise.reject(err);
    }
    settled.then(
      () => this.stanzaSettled(el, ticket, sm, undefined),
      (err: unknown) => this.stanzaSettled(el, ticket, sm, err ?? new Error('rejected')),
    );
  }

  private stanzaSettled(el: Element, ticket: InboundTicket | undefined, sm: SmSession | undefined, err: unknown): void {
    this.inflight--;
    if (err !== undefined) {
      if (!isStanzaError(err)) this.log('warn', 'stanza-handler-failed', { error: err instanceof Error ? err.name : typeof err });
      const error = isStanzaError(err) ? err : new StanzaError('internal-server-error');
      const reply = errorReply(el, error);
      // The session may have moved to another stream meanwhile (XEP-0198 resumption).
      if (reply !== undefined) this.currentStream().deliver(reply);
    }
    // Only now is the stanza safe; XEP-0198 counts it (in order, see SmSession.markHandled).
    if (ticket !== undefined && sm !== undefined) {
      sm.markHandled(ticket);
      this.currentStream().answerAckRequests(false);
    }
    if (this.pausedForInflight && this.inflight <= this.config.maxInflightStanzas / 2) {
      this.pausedForInflight = false;
      this.processHeld();
    }
  }

  private currentStream(): ClientStream {
    let stream: ClientStream = this;
    while (stream.successor !== undefined) stream = stream.successor;
    return stream;
  }

  /** A stanza error the stream itself returns (RFC 6120 §8.3); the stanza counts as handled. */
  private answerLocally(el: Element, ticket: InboundTicket | undefined, error: StanzaError): void {
    const reply = errorReply(el, error);
    if (reply !== undefined) {
      if (this.stage === 'established') this.deliver(reply);
      else this.write(serialize(reply));
    }
    this.handledHere(ticket);
  }

  private handledHere(ticket: InboundTicket | undefined): void {
    if (ticket !== undefined && this.sm !== undefined) {
      this.sm.markHandled(ticket);
      this.answerAckRequests(false);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Resource binding (RFC 6120 §7).

  private handleBind(el: Element): void {
    const account = this.account!;
    if (el.attrs.type !== 'set' || el.attrs.id === undefined) {
      this.answerLocally(el, undefined, new StanzaError('bad-request', { text: 'resource binding is an iq of type set with an id' }));
      this.countNegotiationFailure();
      return;
    }
    const requested = el.getChild('bind', NS_BIND)?.getChild('resource', NS_BIND)?.getText() ?? '';
    let full: JID;
    let generated = false;
    if (requested === '') {
      // RFC 6120 §7.6: the server generates the resource.
      full = account.withResource(newResource());
      generated = true;
    } else {
      try {
        full = account.withResource(requested);
      } catch {
        // RFC 6120 §7.7.2.1: a resourcepart that violates the OpaqueString profile.
        this.answerLocally(el, undefined, new StanzaError('bad-request', { text: 'the requested resource is not allowed' }));
        this.countNegotiationFailure();
        return;
      }
    }
    this.runAsync(async () => {
      let outcome: BindOutcome;
      try {
        outcome = await this.hooks.bind({ jid: full, generated, stream: this });
      } catch {
        this.log('warn', 'bind-hook-failed');
        outcome = { kind: 'error', error: new StanzaError('internal-server-error') };
      }
      if (this.ended) return;
      if (outcome.kind === 'bound') {
        const bound = outcome.jid ?? full;
        if (bound.resource === '' || !bound.bare.equals(account)) {
          this.log('warn', 'bind-hook-returned-foreign-jid');
          this.answerLocally(el, undefined, new StanzaError('internal-server-error'));
          return;
        }
        this.boundJid = bound;
        this.write(serialize(xml('iq', { type: 'result', id: el.attrs.id }, xml('bind', { xmlns: NS_BIND }, xml('jid', null, bound.toString())))));
        this.log('info', 'bound');
        this.establish(undefined);
        return;
      }
      // RFC 6120 §7.7.2.2, second option: the resource is taken and the new client is refused.
      const error = outcome.kind === 'conflict' ? new StanzaError('conflict', { text: 'the resource is in use' }) : outcome.error;
      this.answerLocally(el, undefined, error);
      this.countNegotiationFailure();
    });
  }

  /** The session is up, by binding or by resumption. */
  private establish(previous: ClientStream | undefined): void {
    this.stage = 'established';
    // The stream no longer negotiates: its deadline is dropped, not just stopped.
    this.negotiationTimer?.cancel();
    this.negotiationTimer = undefined;
    this.startIdleTimer(this.config.idleTimeoutMs);
    if (previous === undefined) this.notify(() => this.hooks.onBound?.(this));
    else this.notify(() => this.hooks.onResumed?.(this, previous));
    if (this.currentClientState === 'inactive') this.notify(() => this.hooks.onClientState?.(this, 'inactive'));
  }

  // ---------------------------------------------------------------------------------------------
  // XEP-0352 client state indication.

  private handleClientState(state: ClientState): void {
    if (this.stage === 'pre-tls' || this.stage === 'sasl') {
      this.closeWith('not-authorized', 'authenticate first');
      return;
    }
    if (state === this.currentClientState) return;
    this.currentClientState = state;
    // Before binding the state is remembered and reported once the session exists.
    if (this.stage === 'established') this.notify(() => this.hooks.onClientState?.(this, state));
  }

  // ---------------------------------------------------------------------------------------------
  // XEP-0198 stream management.

  private handleStreamManagement(el: Element, name: string): void {
    switch (name) {
      case 'enable':
        this.handleEnable(el);
        return;
      case 'resume':
        this.handleResume(el);
        return;
      case 'r':
        // Only meaningful once enabled; a request racing <enable/> is ignored, not fatal.
        if (this.sm !== undefined) this.handleAckRequest(this.sm);
        return;
      case 'a':
        this.handleAck(el);
        return;
      default:
        this.closeWith('unsupported-stanza-type');
    }
  }

  private smFailed(condition: string, h?: number, application?: Element): void {
    this.write(serialize(xml('failed', { xmlns: NS_SM, h }, xml(condition, { xmlns: NS_STANZAS }), application)));
  }

  private handleEnable(el: Element): void {
    if (!this.config.sm.enabled) {
      this.smFailed('feature-not-implemented');
      return;
    }
    // XEP-0198 §3: only after resource binding.
    if (this.stage !== 'established') {
      this.smFailed('unexpected-request');
      this.countNegotiationFailure();
      return;
    }
    if (this.sm !== undefined) {
      // XEP-0198 §3: a second <enable/> SHOULD get a stream error.
      this.closeWith('policy-violation', 'stream management is already enabled');
      return;
    }
    const wantsResume = el.attrs.resume === 'true' || el.attrs.resume === '1';
    const resumable = wantsResume && this.config.sm.allowResume && this.hooks.resume !== undefined;
    let timeoutMs = this.config.sm.resumeTimeoutMs;
    const clientMax = el.attrs.max !== undefined && /^\d{1,9}$/.test(el.attrs.max) ? Number(el.attrs.max) : 0;
    // XEP-0198 §5: 'max' is the client's preferred maximum resumption time in seconds.
    if (clientMax > 0) timeoutMs = Math.min(timeoutMs, clientMax * 1000);
    this.sm = new SmSession(resumable ? newSmId() : undefined, timeoutMs);
    this.write(serialize(xml('enabled', resumable
      ? { xmlns: NS_SM, id: this.sm.id, resume: 'true', max: Math.ceil(timeoutMs / 1000) }
      : { xmlns: NS_SM })));
    this.log('debug', 'sm-enabled', { resumable });
  }

  /**
   * XEP-0198 §4: every <r/> gets an <a/>, as soon as possible. "As soon as possible" here is once
   * the stanzas the client sent before the <r/> have been handled (acknowledged by the service),
   * so the 'h' it learns covers them — bounded by `sm.maxAckDelayMs`, the timeout the XEP allows,
   * after which the answer carries whatever is handled by then.
   */
  private handleAckRequest(sm: SmSession): void {
    const target = sm.receivedCount;
    if (sm.handledCount >= target && (this.pendingAckTargets === undefined || this.pendingAckTargets.length === 0)) {
      this.write(smAck(sm.handled));
      return;
    }
    if (this.pendingAckTargets !== undefined && this.pendingAckTargets.length >= MAX_PENDING_ACK_REQUESTS) this.answerAckRequests(true);
    (this.pendingAckTargets ??= []).push(target);
    (this.ackAnswerTimer ??= this.newTimer(ClientStream.onAckAnswerTimeout)).ensure(this.config.sm.maxAckDelayMs);
  }

  /** Answers the <r/>s whose stanzas are handled (all of them when `force`), in order. */
  private answerAckRequests(force: boolean): void {
    const sm = this.sm;
    const targets = this.pendingAckTargets;
    if (sm === undefined || this.phase !== 'open') {
      this.pendingAckTargets = undefined;
      this.ackAnswerTimer?.cancel();
      return;
    }
    if (targets === undefined) return;
    let answered = 0;
    while (answered < targets.length && (force || targets[answered]! <= sm.handledCount)) answered++;
    if (answered === 0) return;
    targets.splice(0, answered);
    for (let i = 0; i < answered; i++) this.write(smAck(sm.handled));
    if (targets.length === 0) this.ackAnswerTimer?.cancel();
    else if (force) this.ackAnswerTimer?.start(this.config.sm.maxAckDelayMs);
  }

  private handleAck(el: Element): void {
    const sm = this.sm;
    if (sm === undefined) return;
    const h = parseH(el.attrs.h);
    if (h === undefined) {
      this.closeWith('invalid-xml', "missing or invalid 'h' attribute");
      return;
    }
    const result = sm.ack(h);
    if (!result.ok) {
      // XEP-0198 §6: acknowledging more than was sent.
      this.closeWith('undefined-condition', 'acknowledged more stanzas than were sent', handledCountTooHigh(h, result.sendCount));
      return;
    }
    sm.requestOutstanding = false;
    for (const entry of result.acked) report(entry, 'acked');
    this.maybeRequestAck();
  }

  private handleResume(el: Element): void {
    if (!this.config.sm.enabled || !this.config.sm.allowResume || this.hooks.resume === undefined) {
      this.smFailed('feature-not-implemented');
      return;
    }
    // XEP-0198 §5: after authentication, instead of binding.
    if (this.stage !== 'authenticated') {
      this.smFailed('unexpected-request');
      if (this.stage !== 'established') this.countNegotiationFailure();
      return;
    }
    const previd = el.attrs.previd;
    const h = parseH(el.attrs.h);
    if (previd === undefined || previd === '' || previd.length > 4000 || h === undefined) {
      this.smFailed('bad-request');
      this.countNegotiationFailure();
      return;
    }
    const account = this.account!;
    const lookup = this.hooks.resume;
    this.runAsync(async () => {
      let found: ResumeLookup | undefined;
      try {
        found = await lookup.call(this.hooks, previd, account);
      } catch {
        this.log('warn', 'resume-hook-failed');
        found = undefined;
      }
      if (this.ended) return;
      if (found === undefined) {
        this.smFailed('internal-server-error');
        this.countNegotiationFailure();
        return;
      }
      if (found.kind !== 'found') {
        // XEP-0198 §5: item-not-found, with the old 'h' when it is known.
        this.smFailed('item-not-found', found.kind === 'expired' ? found.handled : undefined);
        this.countNegotiationFailure();
        return;
      }
      const previous = found.stream;
      const taken = previous === this ? ({ ok: false, reason: 'not-found' } as const) : previous.surrender(previd, account, h, this);
      if (!taken.ok) {
        if (taken.reason === 'h-too-high') {
          this.smFailed('undefined-condition', taken.handled, handledCountTooHigh(h, taken.sendCount));
        } else {
          this.smFailed('item-not-found');
        }
        this.countNegotiationFailure();
        return;
      }
      const sm = taken.sm;
      this.sm = sm;
      this.boundJid = taken.jid;
      // The client resends everything after the 'h' we report now.
      sm.restartInbound();
      this.write(serialize(xml('resumed', { xmlns: NS_SM, previd, h: sm.handled })));
      // XEP-0198 §5: retransmit what the client did not acknowledge, once, in order.
      const unacked = sm.unackedEntries();
      for (const entry of unacked) this.write(entry.data);
      sm.requestOutstanding = false;
      this.log('info', 'resumed', { retransmitted: unacked.length });
      this.establish(previous);
      // Learn at once what the client now has, so the retransmitted stanzas do not linger.
      if (unacked.length > 0) this.requestAck();
    });
  }

  /**
   * Called on the stream a `<resume/>` names: hands its session over to `successor`. The client's
   * 'h' is applied first; a too-high one ends this session instead (XEP-0198 §6).
   */
  private surrender(previd: string, account: JID, h: number, successor: ClientStream): SurrenderResult {
    const sm = this.sm;
    const bound = this.boundJid;
    if (this.phase === 'closed' || sm === undefined || sm.id !== previd || bound === undefined || !bound.bare.equals(account)) {
      return { ok: false, reason: 'not-found' };
    }
    if (!sm.canAck(h)) {
      const failure = { ok: false, reason: 'h-too-high', handled: sm.handled, sendCount: sm.sent } as const;
      this.closeWith('undefined-condition', 'a resumption acknowledged more stanzas than were sent', handledCountTooHigh(h, sm.sent));
      return failure;
    }
    const result = sm.ack(h);
    if (result.ok) for (const entry of result.acked) report(entry, 'acked');
    // The session leaves this stream: nothing is reported undelivered here.
    this.sm = undefined;
    this.successor = successor;
    if (this.phase === 'detached') {
      this.finish({ reason: 'resumed' });
    } else {
      // XEP-0198 §5: the old stream, if still open, is terminated (with a conflict).
      this.closing = true;
      this.write(serialize(new StreamError('conflict', { text: 'the session was resumed on another connection' }).toElement()));
      this.write(STREAM_CLOSE);
      this.endTransport('close', { reason: 'resumed' });
    }
    return { ok: true, sm, jid: bound };
  }

  private maybeRequestAck(): void {
    const sm = this.sm;
    if (sm === undefined || this.phase !== 'open' || sm.requestOutstanding || sm.unacked === 0) return;
    if (sm.sinceRequest >= this.config.sm.ackRequestEvery) this.requestAck();
    else (this.ackRequestTimer ??= this.newTimer(ClientStream.onAckRequestTimeout)).ensure(this.config.sm.ackRequestDelayMs);
  }

  private requestAck(): void {
    const sm = this.sm;
    if (sm === undefined) return;
    this.ackRequestTimer?.cancel();
    sm.requestOutstanding = true;
    sm.sinceRequest = 0;
    this.write(SM_REQUEST_XML);
  }

  private onAckRequestTimer(): void {
    const sm = this.sm;
    if (sm !== undefined && this.phase === 'open' && sm.unacked > 0 && !sm.requestOutstanding) this.requestAck();
  }

  // ---------------------------------------------------------------------------------------------
  // Output.

  /** A stanza toward the client: counted and queued for XEP-0198 when it is on. */
  private sendStanza(data: string, onOutcome: ((outcome: DeliveryOutcome) => void) | undefined): DeliverResult {
    const sm = this.sm;
    if (sm === undefined) {
      if (this.phase === 'detached') return 'refused';
      const written = this.write(data);
      if (written === 'overflow') return 'refused';
      if (onOutcome !== undefined) safely(() => onOutcome('unacknowledged'));
      return written;
    }
    if (sm.unacked >= this.config.sm.maxUnackedStanzas) {
      this.closeWith('resource-constraint', 'too many unacknowledged stanzas');
      return 'refused';
    }
    sm.enqueue(data, onOutcome);
    if (this.phase === 'detached') return 'queued';
    const written = this.write(data);
    // On overflow the stream detached (the entry waits for resumption) or ended (the entry was
    // reported undelivered): either way the stanza was taken.
    if (written === 'overflow') return 'queued';
    sm.sinceRequest++;
    this.maybeRequestAck();
    return written;
  }

  /** Every byte toward the client goes through here, in order. */
  private write(data: string): WriteResult {
    const output = this.output;
    if (output === undefined) return 'overflow';
    const result = output.write(data);
    if (result === 'overflow') {
      // While closing, what does not fit is dropped: the transport's close bounds the rest.
      if (!this.closing) this.peerGone('client does not read (send buffer full)', true);
      return 'overflow';
    }
    if (output.congested) (this.drainTimer ??= this.newTimer(ClientStream.onDrainTimeout)).ensure(this.config.drainTimeoutMs);
    return result;
  }

  // ---------------------------------------------------------------------------------------------
  // Liveness (RFC 6120 §4.6, XEP-0199, XEP-0198) and detaching.

  private newTimer(fire: (stream: ClientStream) => void): StreamTimer {
    return new TimerSlot<ClientStream>(this.clock, this, fire);
  }

  private startIdleTimer(ms: number): void {
    (this.idleTimer ??= this.newTimer(ClientStream.onIdleTimeout)).start(ms);
  }

  private onIdle(): void {
    if (this.phase !== 'open') return;
    const quiet = this.clock.now() - this.lastInputAt;
    if (quiet < this.config.idleTimeoutMs) {
      this.startIdleTimer(this.config.idleTimeoutMs - quiet);
      return;
    }
    this.probeBaseline = this.bytesReceived;
    if (this.sm !== undefined) {
      // XEP-0198 §4: an <r/> MUST be answered, so it doubles as the probe.
      this.requestAck();
    } else {
      this.pingId = newPingId();
      this.write(serialize(xml('iq', { type: 'get', id: this.pingId, from: this.streamDomain, to: this.boundJid?.toString() }, xml('ping', { xmlns: NS_PING }))));
    }
    (this.probeTimer ??= this.newTimer(ClientStream.onProbeTimeout)).start(this.config.pingTimeoutMs);
  }

  private onProbeUnanswered(): void {
    if (this.phase !== 'open') return;
    if (this.bytesReceived !== this.probeBaseline) {
      this.startIdleTimer(this.config.idleTimeoutMs);
      return;
    }
    this.peerGone('no answer to a liveness probe', false);
  }

  /**
   * The client stopped reading or answering. A resumable session detaches (the client may come
   * back, XEP-0198 §5); any other ends with `connection-timeout` (RFC 6120 §4.9.3.4).
   */
  private peerGone(detail: string, congested: boolean): void {
    if (this.ended) return;
    this.log('info', 'peer-gone', { detail });
    if (this.stage === 'established' && this.sm?.resumable === true) {
      const transport = this.transport;
      this.detach(detail);
      transport?.destroy();
      return;
    }
    if (!congested) {
      this.closeWith('connection-timeout', detail);
      return;
    }
    // The client does not read: what we would write cannot reach it; cut the connection.
    this.endTransport('destroy', { reason: 'stream-error', condition: 'connection-timeout', detail });
  }

  private detach(detail: string): void {
    const sm = this.sm!;
    this.phase = 'detached';
    this.cancelTimers();
    this.output?.discard();
    this.output = undefined;
    this.transport = undefined;
    this.held = undefined;
    this.heldBytes = 0;
    this.pausedForInflight = false;
    this.readingPaused = false;
    this.pingId = undefined;
    this.releaseParser();
    sm.requestOutstanding = false;
    this.detachedUntil = this.clock.now() + sm.resumeTimeoutMs;
    (this.resumeTimer ??= this.newTimer(ClientStream.onResumeTimeout)).start(sm.resumeTimeoutMs);
    this.log('info', 'detached', { detail });
    this.notify(() => this.hooks.onDetached?.(this));
  }

  // ---------------------------------------------------------------------------------------------

  private notify(fn: () => void): void {
    try {
      fn();
    } catch {
      this.log('warn', 'hook-threw');
    }
  }

  private log(level: 'debug' | 'info' | 'warn', event: string, fields?: Record<string, string | number | boolean | undefined>): void {
    const logger = this.hooks.log;
    if (logger === undefined) return;
    try {
      logger(level, event, { session: this.sessionId, ...fields });
    } catch {
      // A broken logger must not break the stream.
    }
  }
}

function report(entry: OutboundEntry, outcome: DeliveryOutcome): void {
  const callback = entry.onOutcome;
  if (callback !== undefined) safely(() => callback(outcome));
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // Outcome callbacks belong to the gateway; their failures are not the stream's.
  }
}

/** <challenge/> or <success/> with base64 text (no escaping needed), empty when there is none. */
function saslElement(name: 'challenge' | 'success', payload: string): string {
  return payload === '' ? `<${name} xmlns="${NS_SASL}"/>` : `<${name} xmlns="${NS_SASL}">${payload}</${name}>`;
}

/** XEP-0198 §6: the application condition of a too-high 'h'. */
function handledCountTooHigh(h: number, sendCount: number): Element {
  return xml('handled-count-too-high', { xmlns: NS_SM, h, 'send-count': sendCount });
}
