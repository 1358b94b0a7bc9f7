// One client connection: TCP → stream header → STARTTLS → SASL → restart → bind → [presence],
// then stanzas to a callback. RFC 6120 §§4–7; every wait is bounded by `stepTimeoutMs`.
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { DEFAULT_LIMITS, StreamParser, escapeAttribute, escapeText, type Element, type StreamHeader } from '@ambrosia/xml';
import { SCRAM_MECHANISMS, ScramClient, plainResponse, type SaltedPasswordCache } from './scram.js';

export const NS_STREAMS = 'http://etherx.jabber.org/streams';
export const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
export const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
export const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
export const NS_SESSION = 'urn:ietf:params:xml:ns:xmpp-session';
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';
export const NS_PING = 'urn:xmpp:ping';

/** Where and how to connect. */
export interface LoadTarget {
  host: string;
  port: number;
  /** The XMPP domain (stream `to`, account domain). */
  domain: string;
  /** `starttls` (RFC 6120 §5) or `none` (fails if the server requires TLS). */
  tls: 'starttls' | 'none';
  /** PEM of the CA the server's certificate must chain to. */
  caPem?: string;
  /**
   * Skip certificate verification (a server with a self-signed certificate). The connection is
   * still encrypted, but not authenticated: only for test servers.
   */
  insecure?: boolean;
  /** TLS server name to verify; default `domain`. */
  servername?: string;
  /** SASL mechanisms by preference; default SCRAM-SHA-1, SCRAM-SHA-256, PLAIN. */
  mechanisms?: readonly string[];
}

export interface Account {
  username: string;
  password: string;
}

export interface ConnectionOptions {
  cache: SaltedPasswordCache;
  /** Resource asked for at bind; default `load`. */
  resource?: string;
  /** Send initial presence after binding (needed for messages to the bare JID, RFC 6121 §8.5.2.1). */
  presence?: boolean;
  /** Bound on each wait of the negotiation and of close(); default 10 s. */
  stepTimeoutMs?: number;
  /** Source address (spreads connections over 127.x addresses when ports run short). */
  localAddress?: string;
  /** Stanzas after negotiation (iq get/set are answered here first). */
  onStanza?: (stanza: Element) => void;
  /** The connection ended (server close, error, or close()). */
  onClose?: (reason: string) => void;
}

/** Elements held while negotiating before someone waits for them; more is a broken server. */
const MAX_NEGOTIATION_BACKLOG = 32;
const DEFAULT_MECHANISMS = ['SCRAM-SHA-1', 'SCRAM-SHA-256', 'PLAIN'];

export class LoginError extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(`${step}: ${message}`);
    this.name = 'LoginError';
  }
}

type Waiter = { resolve: (el: Element) => void; reject: (e: Error) => void; timer: NodeJS.Timeout };

export class XmppConnection {
  /** Full JID the server bound. */
  jid = '';
  private socket: Socket | TLSSocket;
  private readonly parser: StreamParser;
  private readonly backlog: Element[] = [];
  private waiter: Waiter | undefined;
  private ready = false;
  private ended: string | undefined;
  private step = 'connect';
  private streamEndSeen: (() => void) | undefined;
  private readonly stepTimeoutMs: number;

  private constructor(
    private readonly target: LoadTarget,
    private readonly options: ConnectionOptions,
  ) {
    this.stepTimeoutMs = options.stepTimeoutMs ?? 10_000;
    this.parser = new StreamParser(
      {
        streamStart: (header) => this.onStreamStart(header),
        element: (el) => this.onElement(el),
        streamEnd: () => this.onStreamEnd(),
        error: (err) => this.end(`xml: ${err.condition}`),
      },
      DEFAULT_LIMITS,
    );
    this.socket = tcpConnect({ host: target.host, port: target.port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    this.socket.setNoDelay(true);
    this.attach(this.socket);
  }

  /** Connects and negotiates; rejects with a LoginError (the socket is then destroyed). */
  static async login(target: LoadTarget, account: Account, options: ConnectionOptions): Promise<XmppConnection> {
    const connection = new XmppConnection(target, options);
    try {
      await connection.negotiate(account);
      return connection;
    } catch (error) {
      connection.destroy();
      throw error instanceof LoginError ? error : new LoginError(connection.step, error instanceof Error ? error.message : String(error));
    }
  }

  get isOpen(): boolean {
    return this.ended === undefined;
  }

  /** Bytes queued in the socket, for backpressure decisions. */
  get writableLength(): number {
    return this.socket.writableLength;
  }

  /** Writes serialized XML; false once the socket buffer is above its high-water mark. */
  send(xmlText: string): boolean {
    if (this.ended !== undefined) return false;
    return this.socket.write(xmlText);
  }

  /** RFC 6120 §4.4: our `</stream:stream>`, the server's (bounded wait), then TCP close. */
  async close(): Promise<void> {
    if (this.ended !== undefined) return;
    const serverClosed = new Promise<void>((resolve) => {
      this.streamEndSeen = resolve;
      this.socket.once('close', () => resolve());
    });
    this.socket.write('</stream:stream>');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([serverClosed, new Promise<void>((r) => (timer = setTimeout(r, this.stepTimeoutMs)))]);
    clearTimeout(timer);
    this.end('closed');
  }

  /** Cuts the connection without a closing handshake. */
  destroy(): void {
    this.end('destroyed');
  }

  private attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => this.parser.write(chunk));
    socket.on('error', (err) => this.end(`socket: ${err.message}`));
    socket.on('close', () => this.end('socket closed'));
  }

  private end(reason: string): void {
    if (this.ended !== undefined) return;
    this.ended = reason;
    if (this.waiter) {
      clearTimeout(this.waiter.timer);
      this.waiter.reject(new LoginError(this.step, reason));
      this.waiter = undefined;
    }
    this.socket.destroy();
    this.streamEndSeen?.();
    this.options.onClose?.(reason);
  }

  private onStreamStart(header: StreamHeader): void {
    if (header.namespace !== NS_STREAMS || header.localName !== 'stream') this.end('not an XMPP stream');
  }

  private onStreamEnd(): void {
    if (this.streamEndSeen) this.streamEndSeen();
    else this.end('server closed the stream');
  }

  private onElement(el: Element): void {
    if (el.name === 'stream:error' || (el.getNS() === NS_STREAMS && el.getName() === 'error')) {
      const condition = el.children.find((c): c is Element => typeof c !== 'string')?.getName() ?? 'unknown';
      this.end(`stream error ${condition}`);
      return;
    }
    if (this.ready) {
      if (el.name === 'iq' && (el.attrs.type === 'get' || el.attrs.type === 'set')) this.answerIq(el);
      else this.options.onStanza?.(el);
      return;
    }
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      clearTimeout(waiter.timer);
      waiter.resolve(el);
      return;
    }
    this.backlog.push(el);
    if (this.backlog.length > MAX_NEGOTIATION_BACKLOG) this.end('too many unexpected elements while negotiating');
  }

  /** XEP-0199 pings get a result (a server may probe liveness); other requests an error. */
  private answerIq(iq: Element): void {
    const id = escapeAttribute(iq.attrs.id ?? '');
    const to = iq.attrs.from ? ` to='${escapeAttribute(iq.attrs.from)}'` : '';
    if (iq.getChild('ping', NS_PING)) this.send(`<iq type='result' id='${id}'${to}/>`);
    else this.send(`<iq type='error' id='${id}'${to}><error type='cancel'><service-unavailable xmlns='${NS_STANZAS}'/></error></iq>`);
  }

  private next(): Promise<Element> {
    const queued = this.backlog.shift();
    if (queued) return Promise.resolve(queued);
    if (this.ended !== undefined) return Promise.reject(new LoginError(this.step, this.ended));
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new LoginError(this.step, `no answer in ${this.stepTimeoutMs} ms`));
      }, this.stepTimeoutMs);
      this.waiter = { resolve, reject, timer };
    });
  }

  /** The iq answering `id`; anything else the server sends meanwhile is held for later. */
  private async answerTo(id: string): Promise<Element> {
    const held: Element[] = [];
    try {
      for (;;) {
        const el = await this.next();
        if (el.name === 'iq' && el.attrs.id === id) return el;
        held.push(el);
        if (held.length > MAX_NEGOTIATION_BACKLOG) throw new LoginError(this.step, 'too many unexpected elements while negotiating');
      }
    } finally {
      this.backlog.unshift(...held);
    }
  }

  private openStream(): void {
    this.socket.write(
      `<?xml version='1.0'?><stream:stream to='${escapeAttribute(this.target.domain)}' version='1.0' xml:lang='en' xmlns='jabber:client' xmlns:stream='${NS_STREAMS}'>`,
    );
  }

  private async features(): Promise<Element> {
    const el = await this.next();
    if (el.getName() !== 'features' || el.getNS() !== NS_STREAMS) throw new LoginError(this.step, `expected stream features, got <${el.name}>`);
    return el;
  }

  private async negotiate(account: Account): Promise<void> {
    await this.connected();
    this.step = 'stream';
    this.openStream();
    let features = await this.features();

    const starttls = features.getChild('starttls', NS_TLS);
    if (this.target.tls === 'starttls') {
      if (!starttls) throw new LoginError('starttls', 'server does not offer STARTTLS');
      this.step = 'starttls';
      this.socket.write(`<starttls xmlns='${NS_TLS}'/>`);
      const answer = await this.next();
      if (answer.getName() !== 'proceed') throw new LoginError('starttls', `server answered <${answer.name}>`);
      await this.upgrade();
      this.step = 'stream (tls)';
      this.openStream();
      features = await this.features();
    } else if (starttls?.getChild('required')) {
      throw new LoginError('starttls', 'server requires TLS');
    }

    this.step = 'sasl';
    await this.authenticate(account, features);
    this.parser.reset(); // RFC 6120 §6.4.6: a new stream after SASL success
    this.step = 'stream (authenticated)';
    this.openStream();
    features = await this.features();

    this.step = 'bind';
    if (!features.getChild('bind', NS_BIND)) throw new LoginError('bind', 'server does not offer resource binding');
    this.socket.write(
      `<iq type='set' id='bind1'><bind xmlns='${NS_BIND}'><resource>${escapeText(this.options.resource ?? 'load')}</resource></bind></iq>`,
    );
    const bound = await this.answerTo('bind1');
    const jid = bound.getChild('bind', NS_BIND)?.getChildText('jid');
    if (bound.name !== 'iq' || bound.attrs.type !== 'result' || !jid) throw new LoginError('bind', `bind failed: ${bound.toString().slice(0, 200)}`);
    this.jid = jid;

    // RFC 3921 §3 session establishment, still required by some servers (RFC 6121 dropped it).
    const session = features.getChild('session', NS_SESSION);
    if (session && !session.getChild('optional')) {
      this.step = 'session';
      this.socket.write(`<iq type='set' id='sess1'><session xmlns='${NS_SESSION}'/></iq>`);
      const answer = await this.answerTo('sess1');
      if (answer.attrs.type !== 'result') throw new LoginError('session', 'session establishment failed');
    }

    this.step = 'ready';
    this.ready = true;
    for (const el of this.backlog.splice(0)) this.onElement(el);
    if (this.options.presence) this.socket.write('<presence/>');
  }

  private connected(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new LoginError('connect', `no TCP connection in ${this.stepTimeoutMs} ms`)), this.stepTimeoutMs);
      this.socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.once('close', () => {
        clearTimeout(timer);
        reject(new LoginError('connect', this.ended ?? 'closed'));
      });
    });
  }

  /** RFC 6120 §5.4.3.3: TLS over the same TCP connection, then a fresh stream. */
  private upgrade(): Promise<void> {
    const plain = this.socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('error');
    plain.removeAllListeners('close');
    this.parser.reset();
    const secure = tlsConnect({
      socket: plain,
      servername: this.target.servername ?? this.target.domain,
      ...(this.target.caPem ? { ca: this.target.caPem } : {}),
      rejectUnauthorized: !this.target.insecure,
      minVersion: 'TLSv1.2',
    });
    this.socket = secure;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new LoginError('starttls', `no TLS handshake in ${this.stepTimeoutMs} ms`)), this.stepTimeoutMs);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        resolve();
      });
      secure.once('error', (err) => {
        clearTimeout(timer);
        reject(new LoginError('starttls', err.message));
      });
      this.attach(secure);
    });
  }

  private chooseMechanism(features: Element): string {
    const offered = new Set(
      (features.getChild('mechanisms', NS_SASL)?.getChildren('mechanism') ?? []).map((m) => m.getText().trim()),
    );
    const choice = (this.target.mechanisms ?? DEFAULT_MECHANISMS).find((m) => offered.has(m));
    if (!choice) throw new LoginError('sasl', `no usable mechanism among ${[...offered].join(' ') || 'none'}`);
    return choice;
  }

  private async authenticate(account: Account, features: Element): Promise<void> {
    const mechanism = this.chooseMechanism(features);
    const hash = SCRAM_MECHANISMS[mechanism];
    const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
    const unb64 = (el: Element) => Buffer.from(el.getText().trim(), 'base64').toString('utf8');
    if (!hash) {
      this.socket.write(`<auth xmlns='${NS_SASL}' mechanism='PLAIN'>${b64(plainResponse(account.username, account.password))}</auth>`);
      const answer = await this.next();
      if (answer.getName() !== 'success') throw new LoginError('sasl', `PLAIN failed: ${answer.children.map(String).join('')}`);
      return;
    }
    const scram = new ScramClient(hash, account.username, account.password, this.options.cache);
    this.socket.write(`<auth xmlns='${NS_SASL}' mechanism='${mechanism}'>${b64(scram.first())}</auth>`);
    const challenge = await this.next();
    if (challenge.getName() !== 'challenge') throw new LoginError('sasl', `${mechanism} failed: <${challenge.name}>${challenge.children.map(String).join('')}`);
    this.socket.write(`<response xmlns='${NS_SASL}'>${b64(await scram.respond(unb64(challenge)))}</response>`);
    let outcome = await this.next();
    // RFC 6120 §6.4.6 prefers the server-final-message inside <success/>; some servers send it
    // as a last challenge answered by an empty response.
    if (outcome.getName() === 'challenge') {
      const final = unb64(outcome);
      if (!scram.verify(final)) throw new LoginError('sasl', 'server signature mismatch');
      this.socket.write(`<response xmlns='${NS_SASL}'/>`);
      outcome = await this.next();
      if (outcome.getName() !== 'success') throw new LoginError('sasl', `${mechanism} failed after final challenge`);
      return;
    }
    if (outcome.getName() !== 'success') throw new LoginError('sasl', `${mechanism} failed: ${outcome.children.map(String).join('')}`);
    if (!scram.verify(unb64(outcome))) throw new LoginError('sasl', 'server signature mismatch');
  }
}
