/**
 * The streaming parser for XMPP streams (c2s, s2s, the service channel): Buffer chunks in, split
 * anywhere, events out. See README.md for the limits and the error conditions.
 */
import type { Element } from 'ltx';
import { XmlErrorCode as Code, XmlStreamError, isXmlStreamError } from './errors.js';
import { DEFAULT_LIMITS, resolveLimits } from './limits.js';
import type { XmlLimits } from './limits.js';
import { Tokenizer } from './tokenizer.js';
import { TreeBuilder } from './tree-builder.js';
import type { StreamHeader, TreeEvents } from './tree-builder.js';

export interface StreamParserEvents {
  /** The stream root's start tag (`<stream:stream ...>` or any root); the caller judges namespace and version. */
  streamStart(header: StreamHeader): void;
  /** One complete, self-contained top-level element (a stanza or a stream-level element). */
  element(el: Element): void;
  /** The stream root closed (`</stream:stream>`, or a self-closing root). Input after it is ignored. */
  streamEnd(): void;
  /** Reported at most once; the parser then ignores input until reset(). */
  error(err: XmlStreamError): void;
}

const END_OF_INPUT = Symbol('end of input');

/** Wraps a caller's exception so it can be told apart from parse errors on the way out. */
class CallbackFailure {
  constructor(readonly error: unknown) {}
}

/**
 * The tree builder's events, passed on to the caller's with its exceptions wrapped. Prototype
 * methods rather than closures: a parser per idle connection should cost as little as possible.
 */
class GuardedEvents implements TreeEvents {
  constructor(private readonly events: StreamParserEvents) {}

  streamStart(header: StreamHeader): void {
    try {
      this.events.streamStart(header);
    } catch (e) {
      throw new CallbackFailure(e);
    }
  }

  element(el: Element): void {
    try {
      this.events.element(el);
    } catch (e) {
      throw new CallbackFailure(e);
    }
  }

  streamEnd(): void {
    try {
      this.events.streamEnd();
    } catch (e) {
      throw new CallbackFailure(e);
    }
  }
}

export function toBuffer(chunk: Buffer | Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class StreamParser {
  private readonly events: StreamParserEvents;
  private limits: XmlLimits;
  private readonly tokenizer: Tokenizer;
  private readonly builder: TreeBuilder;
  /** An error was reported, or end() was called: input is ignored until reset(). */
  private stopped = false;
  /** Inside write()/end(): calls from callbacks are queued in `deferred` (only the caller's own input). */
  private busy = false;
  /** Made the first time a callback feeds the parser. */
  private deferred: Array<Buffer | typeof END_OF_INPUT> | undefined = undefined;

  constructor(events: StreamParserEvents, limits?: Partial<XmlLimits>) {
    this.events = events;
    this.limits = resolveLimits(DEFAULT_LIMITS, limits);
    this.builder = new TreeBuilder(new GuardedEvents(events), { streamMode: true });
    this.tokenizer = new Tokenizer(this.builder, this.limits, { streamMode: true });
  }

  /** Bytes of the stanza (or stream header) in progress, as of the end of the last chunk; 0 between stanzas. */
  get bytesInCurrentStanza(): number {
    return this.tokenizer.bytesInCurrentUnit;
  }

  /** The limits in force. */
  get currentLimits(): Readonly<XmlLimits> {
    return this.limits;
  }

  /**
   * Feeds one chunk. Never throws for anything in the input: problems go to `error`. An exception
   * thrown by one of your own callbacks propagates unchanged, and the parser stops (until reset()).
   * Called from inside a callback, the chunk is parsed right after the current one.
   */
  write(chunk: Buffer | Uint8Array): void {
    const buf = toBuffer(chunk);
    if (this.busy) {
      (this.deferred ??= []).push(buf);
      return;
    }
    this.process(buf);
  }

  /** End of input: an incomplete stanza or header is reported as not-well-formed. */
  end(): void {
    if (this.busy) {
      (this.deferred ??= []).push(END_OF_INPUT);
      return;
    }
    this.process(END_OF_INPUT);
  }

  private process(first: Buffer | typeof END_OF_INPUT): void {
    this.busy = true;
    try {
      for (let item: Buffer | typeof END_OF_INPUT | undefined = first; item !== undefined; item = this.deferred?.shift()) {
        if (this.stopped) continue;
        try {
          if (item === END_OF_INPUT) {
            this.tokenizer.end();
            this.stopped = true;
          } else {
            this.tokenizer.write(item);
          }
        } catch (e) {
          this.handle(e);
        }
      }
    } finally {
      this.busy = false;
      if (this.deferred !== undefined) this.deferred.length = 0; // only non-empty when a callback threw
    }
  }

  /**
   * Stream restart (after STARTTLS and after SASL success, RFC 6120 §5.4.3.3 and §6.4.6): forgets
   * everything, buffered partial input and a previous error included. Limits are kept.
   * Called from a callback, it also drops the rest of the chunk being parsed: bytes a client sent
   * after <starttls/> in the same read are plaintext and must never count as the new stream.
   */
  reset(): void {
    this.tokenizer.reset();
    this.builder.reset();
    this.stopped = false;
  }

  /**
   * Changes limits (e.g. the larger post-authentication budget). Byte budgets apply from the next
   * stanza; the other limits immediately.
   */
  setLimits(limits: Partial<XmlLimits>): void {
    this.limits = resolveLimits(this.limits, limits);
    this.tokenizer.setLimits(this.limits);
  }

  private handle(e: unknown): void {
    this.stopped = true;
    if (e instanceof CallbackFailure) throw e.error;
    const err = isXmlStreamError(e)
      ? e
      : new XmlStreamError(Code.INTERNAL, 'not-well-formed', 'internal XML parser error', { cause: e });
    this.events.error(err);
  }
}
