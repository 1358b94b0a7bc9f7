// A raw XMPP client for end-to-end tests where exact behaviour matters: plain TCP, STARTTLS
// (RFC 6120 §5), SASL PLAIN (RFC 4616) or a tiny client-side SCRAM-SHA-1 (RFC 5802), resource
// binding (RFC 6120 §7), optional XEP-0198 enable/resume with manual or automatic acks. Every
// stanza received is parsed by @ambrosia/xml's StreamParser and kept (bounded); every wait is
// bounded. The server side of SASL is never imported: this is what a third-party client does.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { StreamParser, serialize, xml, type Element } from '@ambrosia/xml';
import { SCRAM_MECHANISMS, SaltedPasswordCache, ScramClient } from '../load/src/scram.js';

/** One per process: the same account logs in many times across a test file (bounded by the cache). */
const saltedPasswords = new SaltedPasswordCache(1_000);

const NS_CLIENT = 'jabber:client';
const NS_TLS = 'urn:ietf:params:xml:ns:xmpp-tls';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const NS_BIND = 'urn:ietf:params:xml:ns:xmpp-bind';
const NS_SM = 'urn:xmpp:sm:3';

/** Elements kept for `waitFor`; beyond this the oldest are dropped (a test reading nothing must not grow without bound). */
const MAX_KEPT_ELEMENTS = 20_000;

export interface XmppLogin {
  port: number;
  /** PEM of the cluster CA the client trusts (tls.connect({ ca })). */
  ca: string;
  domain: string;
  user: string;
  password: string;
  resource?: string;
  mechanism?: 'PLAIN' | 'SCRAM-SHA-1';
  /** XEP-0198: enable stream management (with resumption when `resume`). */
  sm?: { resume?: boolean; autoAck?: boolean };
  /** Resume this session instead of binding (XEP-0198 §5). */
  resumeFrom?: { previd: string; h: number };
  timeoutMs?: number;
}

export class XmppTestError extends Error {
  constructor(
    message: string,
    readonly element?: Element,
  ) {
    super(message);
  }
}

export class XmppClient {
  readonly received: Element[] = [];
  jid = '';
  smId: string | undefined;
  /** XEP-0198: stanzas received from the server (the client's `h`). */
  inbound = 0;
  /** <enable/> sent, answer not yet seen. */
  private smPending = false;
  /** XEP-0198: stanzas the server said it handled. */
  serverAcked = 0;
  outbound = 0;
  smEnabled = false;
  autoAck = true;
  closed = false;
  streamError: Element | undefined;
  private socket: Socket | TLSSocket;
  private parser: StreamParser;
  private header: Record<string, string> | undefined;
  private waiters = new Set<() => void>();
  private nextId = 0;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.parser = this.newParser();
    this.listen(socket);
  }

  private newParser(): StreamParser {
    return new StreamParser({
      streamStart: (header) => {
        this.header = header.attrs as Record<string, string>;
        this.wake();
      },
      element: (el) => this.onElement(el),
      streamEnd: () => {
        this.closed = true;
        this.wake();
      },
      error: () => {
        this.closed = true;
        this.wake();
      },
    });
  }

  private listen(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => this.parser.write(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  private onElement(el: Element): void {
    if (el.name === 'stream:error') this.streamError = el;
    // XEP-0198 §4: counting starts with <enabled/> itself. The stanzas that follow may arrive in
    // the same read (a server batches its writes), so start here, not after an await.
    if (!this.smEnabled && this.smPending && el.getNS() === NS_SM && el.name === 'enabled') {
      this.smEnabled = true;
      this.inbound = 0;
    }
    if (this.smEnabled && el.getNS() === NS_SM) {
      if (el.name === 'r' && this.autoAck) this.write(xml('a', { xmlns: NS_SM, h: this.inbound }));
      if (el.name === 'a') this.serverAcked = Number(el.attrs.h);
    } else if (this.smEnabled && isStanza(el)) this.inbound++;
    this.received.push(el);
    if (this.received.length > MAX_KEPT_ELEMENTS) this.received.splice(0, this.received.length - MAX_KEPT_ELEMENTS);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  static async login(options: XmppLogin): Promise<XmppClient> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    const socket = netConnect({ host: '127.0.0.1', port: options.port });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new XmppClient(socket);
    try {
      await client.negotiate(options, timeoutMs);
    } catch (e) {
      client.destroy();
      throw e;
    }
    return client;
  }

  private openStream(domain: string): void {
    this.header = undefined;
    this.socket.write(`<?xml version='1.0'?><stream:stream xmlns='${NS_CLIENT}' xmlns:stream='http://etherx.jabber.org/streams' to='${domain}' version='1.0'>`);
  }

  private async features(timeoutMs: number): Promise<Element> {
    return this.take((el) => el.name === 'stream:features', timeoutMs, 'stream features');
  }

  private async negotiate(options: XmppLogin, timeoutMs: number): Promise<void> {
    this.openStream(options.domain);
    let features = await this.features(timeoutMs);
    if (!features.getChild('starttls', NS_TLS)) throw new XmppTestError('no STARTTLS offered', features);
    this.write(xml('starttls', { xmlns: NS_TLS }));
    await this.take((el) => el.name === 'proceed', timeoutMs, 'STARTTLS proceed');
    await this.upgrade(options);
    this.openStream(options.domain);
    features = await this.features(timeoutMs);
    await this.authenticate(options, features, timeoutMs);
    this.parser = this.newParser(); // RFC 6120 §6.4.6: a new stream after SASL success
    this.openStream(options.domain);
    features = await this.features(timeoutMs);
    if (options.resumeFrom !== undefined) {
      this.smEnabled = true;
      this.autoAck = options.sm?.autoAck ?? true;
      // §5: counting goes on from the h we give; retransmissions may share a read with <resumed/>.
      this.inbound = options.resumeFrom.h;
      this.write(xml('resume', { xmlns: NS_SM, previd: options.resumeFrom.previd, h: options.resumeFrom.h }));
      const answer = await this.take((el) => el.getNS() === NS_SM && (el.name === 'resumed' || el.name === 'failed'), timeoutMs, 'resume answer');
      if (answer.name === 'failed') throw new XmppTestError('resume failed', answer);
      this.smId = options.resumeFrom.previd;
      this.serverAcked = Number(answer.attrs.h);
      return;
    }
    const bind = await this.iq(xml('iq', { type: 'set' }, xml('bind', { xmlns: NS_BIND }, options.resource ? xml('resource', {}, options.resource) : null)), timeoutMs);
    this.jid = bind.getChild('bind', NS_BIND)?.getChildText('jid') ?? '';
    if (options.sm !== undefined) {
      this.autoAck = options.sm.autoAck ?? true;
      this.smPending = true;
      this.write(xml('enable', { xmlns: NS_SM, resume: options.sm.resume ? 'true' : undefined }));
      this.outbound = 0; // XEP-0198 §4: counting starts at <enable/>, the bind iq is not counted
      const enabled = await this.take((el) => el.getNS() === NS_SM && (el.name === 'enabled' || el.name === 'failed'), timeoutMs, 'sm enabled');
      this.smPending = false;
      if (enabled.name === 'failed') throw new XmppTestError('sm enable failed', enabled);
      this.smId = enabled.attrs.id as string | undefined;
    }
  }

  private async upgrade(options: XmppLogin): Promise<void> {
    const plain = this.socket as Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const secure = tlsConnect({ socket: plain, servername: options.domain, ca: [options.ca] });
    await new Promise<void>((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    this.socket = secure;
    this.parser = this.newParser();
    this.listen(secure);
  }

  private async authenticate(options: XmppLogin, features: Element, timeoutMs: number): Promise<void> {
    const mechanism = options.mechanism ?? 'SCRAM-SHA-1';
    const offered = (features.getChild('mechanisms', NS_SASL)?.getChildren('mechanism') ?? []).map((m) => m.text());
    if (!offered.includes(mechanism)) throw new XmppTestError(`${mechanism} not offered (${offered.join(' ')})`, features);
    const outcome = (el: Element) => el.getNS() === NS_SASL && ['challenge', 'success', 'failure'].includes(el.name);
    if (mechanism === 'PLAIN') {
      const payload = Buffer.from(`\0${options.user}\0${options.password}`).toString('base64');
      this.write(xml('auth', { xmlns: NS_SASL, mechanism }, payload));
      const answer = await this.take(outcome, timeoutMs, 'SASL outcome');
      if (answer.name !== 'success') throw new XmppTestError('SASL failed', answer);
      return;
    }
    const hash = SCRAM_MECHANISMS[mechanism];
    if (hash === undefined) throw new XmppTestError(`this client speaks PLAIN, ${Object.keys(SCRAM_MECHANISMS).join(', ')}; not ${mechanism}`);
    const scram = new ScramClient(hash, options.user, options.password, saltedPasswords);
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    const text = (el: Element) => Buffer.from(el.text(), 'base64').toString();
    this.write(xml('auth', { xmlns: NS_SASL, mechanism }, b64(scram.first())));
    const challenge = await this.take(outcome, timeoutMs, 'SCRAM challenge');
    if (challenge.name !== 'challenge') throw new XmppTestError('SASL failed', challenge);
    let final: string;
    try {
      final = await scram.respond(text(challenge));
    } catch (error) {
      throw new XmppTestError((error as Error).message, challenge);
    }
    this.write(xml('response', { xmlns: NS_SASL }, b64(final)));
    const success = await this.take(outcome, timeoutMs, 'SCRAM outcome');
    if (success.name !== 'success') throw new XmppTestError('SASL failed', success);
    if (!scram.verify(text(success))) throw new XmppTestError('server signature does not verify', success);
  }

  /** Sends a stanza (Element or raw XML); counts it for XEP-0198. */
  send(stanza: Element | string): void {
    if (typeof stanza !== 'string' && isStanza(stanza)) this.outbound++;
    this.write(stanza);
  }

  write(data: Element | string): void {
    if (this.closed) return;
    this.socket.write(typeof data === 'string' ? data : serialize(data));
  }

  /** XEP-0198: acknowledge everything received so far. */
  ack(): void {
    this.write(xml('a', { xmlns: NS_SM, h: this.inbound }));
  }

  /** Sends an iq (an id is added when missing) and waits for its result; rejects on type=error. */
  async iq(stanza: Element, timeoutMs = 10_000): Promise<Element> {
    const id = (stanza.attrs.id as string | undefined) ?? `iq${++this.nextId}`;
    stanza.attrs.id = id;
    this.send(stanza);
    const answer = await this.take((el) => el.name === 'iq' && el.attrs.id === id && (el.attrs.type === 'result' || el.attrs.type === 'error'), timeoutMs, `iq ${id}`);
    if (answer.attrs.type === 'error') throw new XmppTestError(`iq ${id} failed: ${serialize(answer)}`, answer);
    return answer;
  }

  /** The first kept element matching, waiting at most `timeoutMs`; it stays kept. */
  async waitFor(predicate: (el: Element) => boolean, timeoutMs = 5_000, what = 'a matching element'): Promise<Element> {
    const found = await this.wait(() => this.received.find(predicate), timeoutMs, what);
    return found;
  }

  /** Like waitFor, but removes the element from `received` (so the next call finds the next one). */
  async take(predicate: (el: Element) => boolean, timeoutMs = 5_000, what = 'a matching element'): Promise<Element> {
    return this.wait(
      () => {
        const index = this.received.findIndex(predicate);
        return index < 0 ? undefined : this.received.splice(index, 1)[0];
      },
      timeoutMs,
      what,
    );
  }

  /** Waits until `condition` returns something other than undefined/false (re-checked on every element). */
  async wait<T>(condition: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    const first = condition();
    if (first !== undefined && first !== false) return first;
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = condition();
        if (value !== undefined && value !== false) {
          done();
          resolve(value);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new XmppTestError(`${this.jid || 'client'}: timed out after ${timeoutMs} ms waiting for ${what}; kept: ${this.received.map((e) => serialize(e)).slice(-8).join(' ')}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
    });
  }

  /** Asserts nothing matching arrives within `ms` (a bounded quiet period). */
  async expectNone(predicate: (el: Element) => boolean, ms: number): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const found = this.received.find(predicate);
    if (found !== undefined) throw new XmppTestError(`unexpected ${serialize(found)}`, found);
  }

  /** Waits for the connection to close (bounded). */
  async untilClosed(timeoutMs = 5_000): Promise<void> {
    await this.wait(() => this.closed || undefined, timeoutMs, 'close');
  }

  /** Ends the stream politely (RFC 6120 §4.4) and waits (bounded) for the close. */
  async close(timeoutMs = 3_000): Promise<void> {
    if (this.closed) return;
    this.write('</stream:stream>');
    await this.untilClosed(timeoutMs).catch(() => undefined);
    this.destroy();
  }

  /** Drops the TCP connection without a word, as a phone losing its network does. */
  destroy(): void {
    this.closed = true;
    this.socket.destroy();
    this.wake();
  }

  get streamId(): string | undefined {
    return this.header?.id;
  }
}

function isStanza(el: Element): boolean {
  return el.name === 'message' || el.name === 'presence' || el.name === 'iq';
}

