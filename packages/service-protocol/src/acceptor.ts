// The gateway's side: a table of channels, the dispatch of each new link's HELLO or RESUME, and
// expiry of channels nobody resumes (docs/service-protocol.md §6, §10.5).
import type { Duplex } from 'node:stream';
import { ChannelError, isChannelError, protocolError } from './errors.js';
import { MessageType, messageTypeName } from './frame.js';
import {
  DEFAULT_ENDPOINT_LIMITS,
  DEFAULT_HEARTBEAT,
  DEFAULT_MAX_CHANNELS,
  DEFAULT_RESUME_TIMEOUT_MS,
  type EndpointLimits,
  HANDSHAKE_MAX_FRAME_PAYLOAD,
  HEARTBEAT_MS_RANGE,
  type HeartbeatSettings,
  type ReceiveLimits,
} from './limits.js';
import { Link, type LinkHandler } from './link.js';
import { type HelloMessage, type ResumeMessage, type WelcomeMessage, decodeMessage } from './messages.js';
import type { ChannelPeer } from './permissions.js';
import { type AckMode, ChannelEndpoint, type GatewayHooks, internal, newChannelId } from './endpoint.js';

export interface AcceptorOptions {
  /** This gateway's id, sent in WELCOME. */
  gateway: string;
  receiveLimits?: Partial<ReceiveLimits>;
  limits?: Partial<EndpointLimits>;
  heartbeat?: Partial<HeartbeatSettings>;
  /** How long a detached channel waits for RESUME before it expires (§10.5). */
  resumeTimeoutMs?: number;
  /** Channels held at once, attached or detached; beyond, HELLO gets `resource-constraint` (§15). */
  maxChannels?: number;
  ackMode?: AckMode;
  hooks?: GatewayHooks;
  /** Each new channel, before its WELCOME is written and before any 'registered' event: attach listeners here. */
  onChannel?: (channel: ChannelEndpoint) => void;
}

export class ChannelAcceptor {
  private readonly options: AcceptorOptions;
  private readonly heartbeat: HeartbeatSettings;
  private readonly limits: EndpointLimits;
  private readonly channelTable = new Map<string, ChannelEndpoint>();
  /** Links that have not completed their handshake, with their deadline timers. */
  private readonly pending = new Map<Link, { peer: ChannelPeer; timer: NodeJS.Timeout; busy: boolean }>();
  private closing = false;
  private readonly handler: LinkHandler;

  constructor(options: AcceptorOptions) {
    if (typeof options.gateway !== 'string' || options.gateway.length === 0) throw new TypeError('gateway id required');
    this.options = options;
    this.limits = { ...DEFAULT_ENDPOINT_LIMITS, ...options.limits };
    this.heartbeat = { ...DEFAULT_HEARTBEAT, ...options.heartbeat };
    const [min, max] = HEARTBEAT_MS_RANGE;
    if (this.heartbeat.heartbeatMs < min || this.heartbeat.heartbeatMs > max || this.heartbeat.deadAfterMs < 3 * this.heartbeat.heartbeatMs) {
      throw new RangeError(`heartbeatMs must be in [${min}, ${max}] and deadAfterMs at least 3 × heartbeatMs`);
    }
    this.handler = {
      frame: (link, type, _flags, _id, payload) => this.firstFrame(link, type, payload),
      decodeError: (link, error) => this.reject(link, error),
      lost: (link) => this.forget(link),
      drained: () => {},
      tick: () => {},
    };
  }

  /** The channels held, attached or detached, by id. */
  get channels(): ReadonlyMap<string, ChannelEndpoint> {
    return this.channelTable;
  }

  /** Links accepted whose handshake has not finished. */
  get pendingLinks(): number {
    return this.pending.size;
  }

  /**
   * Takes a new transport (a verified TLS socket in production) whose peer's certificate gave
   * `peer`. The first frame decides: HELLO makes a channel, RESUME continues one (§6).
   */
  handle(transport: Duplex, peer: ChannelPeer): void {
    const link = new Link(transport, this.handler, HANDSHAKE_MAX_FRAME_PAYLOAD, this.heartbeat.heartbeatMs);
    if (this.closing) {
      this.reject(link, new ChannelError('resource-constraint', 'gateway shutting down'));
      return;
    }
    const timer = setTimeout(() => this.reject(link, protocolError('handshake-timeout', `no HELLO or RESUME within ${this.limits.handshakeTimeoutMs} ms`)), this.limits.handshakeTimeoutMs);
    timer.unref();
    this.pending.set(link, { peer, timer, busy: false });
  }

  /** Closes every channel gracefully with `reason` and refuses new links. */
  async close(reason = 'shutdown'): Promise<void> {
    this.closing = true;
    for (const link of [...this.pending.keys()]) this.reject(link, new ChannelError('resource-constraint', 'gateway shutting down'));
    await Promise.all([...this.channelTable.values()].map((channel) => channel.close(reason)));
  }

  private firstFrame(link: Link, type: number, payload: Buffer): void {
    const state = this.pending.get(link);
    if (state === undefined) return;
    if (state.busy) {
      this.reject(link, protocolError('unexpected-message', `${messageTypeName(type)} before WELCOME`));
      return;
    }
    if (type !== MessageType.HELLO && type !== MessageType.RESUME) {
      this.reject(link, protocolError('unexpected-message', `the first frame must be HELLO or RESUME, not ${messageTypeName(type)}`));
      return;
    }
    let message: HelloMessage | ResumeMessage;
    try {
      message = decodeMessage(type, payload) as HelloMessage | ResumeMessage;
    } catch (error) {
      this.reject(link, isChannelError(error) ? error : protocolError('malformed-message', String(error)));
      return;
    }
    state.busy = true;
    if (message.kind === 'resume') {
      const existing = this.channelTable.get(message.channel);
      if (existing !== undefined && existing.state !== 'closed' && existing.state !== 'closing') {
        if (existing[internal].mayResume(state.peer)) {
          this.forget(link);
          existing[internal].acceptResume(link, message);
          return;
        }
        void this.newChannel(link, state.peer, message, 'not-authorized');
        return;
      }
      void this.newChannel(link, state.peer, message, 'unknown-channel');
      return;
    }
    void this.newChannel(link, state.peer, message, undefined);
  }

  private async newChannel(link: Link, peer: ChannelPeer, hello: HelloMessage | ResumeMessage, resumeError: WelcomeMessage['resumeError']): Promise<void> {
    const maxChannels = this.options.maxChannels ?? DEFAULT_MAX_CHANNELS;
    if (this.channelTable.size >= maxChannels) {
      this.reject(link, new ChannelError('resource-constraint', `this gateway holds ${this.channelTable.size} channels (limit ${maxChannels})`));
      return;
    }
    const id = newChannelId();
    const channel = new ChannelEndpoint(
      { role: 'gateway', ...(this.options.receiveLimits ? { receiveLimits: this.options.receiveLimits } : {}), limits: this.limits, ackMode: this.options.ackMode ?? 'auto' },
      { gateway: this.options.gateway, channel: id, peer, instance: hello.instance, heartbeat: this.heartbeat, resumeTimeoutMs: this.options.resumeTimeoutMs ?? DEFAULT_RESUME_TIMEOUT_MS, hooks: this.options.hooks ?? {} },
    );
    this.channelTable.set(id, channel);
    channel.once('closed', () => {
      if (this.channelTable.get(id) === channel) this.channelTable.delete(id);
    });
    this.options.onChannel?.(channel);
    const results = await channel[internal].authorizeRegistrations(hello.registrations);
    if (!this.pending.has(link) || link.closed) {
      // The link failed while registrations were decided: nothing was promised, nothing to keep.
      channel.destroy();
      return;
    }
    this.forget(link);
    channel[internal].acceptNew(link, hello, results, resumeError);
  }

  private reject(link: Link, error: ChannelError): void {
    this.forget(link);
    if (link.closed) return;
    link.appendMessage({ kind: 'error', code: error.code, ...(error.text === undefined ? {} : { text: error.text }) });
    link.end();
  }

  private forget(link: Link): void {
    const state = this.pending.get(link);
    if (state === undefined) return;
    clearTimeout(state.timer);
    this.pending.delete(link);
  }
}
