// A raw XMPP client for the runtime tests: direct TLS (XEP-0368), SASL PLAIN, bind, XEP-0198.
// It keeps what the server sent, the stream error that ended the stream, and the highest `h` the
// server acknowledged, so a test can compare what the client saw acked with what a service got.
import { createConnection, type Socket } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { StreamParser, type Element } from '@ambrosia/xml';

const STREAM_NS = 'http://etherx.jabber.org/streams';
const SM_NS = 'urn:xmpp:sm:3';

export interface RawClientOptions {
  port: number;
  host?: string;
  domain: string;
  ca: string;
  /** Sent on the TCP connection before TLS (PROXY protocol v1/v2). */
  proxyHeader?: string | Buffer;
}

export class RawClient {
  readonly received: Element[] = [];
  /** The <stream:error> that ended the stream, if any. */
  streamError: Element | undefined;
  /** Highest h in an <a/> from the server (XEP-0198 §4). */
  ackedH = 0;
  /** Stanzas sent since <enable/> (the h the server will count up to). */
  sentStanzas = 0;
  jid: string | undefined;
  readonly closed: Promise<void>;
  private readonly waiters = new Set<{ match: (el: Element) => boolean; resolve: (el: Element) => void }>();
  private parser: StreamParser;
  private isClosed = false;
  private handledInbound = 0;

  private constructor(
    private readonly socket: TLSSocket,
    private readonly domain: string,
  ) {
    this.parser = this.newParser();
    socket.on('data', (chunk: Buffer) => this.parser.write(chunk));
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.isClosed = true;
        resolve();
      });
    });
    socket.on('error', () => undefined);
  }

  static async connect(options: RawClientOptions): Promise<RawClient> {
    let tcp: Socket | undefined;
    if (options.proxyHeader !== undefined) {
      // A load balancer's PROXY header goes first, before the TLS ClientHello.
      tcp = createConnection({ host: options.host ?? '127.0.0.1', port: options.port });
      await new Promise<void>((resolve, reject) => {
        tcp!.once('connect', () => resolve());
        tcp!.once('error', reject);
      });
      tcp.write(options.proxyHeader);
    }
    const socket = connect({
      ...(tcp === undefined ? { host: options.host ?? '127.0.0.1', port: options.port } : { socket: tcp }),
      servername: options.domain,
      ca: options.ca,
      ALPNProtocols: ['xmpp-client'],
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket, options.domain);
  }

  get isOpen(): boolean {
    return !this.isClosed;
  }

  private newParser(): StreamParser {
    return new StreamParser(
      {
        streamStart: () => undefined,
        element: (el: Element) => {
          this.received.push(el);
          if (el.name === 'stream:error' || (el.getName() === 'error' && el.getNS() === STREAM_NS)) this.streamError = el;
          if (el.getName() === 'a' && el.attrs.xmlns === SM_NS) this.ackedH = Math.max(this.ackedH, Number(el.attrs.h));
          if (el.getName() === 'enabled' && el.attrs.xmlns === SM_NS) this.handledInbound = 0;
          if (['message', 'presence', 'iq'].includes(el.getName())) this.handledInbound += 1;
          // XEP-0198 §4: answer the server's requests, so its queue of unacked stanzas stays short.
          if (el.getName() === 'r' && el.attrs.xmlns === SM_NS) this.write(`<a xmlns='${SM_NS}' h='${this.handledInbound}'/>`);
          for (const waiter of this.waiters) {
            if (waiter.match(el)) {
              this.waiters.delete(waiter);
              waiter.resolve(el);
            }
          }
        },
        streamEnd: () => undefined,
        error: () => undefined,
      },
    );
  }

  write(text: string): void {
    if (!this.isClosed) this.socket.write(text);
  }

  /** Sends a stanza counted by XEP-0198. */
  sendStanza(text: string): void {
    this.sentStanzas += 1;
    this.write(text);
  }

  /** The next element matching, within `timeoutMs`. */
  next(match: (el: Element) => boolean, timeoutMs = 10_000, what = 'an element'): Promise<Element> {
    return new Promise((resolve, reject) => {
      const waiter = {
        match,
        resolve: (el: Element) => {
          clearTimeout(timer);
          resolve(el);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  private openStream(): Promise<Element> {
    const features = this.next((el) => el.getName() === 'features', 10_000, 'stream features');
    this.write(`<?xml version='1.0'?><stream:stream to='${this.domain}' version='1.0' xmlns='jabber:client' xmlns:stream='${STREAM_NS}'>`);
    return features;
  }

  /** SASL PLAIN, bind, and XEP-0198 with resumption. */
  async login(user: string, password: string, resource = 'r'): Promise<void> {
    await this.openStream();
    const outcome = this.next((el) => el.getName() === 'success' || el.getName() === 'failure', 10_000, 'SASL outcome');
    const payload = Buffer.from(`\0${user}\0${password}`).toString('base64');
    this.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${payload}</auth>`);
    const result = await outcome;
    if (result.getName() !== 'success') throw new Error(`SASL failed for ${user}`);
    this.parser = this.newParser(); // RFC 6120 §6.4.6: a new stream after SASL success
    await this.openStream();
    const bound = this.next((el) => el.getName() === 'iq' && el.attrs.id === 'bind1', 10_000, 'bind result');
    this.write(`<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>${resource}</resource></bind></iq>`);
    const bind = await bound;
    this.jid = bind.getChild('bind')?.getChildText('jid') ?? undefined;
    const enabled = this.next((el) => el.getName() === 'enabled' || (el.getName() === 'failed' && el.attrs.xmlns === SM_NS), 10_000, 'SM enabled');
    this.write(`<enable xmlns='${SM_NS}' resume='true'/>`);
    if ((await enabled).getName() !== 'enabled') throw new Error('XEP-0198 refused');
  }

  /** Asks for an acknowledgement and waits for it. */
  async requestAck(timeoutMs = 10_000): Promise<number> {
    const answer = this.next((el) => el.getName() === 'a' && el.attrs.xmlns === SM_NS, timeoutMs, 'an <a/>');
    this.write(`<r xmlns='${SM_NS}'/>`);
    return Number((await answer).attrs.h);
  }

  /** The condition of the stream error (see-other-host, system-shutdown, ...) and its text. */
  streamErrorCondition(): { condition: string; text: string } | undefined {
    const child = this.streamError?.children.find((c): c is Element => typeof c !== 'string' && c.getNS() === 'urn:ietf:params:xml:ns:xmpp-streams' && c.getName() !== 'text');
    return child === undefined ? undefined : { condition: child.getName(), text: child.getText() };
  }

  close(): void {
    this.socket.destroy();
  }
}
