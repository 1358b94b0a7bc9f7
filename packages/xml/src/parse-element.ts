/**
 * Parses one complete standalone element: a WebSocket message (RFC 7395 §3.3.3), a BOSH <body/>
 * (XEP-0124), a configuration fragment. Same checks and limits as the stream parser; whitespace
 * may surround the element, anything else after it is not-well-formed.
 */
import type { Element } from 'ltx';
import { XmlErrorCode as Code, XmlStreamError, isXmlStreamError } from './errors.js';
import { DEFAULT_LIMITS, resolveLimits } from './limits.js';
import type { XmlLimits } from './limits.js';
import { toBuffer } from './stream-parser.js';
import { Tokenizer } from './tokenizer.js';
import { TreeBuilder } from './tree-builder.js';

export interface ParseElementOptions {
  /** Limits; maxStanzaBytes bounds the element. Defaults to DEFAULT_LIMITS. */
  limits?: Partial<XmlLimits>;
  /**
   * Default namespace in scope around the element (e.g. 'jabber:client' for stanzas framed by
   * RFC 7395). When the element relies on it, it is written onto the element as `xmlns`.
   */
  defaultNamespace?: string;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Throws XmlStreamError (never anything else) when the input is not exactly one acceptable element. */
export function parseElement(input: Buffer | Uint8Array | string, options?: ParseElementOptions): Element {
  const limits = resolveLimits(DEFAULT_LIMITS, options?.limits);
  let bytes: Buffer;
  if (typeof input === 'string') {
    // Buffer.from() would silently turn a lone surrogate into U+FFFD.
    if (LONE_SURROGATE.test(input)) {
      throw new XmlStreamError(Code.INVALID_CHAR, 'not-well-formed', 'lone surrogate in input');
    }
    bytes = Buffer.from(input, 'utf8');
  } else {
    bytes = toBuffer(input);
  }
  let result: Element | null = null;
  const builder = new TreeBuilder(
    {
      streamStart: () => {},
      element: (el) => {
        result = el;
      },
      streamEnd: () => {},
    },
    { streamMode: false, defaultNamespace: options?.defaultNamespace },
  );
  const tokenizer = new Tokenizer(builder, limits, { streamMode: false });
  try {
    tokenizer.write(bytes);
    tokenizer.end();
  } catch (e) {
    if (isXmlStreamError(e)) throw e;
    throw new XmlStreamError(Code.INTERNAL, 'not-well-formed', 'internal XML parser error', { cause: e });
  }
  if (result === null) throw new XmlStreamError(Code.TRUNCATED, 'not-well-formed', 'no element in input');
  return result;
}
