// One client connection's protection: its unauthenticated slot and the pre-authentication
// deadline (both end at SASL success), the cluster connection-rate check, the stanza-rate guard,
// and the counting of the limits the stream enforces itself (parser sizes, send buffer, idle).
// It sees the stream through a per-connection copy of the edge's hooks: the authenticator is
// wrapped to learn of SASL success, `onStanza` to apply the stanza rate, `log` to count trips.

import { StanzaRateGuard } from '@ambrosia/edge-limits';
import { StreamError } from '@ambrosia/errors';
import type { ClientStream, ClientStreamHooks, StreamAuthenticator, StreamAuthSession } from '@ambrosia/stream';
import type { Element } from '@ambrosia/xml';
import type { LogFields } from '../c2s/log.js';
import type { ClientAddress } from './proxy.js';
import type { DeadlineEntry } from './deadline-queue.js';
import type { Admission, EdgeProtection, PreAuthExpiry } from './protection.js';

/** What the guard needs of the transport: a timed hold on reading (the stanza rate's `slow`). */
export interface HoldableTransport {
  holdReading(ms: number): void;
}

/** Parser limit codes of @ambrosia/xml (XmlErrorCode) and the limit each one reports. */
const STANZA_SIZE_CODE = 'XML_LIMIT_STANZA_BYTES';

export class ConnectionGuard implements PreAuthExpiry {
  private stream: ClientStream | undefined;
  /** Makes the stream of a connection that has none yet (it never sent a byte). */
  private materialize: (() => ClientStream | undefined) | undefined;
  private preAuthDeadline: DeadlineEntry<PreAuthExpiry> | undefined;
  private holdsSlot: boolean;
  private authenticated = false;
  private rateGuard: StanzaRateGuard | undefined;
  /** Set when the connection ends for a reason counted elsewhere, so the stream's timeout is not counted twice. */
  private timeoutCounted = false;
  private ended = false;

  constructor(
    private readonly protection: EdgeProtection,
    readonly client: ClientAddress,
    private readonly admission: Admission,
    private readonly transport: HoldableTransport,
  ) {
    this.holdsSlot = admission.ok && admission.lease !== undefined;
  }

  /** The edge's hooks for this connection's stream. */
  hooksFor(shared: ClientStreamHooks): ClientStreamHooks {
    // The shared hooks as prototype, three of them overridden: a copy of all would cost every
    // connection a dozen fields more.
    const hooks = Object.create(shared) as ClientStreamHooks;
    hooks.authenticator = this.wrapAuthenticator(shared.authenticator);
    hooks.onStanza = (stanza, context) => this.onStanza(shared, stanza, context);
    hooks.log = (level, event, fields) => {
      this.observe(event, fields);
      shared.log?.(level, event, fields);
    };
    return hooks;
  }

  /**
   * The connection was admitted and is reading: the pre-authentication deadline starts (at
   * accept, not at the first byte) and the cluster connection rate is checked. `materialize`
   * gives the stream, made on demand for a connection still silent.
   */
  begin(materialize: () => ClientStream | undefined): void {
    this.materialize = materialize;
    this.preAuthDeadline = this.protection.startPreAuthDeadline(this);
    if (this.admission.ok && !this.admission.exempt) {
      void this.protection.overClusterRate(this.admission.key, this.client.address).then((over) => {
        if (!over || this.ended) return;
        this.streamNow()?.close(new StreamError('policy-violation', { text: 'too many connections from your address' }));
      });
    }
  }

  /** The stream exists (made at the connection's first byte). */
  attachStream(stream: ClientStream): void {
    this.stream = stream;
  }

  /** The socket is gone: the slot and the deadline go with it. */
  gone(): void {
    this.ended = true;
    this.materialize = undefined;
    this.endPreAuth();
  }

  private streamNow(): ClientStream | undefined {
    return this.stream ?? this.materialize?.();
  }

  private endPreAuth(): void {
    this.protection.cancelPreAuthDeadline(this.preAuthDeadline);
    this.preAuthDeadline = undefined;
    if (this.holdsSlot && this.admission.ok && this.admission.lease !== undefined) {
      this.holdsSlot = false;
      this.protection.release(this.admission.lease);
    }
  }

  /** Called by the shared deadline queue. */
  preAuthExpired(): void {
    this.preAuthDeadline = undefined;
    if (this.authenticated || this.ended) return;
    const stream = this.streamNow();
    if (stream === undefined) return;
    this.timeoutCounted = true;
    this.protection.trip('pre-auth-timeout', { address: this.client.address, session: stream.sessionId });
    // RFC 6120 §4.9.3.4 connection-timeout: here, not authenticated in time however many bytes came.
    stream.close(new StreamError('connection-timeout', { text: 'not authenticated in time' }));
  }

  private wrapAuthenticator(inner: StreamAuthenticator): StreamAuthenticator {
    return {
      offeredMechanisms: (offer) => inner.offeredMechanisms(offer),
      session: (connection) => {
        const session = inner.session(connection);
        const observe = <T extends { kind: string }>(step: T): T => {
          if (step.kind === 'success') this.onAuthenticated();
          return step;
        };
        const wrapped: StreamAuthSession = {
          start: async (mechanism, initial) => observe(await session.start(mechanism, initial)),
          step: async (response) => observe(await session.step(response)),
          abort: () => session.abort(),
          get identity() {
            return session.identity;
          },
        };
        return wrapped;
      },
    };
  }

  private onAuthenticated(): void {
    this.authenticated = true;
    this.endPreAuth();
  }

  private onStanza(shared: ClientStreamHooks, stanza: Element, context: Parameters<ClientStreamHooks['onStanza']>[1]): Promise<void> {
    const { limits } = this.protection;
    if (limits.stanzasPerSecond > 0 && !(this.admission.ok && this.admission.exempt)) {
      this.rateGuard ??= new StanzaRateGuard({ rate: limits.stanzasPerSecond, burst: limits.stanzaBurst, maxDebt: limits.maxStanzaDebt });
      const verdict = this.rateGuard.check();
      if (verdict === 'cut') {
        // The session keeps sending although reading was paused: a loop or a flood (RFC 6120 §4.9.3.14).
        this.protection.trip('stanza-rate-cut', { address: this.client.address, session: context.sessionId });
        context.stream.close(new StreamError('policy-violation', { text: 'too many stanzas' }));
        return Promise.resolve();
      }
      if (verdict === 'slow') {
        this.protection.trip('stanza-rate-slow', { address: this.client.address, session: context.sessionId, retryAfterMs: Math.ceil(this.rateGuard.retryAfterMs) });
        this.transport.holdReading(Math.ceil(this.rateGuard.retryAfterMs));
      }
    }
    return shared.onStanza(stanza, context);
  }

  /** Counts the limits the stream enforces itself, from its fixed log events (@ambrosia/stream). */
  private observe(event: string, fields: LogFields | undefined): void {
    const session = this.stream?.sessionId;
    const address = this.client.address;
    if (event === 'xml-error') {
      const code = fields?.code;
      if (typeof code !== 'string' || !code.startsWith('XML_LIMIT_')) return;
      const limit = code !== STANZA_SIZE_CODE ? 'xml-limit' : this.authenticated ? 'stanza-size' : 'pre-auth-stanza-size';
      this.protection.trip(limit, { address, session, code });
    } else if (event === 'peer-gone') {
      const detail = String(fields?.detail ?? '');
      this.timeoutCounted = true;
      const limit = detail.includes('send buffer') ? 'send-buffer' : detail.includes('drain') ? 'drain-timeout' : 'idle-timeout';
      this.protection.trip(limit, { address, session });
    } else if (event === 'stream-error' && fields?.condition === 'connection-timeout' && !this.timeoutCounted) {
      // Neither our deadline nor a dead peer: the stream's own connect → bound deadline.
      this.timeoutCounted = true;
      this.protection.trip('negotiation-timeout', { address, session });
    }
  }
}
