// One end of a service channel (docs/service-protocol.md §5–§14), for either role, over any
// node:stream Duplex. The gateway's side is made by ChannelAcceptor; a service makes its own and
// calls attach() with each new connection.
import { randomBytes } from 'node:crypto';
import { channel as diagnosticsChannel } from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { ChannelError, isChannelError, protocolError } from './errors.js';
import { FLAG_FIRST, MessageType, isLinkType, messageTypeName } from './frame.js';
import { type AckRecord, IdSet, ackRecordMax } from './id-set.js';
import type { JsonObject } from './json.js';
import {
  DEFAULT_ENDPOINT_LIMITS,
  DEFAULT_HEARTBEAT,
  DEFAULT_RECEIVE_LIMITS,
  DEFAULT_RESUME_TIMEOUT_MS,
  type EndpointLimits,
  HANDSHAKE_MAX_FRAME_PAYLOAD,
  type HeartbeatSettings,
  MAX_REGISTRATIONS_PER_CHANNEL,
  PROTOCOL_VERSION,
  type ReceiveLimits,
  receiveLimitsProblem,
} from './limits.js';
import { Link, type LinkHandler, monotonicNow } from './link.js';
import {
  type DeliveryMessage,
  type DeliveryOutcome,
  type HelloMessage,
  KIND_TO_TYPE,
  type Registration,
  type RegistrationRequest,
  type RegistrationResult,
  type ReplyError,
  type ReplyMessage,
  type RequestMessage,
  type ResumeMessage,
  SEQUENCED_DIRECTIONS,
  type SequencedMessage,
  type SessionEventMessage,
  type StanzaMessage,
  type WelcomeMessage,
  decodeAck,
  decodeMessage,
  encodeMessage,
} from './messages.js';
import { type ChannelPeer, mayRegister, parseRegistration, registrationKey } from './permissions.js';
import { Reassembler } from './reassembler.js';
import { type OutboundEntry, type PumpSink, SendScheduler, newOutboundEntry } from './scheduler.js';
import type { RoutingContext, StanzaVia } from './stanza.js';

export type EndpointRole = 'service' | 'gateway';
export type EndpointState = 'idle' | 'handshake' | 'open' | 'detached' | 'closing' | 'closed';
/** `auto`: a message is acked when handed to the application. `manual`: when it calls ack() (§8.1). */
export type AckMode = 'auto' | 'manual';
/** §9: `unknown` when the channel ended or the service gave up waiting. */
export type DeliveryReportOutcome = DeliveryOutcome | 'unknown';

/** A stanza as the application gives it: direction is implied by the side sending it. */
export interface StanzaInput {
  kind: 'stanza';
  context: {
    via: StanzaVia;
    gateway: string;
    session?: string;
    origin: string;
    key?: string;
    redelivered?: boolean;
  };
  xml: Buffer | string;
}

export type SendableMessage = StanzaInput | StanzaMessage | SessionEventMessage;

export interface SendOptions {
  /** Ordering key (§7.3). Default: the stanza's or event's session id. */
  lane?: string;
  /** Service side, stanzas only: ask the gateway for a delivery report (§9) and receive it here once. */
  onDelivery?: (outcome: DeliveryReportOutcome) => void;
}

export interface RequestOptions {
  lane?: string;
  timeoutMs?: number;
}

export interface ReadyInfo {
  channel: string;
  resumed: boolean;
  /** A RESUME was refused and a new channel replaced the old one (§10.4). */
  reset: boolean;
  gateway: string;
  registrations: RegistrationResult[];
  peerLimits: ReceiveLimits;
}

export interface DetachedInfo {
  code: string;
  error: ChannelError;
}

export interface ResetInfo {
  previousChannel: string;
  channel: string;
  /** Unacknowledged stanzas and events queued again with new ids. */
  requeued: number;
  /** Unacknowledged requests and replies failed with `channel-reset`. */
  failed: number;
}

export interface UnackedMessage {
  message: SequencedMessage;
  lane: string;
  /** The id it was last sent with, 0 if it never left the queue. */
  id: number;
}

export interface ClosedInfo {
  /** An error code (§14.2), a CLOSE reason, or `expired` (§10.5). */
  code: string;
  byPeer: boolean;
  error?: ChannelError;
  /** Never acknowledged, in id order then queue order: for the application to reroute (§10.5). */
  unacked: UnackedMessage[];
}

export interface ChannelEvents {
  ready: (info: ReadyInfo) => void;
  message: (message: InboundMessage) => void;
  detached: (info: DetachedInfo) => void;
  reset: (info: ResetInfo) => void;
  registered: (registration: Registration) => void;
  unregistered: (registration: Registration) => void;
  /** The send queue fell below half its high-water mark (§11.4). */
  drain: () => void;
  closed: (info: ClosedInfo) => void;
}

/** `true` to allow, or the error to answer (§13.3). */
export type RegistrationVerdict = true | ReplyError;

export interface GatewayHooks {
  /** Default: the certificate's permissions (§2.2, `mayRegister`). */
  authorizeRegistration?: (peer: ChannelPeer, registration: Registration, channel: ChannelEndpoint) => RegistrationVerdict | Promise<RegistrationVerdict>;
  /** Default: same role, and the new certificate covers every registration held (§6.2). */
  authorizeResume?: (peer: ChannelPeer, channel: ChannelEndpoint) => boolean;
}

export interface EndpointOptions {
  role: EndpointRole;
  /** Service: the instance name sent in HELLO (§6.1). */
  instance?: string;
  software?: string;
  /** Service: registrations sent in the first HELLO. */
  registrations?: readonly Registration[];
  /** Service: close a link whose WELCOME names another gateway (§2.2). */
  expectedGateway?: string;
  receiveLimits?: Partial<ReceiveLimits>;
  limits?: Partial<EndpointLimits>;
  ackMode?: AckMode;
}

/** What ChannelAcceptor gives a gateway-side endpoint. Not for applications. */
export interface GatewaySideConfig {
  gateway: string;
  channel: string;
  peer: ChannelPeer;
  /** The instance name from the HELLO (or RESUME) that made the channel (§6.1). */
  instance?: string;
  heartbeat: HeartbeatSettings;
  resumeTimeoutMs: number;
  hooks: GatewayHooks;
}

/** Package-internal entry points used by ChannelAcceptor and InboundMessage. */
export const internal = Symbol('service-protocol.internal');

interface PendingRequest {
  resolve: (result: JsonObject) => void;
  reject: (error: ChannelError) => void;
  timer: NodeJS.Timeout | undefined;
  timeoutMs: number;
  entry: OutboundEntry;
}

interface TrackedEntry extends OutboundEntry {
  onDelivery?: ((outcome: DeliveryReportOutcome) => void) | undefined;
  request?: PendingRequest | undefined;
}

/** Sequenced type code → the direction it may travel (§4.1). */
const INCOMING_DIRECTION: ReadonlyMap<number, 'to-gateway' | 'to-service' | 'both'> = new Map(
  (Object.keys(SEQUENCED_DIRECTIONS) as SequencedMessage['kind'][]).map((kind) => [KIND_TO_TYPE[kind], SEQUENCED_DIRECTIONS[kind]]),
);

const LANE_REPLY = '\u0000reply';
const LANE_CONTROL = '\u0000control';
const LANE_DELIVERY = '\u0000delivery';

const closedChannel = diagnosticsChannel('ambrosia:service-channel:closed');
const detachedChannel = diagnosticsChannel('ambrosia:service-channel:detached');

/** A sequenced message handed to the application. */
export class InboundMessage<M extends SequencedMessage = SequencedMessage> {
  private answered = false;

  constructor(
    private readonly endpoint: ChannelEndpoint,
    private readonly epoch: number,
    /** Message id in the peer's direction. */
    readonly id: number,
    readonly message: M,
    /** Payload bytes: what this message holds of the receive window until acked. */
    readonly size: number,
  ) {}

  /** Manual ack mode: the application has taken responsibility (§8.1). Idempotent. */
  ack(): void {
    this.endpoint[internal].ackInbound(this.epoch, this.id);
  }

  /** Answers a request (§13.2). Only the first answer is sent. */
  reply(result: JsonObject = {}): void {
    if (this.answered) return;
    this.answered = true;
    this.endpoint[internal].reply(this.epoch, { kind: 'reply', re: this.id, ok: true, result });
  }

  /** Answers a request with an error (§13.2). Only the first answer is sent. */
  fail(code: string, text?: string): void {
    if (this.answered) return;
    this.answered = true;
    this.endpoint[internal].reply(this.epoch, { kind: 'reply', re: this.id, ok: false, error: text === undefined ? { code } : { code, text } });
  }

  /** Gateway side: the fate of a stanza that asked for a delivery report (§9). Acks it first. */
  reportDelivery(outcome: DeliveryOutcome): void {
    this.endpoint[internal].ackInbound(this.epoch, this.id);
    this.endpoint[internal].reportDelivery(this.epoch, this.id, outcome);
  }
}

export interface EndpointStats {
  state: EndpointState;
  channel: string | undefined;
  lanes: number;
  queuedMessages: number;
  queuedBytes: number;
  outstandingMessages: number;
  outstandingBytes: number;
  heldMessages: number;
  heldBytes: number;
  partialMessages: number;
  awaitingDelivery: number;
  pendingRequests: number;
  messagesSent: number;
  messagesReceived: number;
  retransmissions: number;
  duplicatesDropped: number;
  bytesWritten: number;
  bytesRead: number;
  roundTripMs: number | undefined;
}

export interface ChannelEndpoint {
  on<E extends keyof ChannelEvents>(event: E, listener: ChannelEvents[E]): this;
  once<E extends keyof ChannelEvents>(event: E, listener: ChannelEvents[E]): this;
  off<E extends keyof ChannelEvents>(event: E, listener: ChannelEvents[E]): this;
  emit<E extends keyof ChannelEvents>(event: E, ...args: Parameters<ChannelEvents[E]>): boolean;
}

export class ChannelEndpoint extends EventEmitter {
  readonly role: EndpointRole;
  private stateValue: EndpointState = 'idle';
  private channelId: string | undefined;
  private gatewayId: string | undefined;
  private readonly options: EndpointOptions;
  private readonly ownLimits: ReceiveLimits;
  private readonly limits: EndpointLimits;
  private readonly ackMode: AckMode;
  private capacityWaiter: Promise<void> | undefined;
  private peerLimitsValue: ReceiveLimits | undefined;
  private heartbeat: HeartbeatSettings;
  private link: Link | undefined;
  /** Incremented when the channel is replaced or ends: stale InboundMessage handles do nothing. */
  private epoch = 0;
  private coarseNow = monotonicNow();

  // Sending (§7, §8, §11)
  private readonly scheduler: SendScheduler;
  private peerAcked = new IdSet();
  private lastAckProgressAt = monotonicNow();
  private pumpScheduled = false;
  private readonly pumpSink: PumpSink;
  private readonly pendingRequests = new Set<PendingRequest>();
  private readonly requestsById = new Map<number, PendingRequest>();
  /** Acked stanzas awaiting a delivery report, oldest first (§9). */
  private readonly awaitingDelivery = new Map<number, (outcome: DeliveryReportOutcome) => void>();

  // Receiving (§7.2, §8, §10.3, §11.2)
  private received = new IdSet();
  private acked: IdSet;
  private readonly reassembler: Reassembler;
  private highestSeen = 0;
  private resumeMark = 0;
  private heldBytes = 0;
  private heldMessages = 0;
  /** Manual mode: messages handed to the application and not yet acked, with their sizes. */
  private readonly unackedInbound = new Map<number, number>();
  private ackScheduled = false;
  private ackImmediate: NodeJS.Immediate | undefined = undefined;
  private pendingAckBytes = 0;
  private pendingAckMessages = 0;
  private readonly deliveryReports: Record<DeliveryOutcome, number[]> = { delivered: [], undelivered: [] };
  private deliveryReportScheduled = false;

  // Handshake, registrations, closing
  private readonly registrationsHeld = new Map<string, Registration>();
  private attachSettle: { resolve: (info: ReadyInfo) => void; reject: (error: ChannelError) => void } | undefined;
  private sentResume = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private resumeTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private closeReason: { reason: string; text: string | undefined } | undefined;
  private closePromise: Promise<void> | undefined;
  private closeResolve: (() => void) | undefined;
  private readonly gatewaySide: GatewaySideConfig | undefined;
  /** What links call back; kept off the public surface. */
  private readonly linkHandler: LinkHandler = {
    frame: (link, type, flags, id, payload) => this.onLinkFrame(link, type, flags, id, payload),
    decodeError: (link, error) => {
      if (link === this.link) this.fail(error);
    },
    lost: (link, code, cause) => {
      if (link === this.link) this.detachLink(code, new ChannelError(code, cause instanceof Error ? cause.message : 'transport closed', { cause }));
    },
    drained: (link) => {
      if (link === this.link) this.schedulePump();
    },
    tick: (link, now) => this.onTick(link, now),
  };

  // Statistics
  private messagesSent = 0;
  private messagesReceived = 0;
  private retransmissions = 0;
  private duplicatesDropped = 0;
  private bytesWritten = 0;
  private bytesRead = 0;
  private roundTripMs: number | undefined;

  constructor(options: EndpointOptions, gatewaySide?: GatewaySideConfig) {
    super();
    if (options.role !== 'service' && options.role !== 'gateway') throw new TypeError('role must be "service" or "gateway"');
    if (options.role === 'gateway' && gatewaySide === undefined) throw new TypeError('gateway-side endpoints are made by ChannelAcceptor');
    this.role = options.role;
    this.options = options;
    this.ownLimits = { ...DEFAULT_RECEIVE_LIMITS, ...options.receiveLimits };
    const problem = receiveLimitsProblem(this.ownLimits);
    if (problem !== undefined) throw new RangeError(`receiveLimits: ${problem}`);
    this.limits = { ...DEFAULT_ENDPOINT_LIMITS, ...options.limits };
    this.ackMode = options.ackMode ?? 'auto';
    this.acked = this.ackMode === 'auto' ? this.received : new IdSet();
    this.heartbeat = gatewaySide?.heartbeat ?? { ...DEFAULT_HEARTBEAT };
    this.gatewaySide = gatewaySide;
    if (gatewaySide !== undefined) {
      this.channelId = gatewaySide.channel;
      this.gatewayId = gatewaySide.gateway;
    }
    this.scheduler = new SendScheduler(
      { chunkSize: this.limits.chunkSize, maxMessageBytes: DEFAULT_RECEIVE_LIMITS.maxMessageBytes, windowBytes: DEFAULT_RECEIVE_LIMITS.windowBytes, maxUnackedMessages: DEFAULT_RECEIVE_LIMITS.maxUnackedMessages, maxPartialMessages: DEFAULT_RECEIVE_LIMITS.maxPartialMessages },
      { highWaterBytes: this.limits.queueHighWaterBytes, highWaterMessages: this.limits.queueHighWaterMessages, maxBytes: this.limits.maxQueuedBytes, maxMessages: this.limits.maxQueuedMessages },
    );
    this.reassembler = new Reassembler({ maxMessageBytes: this.ownLimits.maxMessageBytes, maxPartialMessages: this.ownLimits.maxPartialMessages });
    for (const registration of options.registrations ?? []) {
      const parsed = parseRegistration(registration);
      if (typeof parsed === 'string') throw new TypeError(`registration: ${parsed}`);
      this.registrationsHeld.set(registrationKey(parsed), parsed);
    }
    this.pumpSink = {
      write: (entry, flags, slices, length) => {
        const link = this.link!;
        if ((flags & FLAG_FIRST) !== 0) {
          if (++entry.attempts > 1) this.retransmissions++;
          else this.messagesSent++;
        }
        link.appendFrame(entry.type, flags, entry.id, slices, length);
        return !link.blocked;
      },
      lastFrame: (entry) => {
        if (this.scheduler.sentOutstanding === 1) this.lastAckProgressAt = this.coarseNow;
        const request = (entry as TrackedEntry).request;
        if (request !== undefined && this.pendingRequests.has(request)) {
          this.requestsById.set(entry.id, request);
          if (request.timer === undefined) {
            request.timer = setTimeout(() => this.failRequest(request, new ChannelError('request-timeout', `no reply within ${request.timeoutMs} ms`)), request.timeoutMs);
            request.timer.unref();
          }
        }
      },
      refuse: (entry) => {
        this.settle(entry, new ChannelError('message-too-large', `${entry.size} bytes, the peer accepts at most ${this.peerLimitsValue?.maxMessageBytes}`));
      },
    };
  }

  // -------------------------------------------------------------------------------------------
  // Public API

  get state(): EndpointState {
    return this.stateValue;
  }

  /** The channel id, once a WELCOME named one. */
  get channel(): string | undefined {
    return this.channelId;
  }

  get gateway(): string | undefined {
    return this.gatewayId;
  }

  /** Gateway side: the peer's certificate-derived identity. */
  get peer(): ChannelPeer | undefined {
    return this.gatewaySide?.peer;
  }

  /** Gateway side: the instance name the service gave in the HELLO that made the channel (§6.1). */
  get peerInstance(): string | undefined {
    return this.gatewaySide?.instance;
  }

  get peerLimits(): ReceiveLimits | undefined {
    return this.peerLimitsValue;
  }

  get registrations(): Registration[] {
    return [...this.registrationsHeld.values()];
  }

  /** False while the send queue is above its high-water mark (§11.4): wait for 'drain'. */
  get writable(): boolean {
    return this.scheduler.writable;
  }

  /** Resolves when the send queue is below half its high-water mark, or the channel closes. */
  waitForCapacity(): Promise<void> {
    if (this.scheduler.writable || this.stateValue === 'closed') return Promise.resolve();
    // One shared promise and one pair of listeners however many senders wait (no listener leak).
    // Every waiter wakes on 'drain'; each must check again, as the queue may fill before it sends.
    this.capacityWaiter ??= new Promise<void>((resolve) => {
      const done = (): void => {
        this.off('drain', done);
        this.off('closed', done);
        this.capacityWaiter = undefined;
        resolve();
      };
      this.on('drain', done);
      this.on('closed', done);
    });
    return this.capacityWaiter;
  }


  /**
   * Queues a stanza or session event on its lane. Resolves when the peer acknowledges it (§8.1);
   * rejects with `queue-full` (§11.4), `message-too-large` (§11.1) or `channel-closed`. The
   * promise is pre-handled: ignoring it cannot crash the process with an unhandled rejection.
   */
  send(input: SendableMessage, options: SendOptions = {}): Promise<void> {
    let message: StanzaMessage | SessionEventMessage;
    if (input.kind === 'stanza') {
      message = this.normaliseStanza(input, options.onDelivery !== undefined);
    } else if (input.kind === 'session-event') {
      if (this.role !== 'gateway') throw new TypeError('only a gateway sends session events');
      message = input;
    } else {
      throw new TypeError(`send() takes stanzas and session events, not ${(input as { kind: string }).kind}`);
    }
    const lane = options.lane ?? (message.kind === 'stanza' ? message.context.session : message.session);
    const { promise, entry } = this.enqueue(message, lane, true);
    if (entry !== undefined && options.onDelivery !== undefined) entry.onDelivery = options.onDelivery;
    return promise;
  }

  /**
   * Sends a request (§13) and resolves with the REPLY's result, or rejects with its error
   * (`fromPeer` set), `request-timeout`, `queue-full`, `channel-reset` or `channel-closed`.
   */
  request(message: RequestMessage, options: RequestOptions = {}): Promise<JsonObject> {
    this.checkDirection(message.kind);
    if (this.pendingRequests.size >= this.limits.maxPendingRequests) {
      return Promise.reject(new ChannelError('queue-full', `${this.pendingRequests.size} requests pending (limit ${this.limits.maxPendingRequests})`));
    }
    return new Promise<JsonObject>((resolve, reject) => {
      const { entry, promise } = this.enqueue(message, options.lane ?? LANE_CONTROL, false);
      if (entry === undefined) {
        promise.catch(reject);
        return;
      }
      const pending: PendingRequest = { resolve, reject, timer: undefined, timeoutMs: options.timeoutMs ?? this.limits.requestTimeoutMs, entry };
      entry.request = pending;
      this.pendingRequests.add(pending);
      promise.catch((error: ChannelError) => this.failRequest(pending, error));
    });
  }

  /** Service side: registers `domain/type` (§13.3). Rejects with the gateway's error code. */
  async register(registration: Registration): Promise<void> {
    const parsed = this.parseOwnRegistration(registration);
    await this.request({ kind: 'register', domain: parsed.domain, type: parsed.type });
    this.registrationsHeld.set(registrationKey(parsed), parsed);
  }

  /** Service side: unregisters `domain/type` (§13.3). */
  async unregister(registration: Registration): Promise<void> {
    const parsed = this.parseOwnRegistration(registration);
    this.registrationsHeld.delete(registrationKey(parsed));
    await this.request({ kind: 'unregister', domain: parsed.domain, type: parsed.type });
  }

  /** Manual ack mode: acknowledges a received message by id (§8.1). */
  ack(id: number): void {
    this.ackInbound(this.epoch, id);
  }

  /** Gateway side: reports the fate of stanzas that asked for it, by message id (§9). */
  reportDelivery(ids: number | readonly number[], outcome: DeliveryOutcome): void {
    for (const id of typeof ids === 'number' ? [ids] : ids) {
      this.ackInbound(this.epoch, id);
      this.reportDeliveryInternal(this.epoch, id, outcome);
    }
  }

  /**
   * Service side: connects the channel over a new transport: HELLO the first time (or after the
   * channel ended), RESUME afterwards (§6, §10.2). Resolves at WELCOME.
   */
  attach(transport: Duplex): Promise<ReadyInfo> {
    if (this.role !== 'service') throw new TypeError('only the service side attaches; the gateway side is made by ChannelAcceptor');
    if (this.stateValue !== 'idle' && this.stateValue !== 'detached') throw new Error(`cannot attach in state ${this.stateValue}`);
    const link = new Link(transport, this.linkHandler, HANDSHAKE_MAX_FRAME_PAYLOAD, this.heartbeat.heartbeatMs);
    this.link = link;
    this.setState('handshake');
    this.coarseNow = monotonicNow();
    const hello: HelloMessage = {
      kind: 'hello',
      protocol: PROTOCOL_VERSION,
      instance: this.options.instance ?? 'service',
      ...(this.options.software === undefined ? {} : { software: this.options.software }),
      limits: this.ownLimits,
      registrations: this.registrations,
    };
    this.sentResume = this.channelId !== undefined;
    if (this.sentResume) {
      const resume: ResumeMessage = { ...hello, kind: 'resume', channel: this.channelId!, received: this.ackRecordToSend(), sent: this.scheduler.lastAssignedId };
      link.appendMessage(resume);
    } else {
      link.appendMessage(hello);
    }
    link.flush();
    this.handshakeTimer = setTimeout(() => {
      if (this.link === link && this.stateValue === 'handshake') this.detachLink('handshake-timeout', new ChannelError('handshake-timeout', `no WELCOME within ${this.limits.handshakeTimeoutMs} ms`));
    }, this.limits.handshakeTimeoutMs);
    this.handshakeTimer.unref();
    return new Promise<ReadyInfo>((resolve, reject) => {
      this.attachSettle = { resolve, reject };
    });
  }

  /**
   * Graceful close (§14.1): stops taking messages, sends what is queued and waits for its acks
   * (at most closeTimeoutMs), then sends CLOSE. What stays unacked is in the 'closed' event.
   */
  close(reason = 'normal', text?: string): Promise<void> {
    if (this.stateValue === 'closed') return Promise.resolve();
    if (this.closePromise !== undefined) return this.closePromise;
    this.closeReason = { reason, text };
    if (this.stateValue !== 'open') {
      this.finish(reason, false, undefined);
      return Promise.resolve();
    }
    this.setState('closing');
    this.closePromise = new Promise<void>((resolve) => {
      this.closeResolve = resolve;
    });
    this.closeTimer = setTimeout(() => this.sendCloseAndFinish(), this.limits.closeTimeoutMs);
    this.closeTimer.unref();
    this.schedulePump();
    this.checkCloseProgress();
    return this.closePromise;
  }

  /** Ends the channel at once; with an error code, tells the peer with ERROR first (§14.2). */
  destroy(error?: ChannelError): void {
    if (this.stateValue === 'closed') return;
    if (error !== undefined) this.fail(error);
    else this.finish('destroyed', false, undefined);
  }

  stats(): EndpointStats {
    return {
      state: this.stateValue,
      channel: this.channelId,
      lanes: this.scheduler.laneCount,
      queuedMessages: this.scheduler.queuedMessages,
      queuedBytes: this.scheduler.queuedBytes,
      outstandingMessages: this.scheduler.outstanding.size,
      outstandingBytes: this.scheduler.outstandingBytes,
      heldMessages: this.heldMessages,
      heldBytes: this.heldBytes,
      partialMessages: this.reassembler.count,
      awaitingDelivery: this.awaitingDelivery.size,
      pendingRequests: this.pendingRequests.size,
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      retransmissions: this.retransmissions,
      duplicatesDropped: this.duplicatesDropped,
      bytesWritten: this.bytesWritten + (this.link?.bytesWritten ?? 0),
      bytesRead: this.bytesRead + (this.link?.bytesRead ?? 0),
      roundTripMs: this.roundTripMs,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Internal entry points (ChannelAcceptor, InboundMessage)

  get [internal](): {
    ackInbound: (epoch: number, id: number) => void;
    reply: (epoch: number, reply: ReplyMessage) => void;
    reportDelivery: (epoch: number, id: number, outcome: DeliveryOutcome) => void;
    authorizeRegistrations: (requests: readonly RegistrationRequest[]) => Promise<RegistrationResult[]>;
    acceptNew: (link: Link, hello: HelloMessage | ResumeMessage, results: RegistrationResult[], resumeError: WelcomeMessage['resumeError']) => void;
    acceptResume: (link: Link, resume: ResumeMessage) => void;
    mayResume: (peer: ChannelPeer) => boolean;
  } {
    return {
      ackInbound: (epoch, id) => this.ackInbound(epoch, id),
      reply: (epoch, reply) => this.replyInternal(epoch, reply),
      reportDelivery: (epoch, id, outcome) => this.reportDeliveryInternal(epoch, id, outcome),
      authorizeRegistrations: (requests) => this.authorizeRegistrations(requests),
      acceptNew: (link, hello, results, resumeError) => this.acceptNew(link, hello, results, resumeError),
      acceptResume: (link, resume) => this.acceptResume(link, resume),
      mayResume: (peer) => this.mayResume(peer),
    };
  }

  // -------------------------------------------------------------------------------------------
  // Sending

  private normaliseStanza(input: StanzaInput | StanzaMessage, deliveryReport: boolean): StanzaMessage {
    const direction = this.role === 'gateway' ? 'to-service' : 'to-gateway';
    const given = input.context as Partial<RoutingContext> & StanzaInput['context'];
    if (given.direction !== undefined && given.direction !== direction) throw new TypeError(`a ${this.role} sends ${direction} stanzas`);
    if (deliveryReport && this.role !== 'service') throw new TypeError('only a service asks for delivery reports');
    const context: RoutingContext = {
      direction,
      via: given.via,
      gateway: given.gateway,
      session: given.session ?? '',
      origin: given.origin,
      key: given.key ?? '',
      deliveryReport: deliveryReport || (given.deliveryReport ?? false),
      redelivered: given.redelivered ?? false,
    };
    const xml = typeof input.xml === 'string' ? Buffer.from(input.xml, 'utf8') : input.xml;
    return { kind: 'stanza', context, xml };
  }

  private checkDirection(kind: SequencedMessage['kind']): void {
    const allowed = SEQUENCED_DIRECTIONS[kind];
    const outgoing = this.role === 'service' ? 'to-gateway' : 'to-service';
    if (allowed !== 'both' && allowed !== outgoing) throw new TypeError(`a ${this.role} does not send ${kind}`);
  }

  private enqueue(message: SequencedMessage, lane: string, requeueOnReset: boolean): { promise: Promise<void>; entry: TrackedEntry | undefined } {
    if (this.stateValue === 'closing' || this.stateValue === 'closed') {
      return { promise: handled(Promise.reject(new ChannelError('channel-closed', `channel is ${this.stateValue}`))), entry: undefined };
    }
    const encoded = encodeMessage(message);
    const maxMessageBytes = this.peerLimitsValue?.maxMessageBytes ?? DEFAULT_RECEIVE_LIMITS.maxMessageBytes;
    if (encoded.size > maxMessageBytes) {
      return { promise: handled(Promise.reject(new ChannelError('message-too-large', `${encoded.size} bytes, the peer accepts at most ${maxMessageBytes}`))), entry: undefined };
    }
    const refusal = this.scheduler.refusal(encoded.size);
    if (refusal !== undefined) return { promise: handled(Promise.reject(new ChannelError('queue-full', refusal))), entry: undefined };
    let settle!: (error: Error | undefined) => void;
    const promise = handled(
      new Promise<void>((resolve, reject) => {
        settle = (error) => (error === undefined ? resolve() : reject(error));
      }),
    );
    const entry: TrackedEntry = newOutboundEntry(message, encoded, lane, requeueOnReset, settle);
    this.scheduler.enqueue(entry);
    this.schedulePump();
    return { promise, entry };
  }

  private enqueueInternal(message: SequencedMessage, lane: string): void {
    // Replies and reports are small and bounded by the peer's requests and our received stanzas;
    // when the queue is at its hard limit they are dropped and the peer's timeout takes over.
    if (this.stateValue === 'closed') return;
    const encoded = encodeMessage(message);
    if (this.scheduler.refusal(encoded.size) !== undefined) return;
    this.scheduler.enqueue(newOutboundEntry(message, encoded, lane, false, undefined));
    this.schedulePump();
  }

  private settle(entry: OutboundEntry, error: Error | undefined): void {
    const settle = entry.settle;
    if (settle === undefined) return;
    entry.settle = undefined;
    settle(error);
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => this.pump());
  }

  private pump(): void {
    this.pumpScheduled = false;
    const link = this.link;
    if (link === undefined || (this.stateValue !== 'open' && this.stateValue !== 'closing') || link.blocked) return;
    // An ACK pending from this turn goes first, so a DELIVERY never precedes its ack (§8.3).
    if (this.ackScheduled) this.flushAck();
    const drained = this.scheduler.pump(this.pumpSink);
    link.flush();
    if (link.writableLength > this.limits.maxWriteBufferBytes) {
      this.detachLink('write-stall', new ChannelError('write-stall', `${link.writableLength} bytes buffered in the transport`));
      return;
    }
    if (drained) this.emit('drain');
  }

  // -------------------------------------------------------------------------------------------
  // Link callbacks

  private onLinkFrame(link: Link, type: number, flags: number, id: number, payload: Buffer): void {
    if (link !== this.link) return;
    try {
      if (isLinkType(type)) this.linkFrame(link, type, payload);
      else this.sequencedFrame(type, flags, id, payload);
    } catch (error) {
      this.fail(isChannelError(error) ? error : new ChannelError('internal-error', String(error), { cause: error }));
    }
  }

  private onTick(link: Link, now: number): void {
    if (link !== this.link) return;
    this.coarseNow = now;
    if (this.stateValue !== 'open' && this.stateValue !== 'closing') return;
    if (!link.wroteSinceTick) {
      const nonce = Buffer.allocUnsafe(8);
      nonce.writeDoubleBE(now);
      link.appendMessage({ kind: 'ping', nonce });
      link.flush();
    }
    link.wroteSinceTick = false;
    if (link.receivedSinceTick) {
      link.lastReceiveAt = now;
      link.receivedSinceTick = false;
    } else if (now - link.lastReceiveAt >= this.heartbeat.deadAfterMs) {
      this.detachLink('heartbeat-timeout', new ChannelError('heartbeat-timeout', `nothing received for ${Math.round(now - link.lastReceiveAt)} ms`));
      return;
    }
    if (link.blocked && now - link.blockedSince >= this.limits.writeStallTimeoutMs) {
      this.detachLink('write-stall', new ChannelError('write-stall', `transport not drained for ${Math.round(now - link.blockedSince)} ms`));
      return;
    }
    if (this.scheduler.sentOutstanding > 0 && now - this.lastAckProgressAt >= this.limits.ackTimeoutMs) {
      this.fail(protocolError('ack-timeout', `no ack progress for ${Math.round(now - this.lastAckProgressAt)} ms with ${this.scheduler.sentOutstanding} messages unacknowledged`));
      return;
    }
    const expired = this.reassembler.expired(now, this.limits.reassemblyTimeoutMs);
    if (expired !== undefined) this.fail(expired);
  }

  // -------------------------------------------------------------------------------------------
  // Receiving: link messages

  private linkFrame(link: Link, type: number, payload: Buffer): void {
    if (this.stateValue === 'handshake') {
      if (type === MessageType.WELCOME) return this.welcome(link, decodeMessage(type, payload) as WelcomeMessage);
      if (type === MessageType.ERROR) return this.peerError(decodeMessage(type, payload));
      throw protocolError('unexpected-message', `${messageTypeName(type)} before WELCOME`);
    }
    switch (type) {
      case MessageType.ACK:
        return this.onAck(decodeAck(payload));
      case MessageType.PING:
        if (payload.length !== 8) throw protocolError('malformed-message', 'PING payload must be 8 bytes');
        link.appendMessage({ kind: 'pong', nonce: payload });
        link.flush();
        return;
      case MessageType.PONG: {
        if (payload.length !== 8) throw protocolError('malformed-message', 'PONG payload must be 8 bytes');
        const sentAt = payload.readDoubleBE(0);
        const rtt = monotonicNow() - sentAt;
        if (Number.isFinite(rtt) && rtt >= 0 && rtt < 3_600_000) this.roundTripMs = rtt;
        return;
      }
      case MessageType.ERROR:
        return this.peerError(decodeMessage(type, payload));
      case MessageType.CLOSE: {
        const message = decodeMessage(type, payload);
        if (message.kind === 'close') this.peerClose(message.reason, message.text);
        return;
      }
      default:
        throw protocolError('unexpected-message', `${messageTypeName(type)} after the handshake`);
    }
  }

  private onAck(record: AckRecord): void {
    const max = ackRecordMax(record);
    if (max > this.scheduler.lastAssignedId) {
      throw protocolError('invalid-ack', `ack names id ${max}, highest sent is ${this.scheduler.lastAssignedId}`, max);
    }
    const ids: number[] = [];
    this.peerAcked.addRecord(record, (id) => {
      const entry = this.scheduler.outstanding.get(id);
      if (entry === undefined || !entry.everSent) throw protocolError('invalid-ack', `ack for message ${id}, which was not completely sent`, id);
      ids.push(id);
    });
    if (ids.length === 0) return;
    for (const id of ids) {
      const entry = this.scheduler.acknowledge(id) as TrackedEntry;
      if (entry.onDelivery !== undefined) this.awaitDelivery(id, entry.onDelivery);
      this.settle(entry, undefined);
    }
    this.lastAckProgressAt = this.coarseNow;
    this.scheduler.wakeWindowWaiters();
    this.schedulePump();
    this.checkCloseProgress();
  }

  private awaitDelivery(id: number, callback: (outcome: DeliveryReportOutcome) => void): void {
    if (this.awaitingDelivery.size >= this.limits.maxAwaitingDelivery) {
      // §9: the oldest is given up on.
      const [oldestId, oldest] = this.awaitingDelivery.entries().next().value as [number, (outcome: DeliveryReportOutcome) => void];
      this.awaitingDelivery.delete(oldestId);
      callOut(oldest, 'unknown');
    }
    this.awaitingDelivery.set(id, callback);
  }

  private peerError(message: ReturnType<typeof decodeMessage>): void {
    if (message.kind !== 'error') return;
    const error = new ChannelError(message.code, message.text, { fromPeer: true, ...(message.id === undefined ? {} : { id: message.id }) });
    this.link?.stopReading();
    this.finish(message.code, true, error);
  }

  private peerClose(reason: string, text: string | undefined): void {
    const link = this.link;
    if (link !== undefined) {
      link.stopReading();
      this.writeAck(link);
      if (this.stateValue !== 'closed') link.appendMessage({ kind: 'close', reason: 'normal' });
      link.end();
    }
    this.finish(reason, true, text === undefined ? undefined : new ChannelError(reason, text, { fromPeer: true }));
  }

  // -------------------------------------------------------------------------------------------
  // Receiving: sequenced messages (§7, §10.3, §11.2)

  private sequencedFrame(type: number, flags: number, id: number, payload: Buffer): void {
    if (this.stateValue !== 'open' && this.stateValue !== 'closing') throw protocolError('unexpected-message', `${messageTypeName(type)} before the handshake completed`);
    let duplicate = false;
    if ((flags & FLAG_FIRST) !== 0) {
      if (this.reassembler.has(id)) throw protocolError('unexpected-chunk', `second first chunk for message ${id}`, id);
      this.checkIncomingDirection(type);
      const highestAllowed = this.highestSeen > this.resumeMark ? this.highestSeen : this.resumeMark;
      if (id > highestAllowed) {
        if (id !== highestAllowed + 1) throw protocolError('unexpected-id', `first chunk of id ${id}, expected at most ${highestAllowed + 1}`, id);
        this.highestSeen = id;
      } else {
        duplicate = this.received.has(id);
      }
      if (!duplicate) {
        this.heldMessages++;
        if (this.heldMessages > this.ownLimits.maxUnackedMessages) {
          throw protocolError('flow-control', `${this.heldMessages} messages unacknowledged, limit ${this.ownLimits.maxUnackedMessages}`, id);
        }
      }
    } else if (this.reassembler.has(id)) {
      duplicate = this.received.has(id);
    }
    const result = this.reassembler.push(type, flags, id, payload, duplicate, this.coarseNow);
    if (!duplicate) {
      this.heldBytes += payload.length;
      if (this.heldBytes > this.ownLimits.windowBytes) throw protocolError('flow-control', `${this.heldBytes} bytes unacknowledged, window ${this.ownLimits.windowBytes}`, id);
    }
    if (!result.done) return;
    if (result.duplicate) {
      this.duplicatesDropped++;
      // Acknowledged already: say so again. Held by the application: its ack will come (§10.3).
      if (this.acked.has(id)) this.scheduleAck(0);
      return;
    }
    this.complete(type, id, result.body);
  }

  private checkIncomingDirection(type: number): void {
    const allowed = INCOMING_DIRECTION.get(type);
    if (allowed === undefined) throw protocolError('unknown-type', `frame type ${messageTypeName(type)}`);
    const incoming = this.role === 'gateway' ? 'to-gateway' : 'to-service';
    if (allowed !== 'both' && allowed !== incoming) throw protocolError('unexpected-message', `${messageTypeName(type)} may not be sent to a ${this.role}`);
  }

  private complete(type: number, id: number, body: Buffer): void {
    this.received.add(id);
    const message = decodeMessage(type, body) as SequencedMessage;
    this.messagesReceived++;
    const size = body.length;
    switch (message.kind) {
      case 'stanza':
        if (message.context.direction !== (this.role === 'gateway' ? 'to-gateway' : 'to-service')) {
          throw protocolError('malformed-message', `a ${message.context.direction} stanza sent to a ${this.role}`, id);
        }
        return this.deliverToApplication(id, message, size);
      case 'session-event':
        return this.deliverToApplication(id, message, size);
      case 'reply':
        this.ackNow(id, size);
        return this.onReply(message);
      case 'delivery':
        this.ackNow(id, size);
        return this.onDelivery(message, id);
      case 'register':
      case 'unregister':
        this.ackNow(id, size);
        void this.onRegistrationRequest(id, message);
        return;
      case 'admin':
        this.ackNow(id, size);
        if (this.gatewaySide?.peer.role !== 'admin') {
          this.replyInternal(this.epoch, { kind: 'reply', re: id, ok: false, error: { code: 'forbidden', text: 'admin commands need a certificate with ambrosia:role:admin' } });
          return;
        }
        return this.emitMessage(new InboundMessage(this, this.epoch, id, message, size));
      case 'see-other-host-query':
      case 'user-lookup':
        this.ackNow(id, size);
        return this.emitMessage(new InboundMessage(this, this.epoch, id, message, size));
    }
  }

  private deliverToApplication(id: number, message: SequencedMessage, size: number): void {
    const inbound = new InboundMessage(this, this.epoch, id, message, size);
    if (this.ackMode === 'manual') {
      this.unackedInbound.set(id, size);
      this.emitMessage(inbound);
    } else {
      this.emitMessage(inbound);
      this.ackNow(id, size);
    }
  }

  private emitMessage(inbound: InboundMessage): void {
    try {
      this.emit('message', inbound);
    } catch (error) {
      // A throwing listener is the application's bug: surface it as EventEmitter would, without
      // leaving the channel half-updated.
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  private ackInbound(epoch: number, id: number): void {
    if (epoch !== this.epoch) return;
    const size = this.unackedInbound.get(id);
    if (size === undefined) return;
    this.unackedInbound.delete(id);
    this.ackNow(id, size);
  }

  private ackNow(id: number, size: number): void {
    this.acked.add(id);
    this.heldBytes -= size;
    this.heldMessages -= 1;
    this.scheduleAck(size);
  }

  /** Coalesces acks to one per event-loop turn, or sends at once past a quarter window (§8.3). */
  private scheduleAck(bytes: number): void {
    this.pendingAckBytes += bytes;
    this.pendingAckMessages += 1;
    if (this.pendingAckBytes >= this.ownLimits.windowBytes / 4 || this.pendingAckMessages >= this.ownLimits.maxUnackedMessages / 4) {
      this.flushAck();
      return;
    }
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    this.ackImmediate = setImmediate(() => this.flushAck());
  }

  private flushAck(): void {
    if (this.ackImmediate !== undefined) clearImmediate(this.ackImmediate);
    this.ackImmediate = undefined;
    this.ackScheduled = false;
    this.pendingAckBytes = 0;
    this.pendingAckMessages = 0;
    const link = this.link;
    if (link === undefined || (this.stateValue !== 'open' && this.stateValue !== 'closing')) return;
    this.writeAck(link);
    link.flush();
  }

  private writeAck(link: Link): void {
    link.appendMessage({ kind: 'ack', record: this.ackRecordToSend() });
  }

  private ackRecordToSend(): AckRecord {
    return this.acked.toRecord(this.limits.maxAckRangesSent);
  }

  private onReply(message: ReplyMessage): void {
    const pending = this.requestsById.get(message.re);
    if (pending === undefined) return;
    this.removeRequest(pending);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(new ChannelError(message.error.code, message.error.text, { fromPeer: true, id: message.re }));
  }

  private failRequest(pending: PendingRequest, error: ChannelError): void {
    if (!this.pendingRequests.has(pending)) return;
    this.removeRequest(pending);
    pending.reject(error);
  }

  private removeRequest(pending: PendingRequest): void {
    this.pendingRequests.delete(pending);
    if (pending.entry.id !== 0 && this.requestsById.get(pending.entry.id) === pending) this.requestsById.delete(pending.entry.id);
    if (pending.timer !== undefined) clearTimeout(pending.timer);
  }

  private onDelivery(message: DeliveryMessage, id: number): void {
    for (const [start, end] of message.ranges) {
      if (end > this.scheduler.lastAssignedId) throw protocolError('invalid-delivery', `report for id ${end}, highest sent is ${this.scheduler.lastAssignedId}`, id);
      const visit = (target: number): void => {
        if (this.scheduler.outstanding.has(target)) throw protocolError('invalid-delivery', `report for message ${target} before its ack`, id);
        const callback = this.awaitingDelivery.get(target);
        if (callback === undefined) return;
        this.awaitingDelivery.delete(target);
        callOut(callback, message.outcome);
      };
      // Walk whichever is smaller: the range, or the messages it could concern.
      if (end - start + 1 <= this.awaitingDelivery.size + this.scheduler.outstanding.size) {
        for (let target = start; target <= end; target++) visit(target);
      } else {
        for (const target of this.scheduler.outstanding.keys()) if (target >= start && target <= end) visit(target);
        for (const target of [...this.awaitingDelivery.keys()]) if (target >= start && target <= end) visit(target);
      }
    }
  }

  private replyInternal(epoch: number, reply: ReplyMessage): void {
    if (epoch !== this.epoch) return;
    this.enqueueInternal(reply, LANE_REPLY);
  }

  private reportDeliveryInternal(epoch: number, id: number, outcome: DeliveryOutcome): void {
    if (epoch !== this.epoch || this.role !== 'gateway') return;
    this.deliveryReports[outcome].push(id);
    if (this.deliveryReportScheduled) return;
    this.deliveryReportScheduled = true;
    setImmediate(() => this.flushDeliveryReports());
  }

  private flushDeliveryReports(): void {
    this.deliveryReportScheduled = false;
    for (const outcome of ['delivered', 'undelivered'] as const) {
      const ids = this.deliveryReports[outcome];
      if (ids.length === 0) continue;
      this.deliveryReports[outcome] = [];
      ids.sort((a, b) => a - b);
      let ranges: [number, number][] = [];
      for (const id of ids) {
        const last = ranges[ranges.length - 1];
        if (last !== undefined && id <= last[1] + 1) last[1] = Math.max(last[1], id);
        else ranges.push([id, id]);
        if (ranges.length === this.limits.maxAckRangesSent) {
          this.enqueueInternal({ kind: 'delivery', outcome, ranges }, LANE_DELIVERY);
          ranges = [];
        }
      }
      if (ranges.length > 0) this.enqueueInternal({ kind: 'delivery', outcome, ranges }, LANE_DELIVERY);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Registrations (§13.3)

  private parseOwnRegistration(registration: Registration): Registration {
    if (this.role !== 'service') throw new TypeError('only a service registers');
    const parsed = parseRegistration(registration);
    if (typeof parsed === 'string') throw new TypeError(`registration: ${parsed}`);
    return parsed;
  }

  private async decideRegistration(request: RegistrationRequest): Promise<RegistrationResult> {
    const parsed = parseRegistration(request);
    if (typeof parsed === 'string') return { ...request, ok: false, error: { code: 'bad-request', text: parsed } };
    const key = registrationKey(parsed);
    if (this.registrationsHeld.has(key)) return { ...parsed, ok: true };
    if (this.registrationsHeld.size >= MAX_REGISTRATIONS_PER_CHANNEL) {
      return { ...parsed, ok: false, error: { code: 'bad-request', text: `at most ${MAX_REGISTRATIONS_PER_CHANNEL} registrations per channel` } };
    }
    const side = this.gatewaySide!;
    let verdict: RegistrationVerdict;
    try {
      verdict = side.hooks.authorizeRegistration
        ? await side.hooks.authorizeRegistration(side.peer, parsed, this)
        : mayRegister(side.peer, parsed) || { code: 'forbidden', text: `certificate does not cover ${key}` };
    } catch (error) {
      verdict = { code: 'internal-error', text: error instanceof Error ? error.message : String(error) };
    }
    if (verdict !== true) return { ...parsed, ok: false, error: verdict };
    if (this.registrationsHeld.size >= MAX_REGISTRATIONS_PER_CHANNEL) {
      return { ...parsed, ok: false, error: { code: 'bad-request', text: `at most ${MAX_REGISTRATIONS_PER_CHANNEL} registrations per channel` } };
    }
    if (!this.registrationsHeld.has(key)) {
      this.registrationsHeld.set(key, parsed);
      this.emit('registered', parsed);
    }
    return { ...parsed, ok: true };
  }

  private async authorizeRegistrations(requests: readonly RegistrationRequest[]): Promise<RegistrationResult[]> {
    const results: RegistrationResult[] = [];
    // One at a time: the count limit and duplicate checks stay exact.
    for (const request of requests) results.push(await this.decideRegistration(request));
    return results;
  }

  private async onRegistrationRequest(id: number, message: RegistrationRequest & { kind: 'register' | 'unregister' }): Promise<void> {
    const epoch = this.epoch;
    let reply: ReplyMessage;
    if (message.kind === 'register') {
      const result = await this.decideRegistration(message);
      reply = result.ok ? { kind: 'reply', re: id, ok: true, result: {} } : { kind: 'reply', re: id, ok: false, error: result.error };
    } else {
      const key = registrationKey(message);
      const held = this.registrationsHeld.get(key);
      if (held === undefined) {
        reply = { kind: 'reply', re: id, ok: false, error: { code: 'not-found', text: `${key} is not registered on this channel` } };
      } else {
        this.registrationsHeld.delete(key);
        this.emit('unregistered', held);
        reply = { kind: 'reply', re: id, ok: true, result: {} };
      }
    }
    this.replyInternal(epoch, reply);
  }

  private mayResume(peer: ChannelPeer): boolean {
    const side = this.gatewaySide!;
    if (side.hooks.authorizeResume) return side.hooks.authorizeResume(peer, this);
    if (peer.role !== side.peer.role) return false;
    return this.registrations.every((registration) => mayRegister(peer, registration));
  }

  // -------------------------------------------------------------------------------------------
  // Handshake (§6) and resumption (§10)

  private applyPeerLimits(limits: ReceiveLimits): void {
    this.peerLimitsValue = limits;
    this.scheduler.setPeerLimits({
      chunkSize: Math.min(this.limits.chunkSize, limits.maxFramePayload),
      maxMessageBytes: limits.maxMessageBytes,
      windowBytes: limits.windowBytes,
      maxUnackedMessages: limits.maxUnackedMessages,
      maxPartialMessages: limits.maxPartialMessages,
    });
    // A resumed link may bring a larger window.
    this.scheduler.wakeWindowWaiters();
  }

  /** Applies the peer's record of what it acknowledged, as an ACK (§10.2 step 3). */
  private applyPeerRecord(record: AckRecord): void {
    this.onAck(record);
  }

  /** Service side: WELCOME arrived. */
  private welcome(link: Link, message: WelcomeMessage): void {
    if (this.options.expectedGateway !== undefined && message.gateway !== this.options.expectedGateway) {
      throw protocolError('unexpected-message', `WELCOME from gateway "${message.gateway}", expected "${this.options.expectedGateway}"`);
    }
    if (message.resumed && !this.sentResume) throw protocolError('unexpected-message', 'WELCOME resumed a channel that HELLO did not ask for');
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const previousChannel = this.channelId;
    const reset = this.sentResume && !message.resumed;
    let requeued = 0;
    let failed = 0;
    if (reset || previousChannel === undefined) {
      if (reset) ({ requeued, failed } = this.resetChannel());
    } else if (message.channel !== previousChannel) {
      throw protocolError('unexpected-message', 'WELCOME resumed a different channel');
    }
    this.channelId = message.channel;
    this.gatewayId = message.gateway;
    this.heartbeat = { heartbeatMs: message.heartbeatMs, deadAfterMs: message.deadAfterMs };
    this.applyPeerLimits(message.limits);
    link.setTickInterval(message.heartbeatMs);
    link.setMaxFramePayload(this.ownLimits.maxFramePayload);
    link.lastReceiveAt = this.coarseNow = monotonicNow();
    this.lastAckProgressAt = this.coarseNow;
    this.registrationsHeld.clear();
    for (const result of message.registrations) {
      if (!result.ok) continue;
      const parsed = parseRegistration(result);
      if (typeof parsed !== 'string') this.registrationsHeld.set(registrationKey(parsed), parsed);
    }
    this.setState('open');
    if (message.resumed) {
      this.resumeMark = Math.max(this.resumeMark, message.sent ?? 0);
      this.applyPeerRecord(message.received ?? { through: 0, ranges: [] });
    }
    if (reset) this.emit('reset', { previousChannel: previousChannel!, channel: message.channel, requeued, failed });
    const info: ReadyInfo = { channel: message.channel, resumed: message.resumed, reset, gateway: message.gateway, registrations: message.registrations, peerLimits: message.limits };
    const settle = this.attachSettle;
    this.attachSettle = undefined;
    settle?.resolve(info);
    this.emit('ready', info);
    // Acks the peer may have missed while detached, then the retransmissions (§10.2 step 4).
    this.scheduleAck(0);
    this.schedulePump();
  }

  /** §10.4: the old channel is gone; a new one starts at id 1 in both directions. */
  private resetChannel(): { requeued: number; failed: number } {
    this.epoch++;
    const dropped = this.scheduler.resetForNewChannel();
    const error = new ChannelError('channel-reset', 'the gateway no longer knows the channel');
    const droppedSet = new Set(dropped);
    let failed = 0;
    for (const entry of dropped) {
      if (entry.settle !== undefined) failed++;
      this.settle(entry, error);
    }
    // Requests already acked wait for a reply the old channel will never send.
    for (const pending of [...this.pendingRequests]) {
      if (!droppedSet.has(pending.entry)) failed++;
      this.failRequest(pending, error);
    }
    this.requestsById.clear();
    for (const callback of this.awaitingDelivery.values()) callOut(callback, 'unknown');
    this.awaitingDelivery.clear();
    this.peerAcked = new IdSet();
    this.received = new IdSet();
    this.acked = this.ackMode === 'auto' ? this.received : new IdSet();
    this.unackedInbound.clear();
    this.highestSeen = 0;
    this.resumeMark = 0;
    this.heldBytes = 0;
    this.heldMessages = 0;
    this.deliveryReports.delivered = [];
    this.deliveryReports.undelivered = [];
    return { requeued: this.scheduler.queuedMessages, failed };
  }

  /** Gateway side: a new channel on this link (HELLO, or RESUME of an unknown channel). */
  private acceptNew(link: Link, hello: HelloMessage | ResumeMessage, results: RegistrationResult[], resumeError: WelcomeMessage['resumeError']): void {
    this.applyPeerLimits(hello.limits);
    const welcome: WelcomeMessage = {
      kind: 'welcome',
      protocol: PROTOCOL_VERSION,
      channel: this.channelId!,
      resumed: false,
      ...(resumeError === undefined ? {} : { resumeError }),
      gateway: this.gatewayId!,
      limits: this.ownLimits,
      heartbeatMs: this.heartbeat.heartbeatMs,
      deadAfterMs: this.heartbeat.deadAfterMs,
      registrations: results,
    };
    this.openAccepted(link, welcome);
    this.emit('ready', { channel: this.channelId!, resumed: false, reset: false, gateway: this.gatewayId!, registrations: results, peerLimits: hello.limits });
    this.schedulePump();
  }

  /** Gateway side: RESUME of this channel on a new link (§10.2). */
  private acceptResume(link: Link, resume: ResumeMessage): void {
    if (this.link !== undefined) this.detachLink('link-closed', new ChannelError('link-closed', 'replaced by a resumed link'));
    if (this.stateValue === 'closed') {
      link.appendMessage({ kind: 'error', code: 'internal-error', text: 'channel ended while resuming' });
      link.end();
      return;
    }
    if (this.resumeTimer !== undefined) clearTimeout(this.resumeTimer);
    this.resumeTimer = undefined;
    this.applyPeerLimits(resume.limits);
    const registrations: RegistrationResult[] = this.registrations.map((registration) => ({ ...registration, ok: true }));
    const welcome: WelcomeMessage = {
      kind: 'welcome',
      protocol: PROTOCOL_VERSION,
      channel: this.channelId!,
      resumed: true,
      gateway: this.gatewayId!,
      limits: this.ownLimits,
      heartbeatMs: this.heartbeat.heartbeatMs,
      deadAfterMs: this.heartbeat.deadAfterMs,
      registrations,
      received: this.ackRecordToSend(),
      sent: this.scheduler.lastAssignedId,
    };
    this.openAccepted(link, welcome);
    this.resumeMark = Math.max(this.resumeMark, resume.sent);
    try {
      this.applyPeerRecord(resume.received);
    } catch (error) {
      this.fail(isChannelError(error) ? error : new ChannelError('internal-error', String(error)));
      return;
    }
    this.emit('ready', { channel: this.channelId!, resumed: true, reset: false, gateway: this.gatewayId!, registrations, peerLimits: resume.limits });
    this.schedulePump();
  }

  private openAccepted(link: Link, welcome: WelcomeMessage): void {
    this.link = link;
    link.setHandler(this.linkHandler);
    link.setTickInterval(this.heartbeat.heartbeatMs);
    link.appendMessage(welcome);
    link.flush();
    link.setMaxFramePayload(this.ownLimits.maxFramePayload);
    link.lastReceiveAt = this.coarseNow = monotonicNow();
    this.lastAckProgressAt = this.coarseNow;
    this.setState('open');
  }

  // -------------------------------------------------------------------------------------------
  // Ending links and channels (§5, §14)

  /** The link is gone but the channel lives on, resumable (§5). */
  private detachLink(code: string, error: ChannelError): void {
    const link = this.link;
    if (link === undefined) return;
    this.link = undefined;
    link.destroy();
    this.bytesRead += link.bytesRead;
    this.bytesWritten += link.bytesWritten;
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const partialHeld = this.reassembler.clear();
    this.heldMessages -= partialHeld.messages;
    this.heldBytes -= partialHeld.bytes;
    this.scheduler.resetForRetransmission();
    if (this.ackImmediate !== undefined) clearImmediate(this.ackImmediate);
    this.ackImmediate = undefined;
    this.ackScheduled = false;
    const settle = this.attachSettle;
    this.attachSettle = undefined;
    if (this.stateValue === 'closing') {
      settle?.reject(error);
      this.finish(this.closeReason?.reason ?? code, false, error);
      return;
    }
    this.setState('detached');
    settle?.reject(error);
    if (detachedChannel.hasSubscribers) detachedChannel.publish({ channel: this.channelId, role: this.role, code });
    this.emit('detached', { code, error });
    const side = this.gatewaySide;
    if (side !== undefined && this.stateValue === 'detached') {
      this.resumeTimer = setTimeout(() => this.finish('expired', false, new ChannelError('expired', `not resumed within ${side.resumeTimeoutMs} ms`)), side.resumeTimeoutMs);
      this.resumeTimer.unref();
    }
  }

  /** A protocol violation: ERROR to the peer, then the channel ends (§14.2). */
  private fail(error: ChannelError): void {
    if (this.stateValue === 'closed') return;
    const link = this.link;
    if (link !== undefined && !link.finished) {
      link.stopReading();
      link.appendMessage({ kind: 'error', code: error.code, ...(error.text === undefined ? {} : { text: error.text }), ...(error.id === undefined ? {} : { id: error.id }) });
      link.end();
    }
    this.finish(error.code, false, error);
  }

  private checkCloseProgress(): void {
    if (this.stateValue !== 'closing') return;
    if (this.scheduler.outstanding.size === 0 && this.scheduler.queuedMessages === 0) this.sendCloseAndFinish();
  }

  private sendCloseAndFinish(): void {
    if (this.stateValue !== 'closing') return;
    const link = this.link;
    const { reason, text } = this.closeReason ?? { reason: 'normal', text: undefined };
    if (link !== undefined) {
      this.writeAck(link);
      link.appendMessage({ kind: 'close', reason, ...(text === undefined ? {} : { text }) });
      link.end();
    }
    this.finish(reason, false, undefined);
  }

  private finish(code: string, byPeer: boolean, error: ChannelError | undefined): void {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    this.epoch++;
    for (const timer of [this.handshakeTimer, this.resumeTimer, this.closeTimer]) if (timer !== undefined) clearTimeout(timer);
    this.handshakeTimer = this.resumeTimer = this.closeTimer = undefined;
    if (this.ackImmediate !== undefined) clearImmediate(this.ackImmediate);
    this.ackImmediate = undefined;
    const link = this.link;
    this.link = undefined;
    if (link !== undefined) {
      this.bytesRead += link.bytesRead;
      this.bytesWritten += link.bytesWritten;
      if (!link.finished) link.end();
    }
    const closedError = new ChannelError('channel-closed', `channel closed: ${code}`, error === undefined ? {} : { cause: error });
    const entries = this.scheduler.drainAll() as TrackedEntry[];
    const unacked: UnackedMessage[] = [];
    for (const entry of entries) {
      // Stanzas and events are the application's to reroute; requests fail below, replies lapse.
      if (entry.message.kind === 'stanza' || entry.message.kind === 'session-event') unacked.push({ message: entry.message, lane: entry.laneKey, id: entry.id });
      this.settle(entry, closedError);
    }
    for (const pending of [...this.pendingRequests]) this.failRequest(pending, closedError);
    for (const callback of this.awaitingDelivery.values()) callOut(callback, 'unknown');
    this.awaitingDelivery.clear();
    this.unackedInbound.clear();
    const settle = this.attachSettle;
    this.attachSettle = undefined;
    settle?.reject(error ?? closedError);
    this.closeResolve?.();
    this.closeResolve = undefined;
    if (closedChannel.hasSubscribers) closedChannel.publish({ channel: this.channelId, role: this.role, code, byPeer });
    const info: ClosedInfo = { code, byPeer, unacked };
    if (error !== undefined) info.error = error;
    this.emit('closed', info);
    this.removeAllListeners('message');
  }

  private setState(state: EndpointState): void {
    this.stateValue = state;
  }
}

/** Marks a promise handled so an ignored rejection cannot crash the process; awaiting it still throws. */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(noop);
  return promise;
}

function noop(): void {}

function callOut(callback: (outcome: DeliveryReportOutcome) => void, outcome: DeliveryReportOutcome): void {
  try {
    callback(outcome);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** 128 random bits, base64url: a channel id (§6.3). */
export function newChannelId(): string {
  return randomBytes(16).toString('base64url');
}

export { DEFAULT_RESUME_TIMEOUT_MS };
