/**
 * A byte-level tokenizer for XMPP's restricted XML (RFC 6120 §11): a state machine over the
 * bytes of each chunk that validates UTF-8 and XML 1.0 characters as it goes, slices names,
 * attribute values and text out of the chunk only when a token completes, and carries only the
 * unfinished token's bytes across chunks (so every byte is examined once: linear time).
 *
 * It also owns the byte budgets, because they must bite while bytes arrive: the tokenizer knows
 * where each top-level unit (the XML declaration, the stream header, a stanza, the closing tag)
 * begins and caps the scan of every chunk at the byte where the unit's budget runs out.
 *
 * Errors are thrown as XmlStreamError; the owner (StreamParser, parseElement) turns them into
 * events and stops feeding.
 */
import { ByteAccumulator } from './byte-accumulator.js';
import {
  ATTR_PLAIN,
  SIMPLE_UTF8_LEAD,
  CDATA_PLAIN,
  NAME_CHAR,
  NAME_START,
  TEXT_PLAIN,
  WHITESPACE,
  decodeReferences,
  hexValue,
  isDigit,
  isHexDigit,
  isXmlName,
  normalizeAttributeWhitespace,
  normalizeLineEnds,
} from './chars.js';
import { XmlErrorCode as Code, XmlStreamError } from './errors.js';
import { ATTRIBUTE, MAX_INTERNED_LENGTH, RAW, TEXT, decodeAsciiInterned, decodeCharacters, decodeLatin1 } from './intern.js';
import type { CharacterMode } from './intern.js';
import type { XmlErrorCondition } from './errors.js';
import type { XmlLimits } from './limits.js';
import { UTF8_ACCEPT, UTF8_REJECT, UTF8_TRANSITIONS, isXmlChar } from './utf8.js';

/** Receives tokens in document order. May throw XmlStreamError (namespace errors, mismatched tags). */
export interface TokenSink {
  /** The first `attrCount` entries of `attrNames`/`attrValues` are this tag's; the arrays are reused. */
  startTag(name: string, attrNames: readonly string[], attrValues: readonly string[], attrCount: number, selfClosing: boolean): void;
  endTag(name: string): void;
  /** One text node: a maximal run of character data, references and CDATA between two tags. */
  text(text: string): void;
}

// States. Each is handled by one method below.
const S_START = 0; // first bytes of a stream: byte order mark / encoding sniffing
const S_CONTENT = 1; // character data (inside an element) or whitespace (prolog, between stanzas)
const S_LT = 2; // after '<'
const S_START_NAME = 3; // element name of a start tag
const S_TAG = 4; // inside a start tag, between attributes
const S_EMPTY = 5; // after '/' in a start tag: '>' must follow
const S_ATTR_NAME = 6;
const S_ATTR_EQ = 7; // after an attribute name: S? '='
const S_ATTR_QUOTE = 8; // after '=': S? then a quote
const S_ATTR_VALUE = 9;
const S_END_NAME = 10; // element name of an end tag
const S_END_TAG = 11; // after an end tag's name: S? '>'
const S_BANG = 12; // after '<!'
const S_CDATA_OPEN = 13; // matching "CDATA[" after '<!['
const S_CDATA = 14;
const S_PI_TARGET = 15; // after '<?' at the very start: must be "xml" S
const S_DECL = 16; // inside the XML declaration, until '?>'
const S_EPILOG = 17; // element mode: after the root element, only whitespace may follow
const S_DONE = 18; // stream mode: the stream root is closed; input is ignored

// Sub-states of a reference ('&...;') inside text or an attribute value.
const REF_NONE = 0;
const REF_START = 1; // after '&'
const REF_NAME = 2; // in a named reference
const REF_HASH = 3; // after '&#'
const REF_DEC = 4; // decimal digits
const REF_HEX_START = 5; // after '&#x'
const REF_HEX = 6; // hex digits

const BOM = [0xef, 0xbb, 0xbf];
const CDATA_KEYWORD = [0x43, 0x44, 0x41, 0x54, 0x41, 0x5b]; // "CDATA["
const XML_KEYWORD = [0x78, 0x6d, 0x6c]; // "xml"
const NOT_A_CHAR = 0x110000; // references above U+10FFFF saturate here
/**
 * ASCII tokens shorter than this are cut from a latin1 string of the whole chunk, decoded once:
 * String#slice is several times cheaper than a Buffer slice (a call into C++) per token. V8
 * copies substrings shorter than 13 characters (SlicedString::kMinLength), so these tokens never
 * keep the chunk's string alive; longer ones are decoded from the buffer on their own for that
 * reason (an attribute kept in a queue must not pin a 64 KiB chunk).
 */
const CHUNK_SLICE_MAX = 12;
/**
 * Text nodes up to this many bytes go through the intern cache ('chat', 'away', priorities).
 * Longer ASCII text (status messages) is mostly unique and would evict names from the shared cache.
 */
const MAX_INTERNED_TEXT = 8;

// The five predefined entities (XML 1.0 §4.6) packed big-endian into a number.
const ENTITY_LT = 0x6c74;
const ENTITY_GT = 0x6774;
const ENTITY_AMP = 0x616d70;
const ENTITY_QUOT = 0x71756f74;
const ENTITY_APOS = 0x61706f73;

// [23] XMLDecl ::= '<?xml' VersionInfo EncodingDecl? SDDecl? S? '?>' (what follows '<?xml').
const XML_DECL_PATTERN =
  /^[ \t\r\n]+version[ \t\r\n]*=[ \t\r\n]*(?:'([^']*)'|"([^"]*)")(?:[ \t\r\n]+encoding[ \t\r\n]*=[ \t\r\n]*(?:'([^']*)'|"([^"]*)"))?(?:[ \t\r\n]+standalone[ \t\r\n]*=[ \t\r\n]*(?:'(?:yes|no)'|"(?:yes|no)"))?[ \t\r\n]*$/;

function fail(code: string, condition: XmlErrorCondition, message: string): XmlStreamError {
  return new XmlStreamError(code, condition, message);
}

function notWellFormed(message: string, code: string = Code.NOT_WELL_FORMED): XmlStreamError {
  return fail(code, 'not-well-formed', message);
}

export interface TokenizerOptions {
  /**
   * true: the first element is a stream root whose children are units (stanzas); after the root
   * closes, input is ignored. false: the input is one element (optionally surrounded by whitespace).
   */
  streamMode: boolean;
}

export class Tokenizer {
  private limits: XmlLimits;
  private readonly sink: TokenSink;
  private readonly streamMode: boolean;
  /** Depth at which units start: 1 inside a stream root, 0 for a standalone element. */
  private readonly topDepth: number;

  private state = S_START;
  /** Open elements, the stream root included. */
  private depth = 0;
  /** Nothing but (part of) a byte order mark has been consumed: an XML declaration may still come. */
  private atStart = true;
  /** The '<' being examined was the first byte of the stream (after any BOM). */
  private ltAtStart = false;
  /** Bytes matched so far of the BOM, "CDATA[" or "xml", whichever the state is matching. */
  private matched = 0;

  // Budget of the current unit.
  private inUnit = false;
  private unitIsHeader = false;
  private unitBudget = 0;
  /** Unit bytes in earlier chunks. */
  private unitUsed = 0;
  /** Where the unit's bytes begin in the current chunk. */
  private unitStart = 0;
  /** Scan limit in the current chunk: its end, or where the unit's budget runs out. */
  private lim = 0;
  private len = 0;

  // The token in progress: bytes from tokStart in this chunk, after any in `acc` from earlier chunks.
  private tokStart = -1;
  private readonly acc = new ByteAccumulator();
  private tokNonAscii = false;
  private tokHasCR = false;
  private tokHasRef = false;
  /** Attribute value contains literal TAB/LF/CR (§3.3.3 normalization needed). */
  private tokHasWs = false;
  /** The attribute whose value is being read is a namespace declaration (its value is interned). */
  private valueIsNamespace = false;
  /** The current chunk decoded as latin1, made on first use and dropped when write() returns. */
  private chunkLatin1: string | null = null;

  // The text node in progress (segments around CDATA sections are joined into one node).
  private pendingText = '';
  private textBytes = 0;

  // Multi-byte character and reference in progress.
  private u8 = UTF8_ACCEPT;
  private ref = REF_NONE;
  private refValue = 0;
  private refLength = 0;

  // The tag in progress.
  private tagName = '';
  private readonly attrNames: string[] = [];
  private readonly attrValues: string[] = [];
  private attrCount = 0;
  /**
   * Names of the open elements (bounded by maxDepth), to recognise end tags without decoding them.
   * Starts with the one slot a stream root needs, so a connection that only sent its header keeps
   * no larger array; it grows with the first nested stanza.
   */
  private readonly openNames: string[] = [''];
  private quote = 0;
  private sawSpace = false;

  /** The last two bytes of the previous chunk, to recognise "]]>" and "?>" split across chunks. */
  private prev1 = -1;
  private prev2 = -1;
  /** Incremented by reset(): a reset from inside a callback abandons the rest of the chunk. */
  private epoch = 0;

  constructor(sink: TokenSink, limits: XmlLimits, options: TokenizerOptions) {
    this.sink = sink;
    this.limits = limits;
    this.streamMode = options.streamMode;
    this.topDepth = options.streamMode ? 1 : 0;
  }

  setLimits(limits: XmlLimits): void {
    this.limits = limits;
  }

  /** Bytes of the unit (stanza, header) in progress, counted up to the end of the last chunk. */
  get bytesInCurrentUnit(): number {
    return this.inUnit ? this.unitUsed : 0;
  }

  reset(): void {
    this.epoch++;
    this.state = S_START;
    this.depth = 0;
    this.atStart = true;
    this.ltAtStart = false;
    this.matched = 0;
    this.inUnit = false;
    this.unitIsHeader = false;
    this.unitBudget = 0;
    this.unitUsed = 0;
    this.unitStart = 0;
    this.tokStart = -1;
    this.acc.release();
    this.tokNonAscii = this.tokHasCR = this.tokHasRef = this.tokHasWs = false;
    this.valueIsNamespace = false;
    this.chunkLatin1 = null;
    this.pendingText = '';
    this.textBytes = 0;
    this.u8 = UTF8_ACCEPT;
    this.ref = REF_NONE;
    this.tagName = '';
    // Drop references to the strings of the last tag, so an idle connection keeps nothing.
    this.attrNames.length = 0;
    this.attrValues.length = 0;
    this.attrCount = 0;
    this.openNames.length = 1;
    this.openNames[0] = '';
    this.quote = 0;
    this.sawSpace = false;
    this.prev1 = this.prev2 = -1;
  }

  write(buf: Buffer): void {
    if (buf.length === 0) return;
    this.chunkLatin1 = null;
    try {
      this.scan(buf);
    } finally {
      this.chunkLatin1 = null; // an idle parser keeps no chunk alive
    }
  }

  private scan(buf: Buffer): void {
    const len = buf.length;
    this.len = len;
    if (this.inUnit) {
      this.unitStart = 0;
      this.lim = Math.min(len, this.unitBudget - this.unitUsed);
    } else {
      this.lim = len;
    }
    let pos = 0;
    const epoch = this.epoch;
    while (pos < len) {
      // reset() was called by a callback (e.g. on <starttls/>): the rest of this chunk belongs
      // to the old stream and must not be parsed as the new one (RFC 6120 §5.4.3.3).
      if (this.epoch !== epoch) return;
      if (pos >= this.lim) throw this.overBudget();
      switch (this.state) {
        case S_START:
          pos = this.start(buf, pos);
          break;
        case S_CONTENT:
          pos = this.depth > this.topDepth ? this.text(buf, pos) : this.interUnitWhitespace(buf, pos);
          break;
        case S_LT:
          pos = this.afterLt(buf, pos);
          break;
        case S_START_NAME:
        case S_ATTR_NAME:
        case S_END_NAME:
          pos = this.name(buf, pos);
          break;
        case S_TAG:
          pos = this.tag(buf, pos);
          break;
        case S_EMPTY:
          if (buf[pos] !== 0x3e) throw notWellFormed("'/' in a start tag must be followed by '>'");
          pos = this.completeStartTag(pos + 1, true);
          break;
        case S_ATTR_EQ:
          pos = this.attrEq(buf, pos);
          break;
        case S_ATTR_QUOTE:
          pos = this.attrQuote(buf, pos);
          break;
        case S_ATTR_VALUE:
          pos = this.attrValue(buf, pos);
          break;
        case S_END_TAG:
          pos = this.endTag(buf, pos);
          break;
        case S_BANG:
          pos = this.bang(buf, pos);
          break;
        case S_CDATA_OPEN:
          pos = this.cdataOpen(buf, pos);
          break;
        case S_CDATA:
          pos = this.cdata(buf, pos);
          break;
        case S_PI_TARGET:
          pos = this.piTarget(buf, pos);
          break;
        case S_DECL:
          pos = this.decl(buf, pos);
          break;
        case S_EPILOG:
          pos = this.epilog(buf, pos);
          break;
        case S_DONE:
          pos = len;
          break;
        default:
          throw new Error(`tokenizer in unknown state ${this.state}`);
      }
    }
    if (this.epoch === epoch) this.endOfChunk(buf, len);
  }

  /**
   * End of input. Throws not-well-formed when something is incomplete; in element mode also
   * when the element never started or never closed.
   */
  end(): void {
    if (this.state === S_DONE || this.state === S_EPILOG) return;
    // A stream may stop between stanzas (the connection closed without </stream:stream>).
    if (this.streamMode && !this.inUnit && (this.state === S_CONTENT || (this.state === S_START && this.matched === 0))) {
      return;
    }
    throw notWellFormed('input ended inside markup or before the element was complete', Code.TRUNCATED);
  }

  // ---------------------------------------------------------------------------------------------
  // Budgets

  private beginUnit(pos: number): void {
    this.inUnit = true;
    this.unitIsHeader = this.streamMode && this.depth === 0;
    this.unitBudget = this.unitIsHeader ? this.limits.maxStreamHeaderBytes : this.limits.maxStanzaBytes;
    this.unitUsed = 0;
    this.unitStart = pos;
    this.lim = Math.min(this.len, pos + this.unitBudget);
  }

  private endUnit(): void {
    this.inUnit = false;
    this.lim = this.len;
  }

  private overBudget(): XmlStreamError {
    return this.unitIsHeader
      ? fail(Code.LIMIT_HEADER_BYTES, 'policy-violation', `stream header exceeds ${this.unitBudget} bytes`)
      : fail(Code.LIMIT_STANZA_BYTES, 'policy-violation', `stanza exceeds ${this.unitBudget} bytes`);
  }

  private endOfChunk(buf: Buffer, len: number): void {
    if (this.tokStart >= 0) {
      const n = len - this.tokStart;
      const state = this.state;
      if (state === S_START_NAME || state === S_ATTR_NAME || state === S_END_NAME) {
        this.checkNameLength(this.acc.length + n);
      } else if (state === S_CONTENT || state === S_CDATA) {
        this.addTextBytes(n);
      }
      this.acc.append(buf, this.tokStart, len);
      this.tokStart = 0;
    }
    if (this.inUnit) {
      this.unitUsed += len - this.unitStart;
      this.unitStart = 0;
    }
    if (len >= 2) {
      this.prev2 = buf[len - 2]!;
      this.prev1 = buf[len - 1]!;
    } else {
      this.prev2 = this.prev1;
      this.prev1 = buf[0]!;
    }
  }

  private checkNameLength(n: number): void {
    if (n > this.limits.maxNameLength) {
      throw fail(Code.LIMIT_NAME_LENGTH, 'policy-violation', `name longer than ${this.limits.maxNameLength} bytes`);
    }
  }

  private addTextBytes(n: number): void {
    this.textBytes += n;
    if (this.textBytes > this.limits.maxTextLength) {
      throw fail(Code.LIMIT_TEXT_LENGTH, 'policy-violation', `text node longer than ${this.limits.maxTextLength} bytes`);
    }
  }

  /** The byte `back` positions before `pos`, looking into the previous chunk if needed. */
  private byteBefore(buf: Buffer, pos: number, back: number): number {
    const i = pos - back;
    if (i >= 0) return buf[i]!;
    return i === -1 ? this.prev1 : this.prev2;
  }

  // ---------------------------------------------------------------------------------------------
  // Tokens

  private beginToken(pos: number): void {
    this.tokStart = pos;
    this.tokNonAscii = this.tokHasCR = this.tokHasRef = this.tokHasWs = false;
  }

  /**
   * Decodes the token's bytes up to `end` (which may precede tokStart by a split terminator).
   * Short ASCII tokens go through the intern cache unless `intern` is false.
   */
  private takeToken(buf: Buffer, end: number, intern = true): string {
    const start = this.tokStart;
    this.tokStart = -1;
    if (this.acc.length === 0) {
      if (end <= start) return '';
      if (this.tokNonAscii) return decodeCharacters(buf, start, end, RAW);
      return this.asciiToken(buf, start, end, intern);
    }
    const encoding = this.tokNonAscii ? 'utf8' : 'latin1';
    if (end >= start) this.acc.append(buf, start, end);
    else this.acc.truncate(start - end);
    return this.acc.take(encoding);
  }

  /** Decodes ASCII bytes [start, end) of this chunk: short ones interned if `intern`, or sliced from the chunk's string. */
  private asciiToken(buf: Buffer, start: number, end: number, intern: boolean): string {
    const n = end - start;
    if (intern && n <= MAX_INTERNED_LENGTH) return decodeAsciiInterned(buf, start, end);
    if (n > CHUNK_SLICE_MAX) return decodeLatin1(buf, start, end);
    return (this.chunkLatin1 ??= decodeLatin1(buf, 0, this.len)).slice(start, end);
  }

  /**
   * The hot loop: skips bytes that need no attention (per `plain`) and well-formed 2- and 3-byte
   * characters whose lead byte alone proves them valid. Stops at anything else, or at lim.
   */
  private skipPlain(buf: Buffer, pos: number, plain: Uint8Array): number {
    const lim = this.lim;
    let nonAscii = false;
    while (pos < lim) {
      const b = buf[pos]!;
      if (plain[b] === 1) {
        pos++;
        continue;
      }
      const kind = SIMPLE_UTF8_LEAD[b]!;
      if (kind === 0 || pos + kind > lim) break;
      if ((buf[pos + 1]! & 0xc0) !== 0x80) break;
      if (kind === 3 && (buf[pos + 2]! & 0xc0) !== 0x80) break;
      pos += kind;
      nonAscii = true;
    }
    if (nonAscii) this.tokNonAscii = true;
    return pos;
  }

  /** Consumes one multi-byte character (or what the chunk holds of it). buf[pos] ≥ 0x80 or a character is pending. */
  private utf8(buf: Buffer, pos: number): number {
    const lim = this.lim;
    let s = this.u8;
    if (s === UTF8_ACCEPT) s = UTF8_TRANSITIONS[buf[pos++]!]!;
    while (s !== UTF8_ACCEPT && s !== UTF8_REJECT && pos < lim) s = UTF8_TRANSITIONS[s * 256 + buf[pos++]!]!;
    if (s === UTF8_REJECT) {
      throw notWellFormed('invalid UTF-8 (or U+FFFE/U+FFFF) in input', Code.INVALID_UTF8);
    }
    this.u8 = s;
    return pos;
  }

  private invalidChar(b: number): XmlStreamError {
    return notWellFormed(`character U+${b.toString(16).padStart(4, '0').toUpperCase()} is not allowed in XML 1.0`, Code.INVALID_CHAR);
  }

  // ---------------------------------------------------------------------------------------------
  // States

  /** XML 1.0 Appendix F / RFC 6120 §11.6: only UTF-8; a UTF-8 BOM is skipped. */
  private start(buf: Buffer, pos: number): number {
    const b = buf[pos]!;
    if (this.matched > 0) {
      if (b !== BOM[this.matched]) throw notWellFormed('invalid byte order mark');
      if (++this.matched === BOM.length) {
        this.matched = 0;
        this.state = S_CONTENT;
      }
      return pos + 1;
    }
    if (b === 0xef) {
      this.matched = 1;
      return pos + 1;
    }
    if (b === 0xfe || b === 0xff || b === 0x00) {
      // UTF-16/UTF-32 byte order marks, or the 00 byte UTF-16BE/UTF-32BE put before '<'.
      throw fail(Code.UNSUPPORTED_ENCODING, 'unsupported-encoding', 'only UTF-8 is supported (RFC 6120 §11.6)');
    }
    this.state = S_CONTENT;
    return pos;
  }

  /** Before the root and between stanzas: only whitespace (XML 1.0 §2.8 Misc, RFC 6120 §11.7). */
  private interUnitWhitespace(buf: Buffer, pos: number): number {
    const lim = this.lim;
    const from = pos;
    while (pos < lim && WHITESPACE[buf[pos]!] === 1) pos++;
    if (pos > from) this.atStart = false;
    if (pos === lim) return pos;
    if (buf[pos] !== 0x3c) {
      if (this.depth === 0) throw notWellFormed('text before the root element', Code.TEXT_OUTSIDE_STANZA);
      throw notWellFormed('text between stanzas', Code.TEXT_OUTSIDE_STANZA);
    }
    // XML 1.0 §2.8: the declaration may only be the very first bytes (after a BOM).
    this.ltAtStart = this.atStart;
    this.atStart = false;
    this.beginUnit(pos);
    this.state = S_LT;
    return pos + 1;
  }

  /** Element mode, after the element: only whitespace may follow. */
  private epilog(buf: Buffer, pos: number): number {
    const lim = this.lim;
    while (pos < lim && WHITESPACE[buf[pos]!] === 1) pos++;
    if (pos < lim) throw notWellFormed('content after the element', Code.TRAILING_CONTENT);
    return pos;
  }

  /** Character data inside an element. */
  private text(buf: Buffer, pos: number): number {
    const lim = this.lim;
    if (this.u8 !== UTF8_ACCEPT) {
      pos = this.utf8(buf, pos);
      if (this.u8 !== UTF8_ACCEPT) return pos;
    }
    if (this.ref !== REF_NONE) {
      pos = this.reference(buf, pos);
      if (this.ref !== REF_NONE) return pos;
    }
    for (;;) {
      pos = this.skipPlain(buf, pos, TEXT_PLAIN);
      if (pos >= lim) return pos;
      const b = buf[pos]!;
      if (b === 0x3c /* < */) {
        this.flushText(buf, pos);
        this.ltAtStart = false;
        this.state = S_LT;
        return pos + 1;
      }
      if (b >= 0x80) {
        this.tokNonAscii = true;
        pos = this.utf8(buf, pos);
        if (this.u8 !== UTF8_ACCEPT) return pos;
      } else if (b === 0x26 /* & */) {
        this.tokHasRef = true;
        this.ref = REF_START;
        pos = this.reference(buf, pos + 1);
        if (this.ref !== REF_NONE) return pos;
      } else if (b === 0x3e /* > */) {
        // XML 1.0 §2.4: the literal "]]>" must not appear in content.
        if (this.byteBefore(buf, pos, 1) === 0x5d && this.byteBefore(buf, pos, 2) === 0x5d) {
          throw notWellFormed("']]>' is not allowed in character data");
        }
        pos++;
      } else if (b === 0x0d) {
        this.tokHasCR = true;
        pos++;
      } else {
        throw this.invalidChar(b);
      }
    }
  }

  /** Ends the current text segment at `end`, appending its value to the pending text node. */
  private flushText(buf: Buffer, end: number): void {
    const n = end - this.tokStart;
    if (n > 0) this.addTextBytes(n);
    if (n <= 0 && this.acc.length === 0) {
      this.tokStart = -1;
      return;
    }
    const s = this.takeCharacters(buf, end, TEXT, end - this.tokStart <= MAX_INTERNED_TEXT);
    this.pendingText = this.pendingText === '' ? s : this.pendingText + s;
  }

  /**
   * Takes a text segment or an attribute value: references expanded, line ends (text) or
   * whitespace (attribute values) normalized. Tokens needing any of that, or non-ASCII, are
   * decoded in one pass when they lie in this chunk.
   */
  private takeCharacters(buf: Buffer, end: number, mode: CharacterMode, intern = true): string {
    if (this.acc.length === 0 && (this.tokNonAscii || this.tokHasRef || this.tokHasCR || this.tokHasWs) && end > this.tokStart) {
      const s = decodeCharacters(buf, this.tokStart, end, mode);
      this.tokStart = -1;
      return s;
    }
    let s = this.takeToken(buf, end, intern);
    if (mode === TEXT ? this.tokHasCR : this.tokHasWs) s = mode === TEXT ? normalizeLineEnds(s) : normalizeAttributeWhitespace(s);
    if (this.tokHasRef) s = decodeReferences(s);
    return s;
  }

  private emitPendingText(): void {
    this.textBytes = 0;
    if (this.pendingText !== '') {
      const s = this.pendingText;
      this.pendingText = '';
      this.sink.text(s);
    }
  }

  /**
   * A reference after '&' (XML 1.0 §4.1). Only the five predefined entities (§4.6) and character
   * references to a Char are accepted; any other entity reference is restricted XML (RFC 6120 §11.1).
   * The raw text is kept in the token and decoded by decodeReferences() once the token completes.
   */
  private reference(buf: Buffer, pos: number): number {
    const lim = this.lim;
    let st = this.ref;
    while (pos < lim) {
      const b = buf[pos]!;
      switch (st) {
        case REF_START:
          if (b === 0x23 /* # */) {
            st = REF_HASH;
          } else if (NAME_START[b] === 1) {
            st = REF_NAME;
            this.refValue = b;
            this.refLength = 1;
          } else if (b >= 0x80) {
            // A non-ASCII entity name can only be an undeclared entity: restricted XML at its ';'.
            this.refLength = 99;
            this.ref = REF_NAME;
            this.tokNonAscii = true;
            pos = this.utf8(buf, pos);
            if (this.u8 !== UTF8_ACCEPT) return pos;
            st = REF_NAME;
            continue;
          } else {
            throw notWellFormed("'&' must start a reference");
          }
          break;
        case REF_NAME:
          if (b === 0x3b /* ; */) {
            this.checkNamedReference();
            this.ref = REF_NONE;
            return pos + 1;
          }
          if (NAME_CHAR[b] === 1) {
            if (++this.refLength <= 4) this.refValue = this.refValue * 256 + b;
          } else if (b >= 0x80) {
            this.refLength = 99;
            this.ref = REF_NAME;
            this.tokNonAscii = true;
            pos = this.utf8(buf, pos);
            if (this.u8 !== UTF8_ACCEPT) return pos;
            continue;
          } else {
            throw notWellFormed("entity reference must end with ';'");
          }
          break;
        case REF_HASH:
          if (b === 0x78 /* x */) {
            st = REF_HEX_START;
          } else if (isDigit(b)) {
            st = REF_DEC;
            this.refValue = b - 0x30;
          } else {
            throw notWellFormed('malformed character reference');
          }
          break;
        case REF_DEC:
          if (isDigit(b)) {
            this.refValue = Math.min(this.refValue * 10 + (b - 0x30), NOT_A_CHAR);
          } else if (b === 0x3b) {
            this.checkCharReference();
            this.ref = REF_NONE;
            return pos + 1;
          } else {
            throw notWellFormed('malformed character reference');
          }
          break;
        case REF_HEX_START:
          if (!isHexDigit(b)) throw notWellFormed('malformed character reference');
          st = REF_HEX;
          this.refValue = hexValue(b);
          break;
        case REF_HEX:
          if (isHexDigit(b)) {
            this.refValue = Math.min(this.refValue * 16 + hexValue(b), NOT_A_CHAR);
          } else if (b === 0x3b) {
            this.checkCharReference();
            this.ref = REF_NONE;
            return pos + 1;
          } else {
            throw notWellFormed('malformed character reference');
          }
          break;
      }
      pos++;
    }
    this.ref = st;
    return pos;
  }

  private checkNamedReference(): void {
    const v = this.refValue;
    const known =
      (this.refLength === 2 && (v === ENTITY_LT || v === ENTITY_GT)) ||
      (this.refLength === 3 && v === ENTITY_AMP) ||
      (this.refLength === 4 && (v === ENTITY_QUOT || v === ENTITY_APOS));
    if (!known) {
      throw fail(Code.RESTRICTED, 'restricted-xml', 'entity references other than the five predefined ones are restricted XML (RFC 6120 §11.1)');
    }
  }

  private checkCharReference(): void {
    // XML 1.0 §4.1 WFC: Legal Character.
    if (!isXmlChar(this.refValue)) {
      throw notWellFormed('character reference to a character XML 1.0 does not allow', Code.INVALID_CHAR);
    }
  }

  /** After '<': decides what kind of markup this is. */
  private afterLt(buf: Buffer, pos: number): number {
    const b = buf[pos]!;
    if (NAME_START[b] === 1 || b >= 0x80) {
      const level = this.depth - this.topDepth + 1;
      if (level > this.limits.maxDepth) {
        throw fail(Code.LIMIT_DEPTH, 'policy-violation', `elements nested deeper than ${this.limits.maxDepth}`);
      }
      this.emitPendingText();
      this.attrCount = 0;
      this.beginToken(pos);
      this.state = S_START_NAME;
      return pos;
    }
    if (b === 0x2f /* / */) {
      if (this.depth === 0) throw notWellFormed('end tag without a start tag', Code.MISMATCHED_TAG);
      this.emitPendingText();
      this.beginToken(pos + 1);
      this.state = S_END_NAME;
      return pos + 1;
    }
    if (b === 0x21 /* ! */) {
      this.state = S_BANG;
      return pos + 1;
    }
    if (b === 0x3f /* ? */) {
      if (this.ltAtStart) {
        this.matched = 0;
        this.state = S_PI_TARGET;
        return pos + 1;
      }
      throw fail(Code.RESTRICTED, 'restricted-xml', 'processing instructions are restricted XML (RFC 6120 §11.1)');
    }
    if (b === 0x00 && this.ltAtStart) {
      throw fail(Code.UNSUPPORTED_ENCODING, 'unsupported-encoding', 'only UTF-8 is supported (RFC 6120 §11.6)');
    }
    throw notWellFormed("'<' must start markup");
  }

  /** Element and attribute names (validated once complete). */
  private name(buf: Buffer, pos: number): number {
    const lim = this.lim;
    if (this.u8 !== UTF8_ACCEPT) {
      pos = this.utf8(buf, pos);
      if (this.u8 !== UTF8_ACCEPT) return pos;
    }
    for (;;) {
      while (pos < lim && NAME_CHAR[buf[pos]!] === 1) pos++;
      if (pos >= lim) return pos;
      if (buf[pos]! < 0x80) break;
      this.tokNonAscii = true;
      pos = this.utf8(buf, pos);
      if (this.u8 !== UTF8_ACCEPT) return pos;
    }
    const n = this.acc.length + (pos - this.tokStart);
    this.checkNameLength(n);
    if (n === 0) throw notWellFormed('missing name');
    if (this.state === S_END_NAME) {
      // Usually the end tag names the open element: compare bytes instead of decoding.
      const open = this.openNames[this.depth - 1]!;
      if (this.acc.length === 0 && open.length === n && !this.tokNonAscii && this.sameAscii(buf, this.tokStart, open)) {
        this.tokStart = -1;
        this.tagName = open;
        this.state = S_END_TAG;
        return pos;
      }
    }
    const nonAscii = this.tokNonAscii;
    const name = this.takeToken(buf, pos);
    if (nonAscii ? !isXmlName(name) : NAME_START[name.charCodeAt(0)] !== 1) {
      throw notWellFormed('invalid name');
    }
    switch (this.state) {
      case S_START_NAME:
        this.tagName = name;
        this.sawSpace = false;
        this.state = S_TAG;
        break;
      case S_ATTR_NAME:
        this.attrNames[this.attrCount] = name;
        // Namespace URIs repeat on almost every stanza: intern them like names.
        this.valueIsNamespace = name.charCodeAt(0) === 0x78 /* x */ && name.startsWith('xmlns');
        // Fast path for the usual name='value': straight into the value.
        if (pos + 1 < this.lim && buf[pos] === 0x3d /* = */) {
          const q = buf[pos + 1]!;
          if (q === 0x22 || q === 0x27) {
            this.quote = q;
            this.beginToken(pos + 2);
            this.state = S_ATTR_VALUE;
            return pos + 2;
          }
        }
        this.state = S_ATTR_EQ;
        break;
      default:
        this.tagName = name;
        this.state = S_END_TAG;
    }
    return pos;
  }

  private sameAscii(buf: Buffer, start: number, s: string): boolean {
    for (let i = 0; i < s.length; i++) if (buf[start + i] !== s.charCodeAt(i)) return false;
    return true;
  }

  /** Inside a start tag: whitespace, attributes, '>' or '/>'. */
  private tag(buf: Buffer, pos: number): number {
    const lim = this.lim;
    for (; pos < lim; pos++) {
      const b = buf[pos]!;
      if (WHITESPACE[b] === 1) {
        this.sawSpace = true;
        continue;
      }
      if (b === 0x3e /* > */) return this.completeStartTag(pos + 1, false);
      if (b === 0x2f /* / */) {
        this.state = S_EMPTY;
        return pos + 1;
      }
      if ((NAME_START[b] === 1 || b >= 0x80) && this.sawSpace) {
        if (this.attrCount >= this.limits.maxAttributes) {
          throw fail(Code.LIMIT_ATTRIBUTES, 'policy-violation', `more than ${this.limits.maxAttributes} attributes on one element`);
        }
        this.beginToken(pos);
        this.state = S_ATTR_NAME;
        return pos;
      }
      throw notWellFormed(this.sawSpace ? 'unexpected character in start tag' : 'attributes must be separated by whitespace');
    }
    return pos;
  }

  private attrEq(buf: Buffer, pos: number): number {
    const lim = this.lim;
    while (pos < lim && WHITESPACE[buf[pos]!] === 1) pos++;
    if (pos === lim) return pos;
    if (buf[pos] !== 0x3d /* = */) throw notWellFormed("attribute name must be followed by '='");
    this.state = S_ATTR_QUOTE;
    return pos + 1;
  }

  private attrQuote(buf: Buffer, pos: number): number {
    const lim = this.lim;
    while (pos < lim && WHITESPACE[buf[pos]!] === 1) pos++;
    if (pos === lim) return pos;
    const b = buf[pos]!;
    if (b !== 0x22 && b !== 0x27) throw notWellFormed('attribute values must be quoted');
    this.quote = b;
    this.beginToken(pos + 1);
    this.state = S_ATTR_VALUE;
    return pos + 1;
  }

  private attrValue(buf: Buffer, pos: number): number {
    const lim = this.lim;
    if (this.u8 !== UTF8_ACCEPT) {
      pos = this.utf8(buf, pos);
      if (this.u8 !== UTF8_ACCEPT) return pos;
    }
    if (this.ref !== REF_NONE) {
      pos = this.reference(buf, pos);
      if (this.ref !== REF_NONE) return pos;
    }
    const quote = this.quote;
    for (;;) {
      pos = this.skipPlain(buf, pos, ATTR_PLAIN);
      if (pos >= lim) return pos;
      const b = buf[pos]!;
      if (b === quote) {
        // Other values are mostly unique (ids, JIDs): hashing them costs more than it saves.
        const value = this.takeCharacters(buf, pos, ATTRIBUTE, this.valueIsNamespace);
        this.attrValues[this.attrCount++] = value;
        this.sawSpace = false;
        this.state = S_TAG;
        return pos + 1;
      }
      if (b === 0x22 || b === 0x27) {
        pos++;
      } else if (b >= 0x80) {
        this.tokNonAscii = true;
        pos = this.utf8(buf, pos);
        if (this.u8 !== UTF8_ACCEPT) return pos;
      } else if (b === 0x26 /* & */) {
        this.tokHasRef = true;
        this.ref = REF_START;
        pos = this.reference(buf, pos + 1);
        if (this.ref !== REF_NONE) return pos;
      } else if (b === 0x09 || b === 0x0a || b === 0x0d) {
        this.tokHasWs = true;
        pos++;
      } else if (b === 0x3c) {
        throw notWellFormed("'<' is not allowed in attribute values");
      } else {
        throw this.invalidChar(b);
      }
    }
  }

  private completeStartTag(next: number, selfClosing: boolean): number {
    const count = this.attrCount;
    const epoch = this.epoch;
    this.sink.startTag(this.tagName, this.attrNames, this.attrValues, count, selfClosing);
    if (this.epoch !== epoch) return next; // a callback reset the parser: leave the new state alone
    // Values can be large: do not keep them alive until the next tag overwrites the slots.
    for (let i = 0; i < count; i++) this.attrValues[i] = '';
    if (this.depth === 0 && this.streamMode) {
      // The stream header: a connection may sit idle after it (before authentication, with no
      // stanza yet), so the grown attribute arrays are given back; the first stanza regrows them.
      this.attrNames.length = 0;
      this.attrValues.length = 0;
    }
    this.attrCount = 0;
    if (!selfClosing) this.openNames[this.depth++] = this.tagName;
    return this.afterTag(next);
  }

  private endTag(buf: Buffer, pos: number): number {
    const lim = this.lim;
    while (pos < lim && WHITESPACE[buf[pos]!] === 1) pos++;
    if (pos === lim) return pos;
    if (buf[pos] !== 0x3e) throw notWellFormed("end tag must end with '>'");
    const epoch = this.epoch;
    this.sink.endTag(this.tagName);
    if (this.epoch !== epoch) return pos + 1; // a callback reset the parser
    this.openNames[--this.depth] = '';
    return this.afterTag(pos + 1);
  }

  /** After a tag's '>': ends the unit when back at the top, then continues with content. */
  private afterTag(next: number): number {
    if (this.depth <= this.topDepth) this.endUnit();
    if (this.depth === 0) {
      // The root closed: a stream ignores what follows, a standalone element allows whitespace.
      this.state = this.streamMode ? S_DONE : S_EPILOG;
      return next;
    }
    this.state = S_CONTENT;
    if (this.depth > this.topDepth) this.beginToken(next);
    return next;
  }

  /** After '<!': only a CDATA section is acceptable; comments and DTDs are restricted XML. */
  private bang(buf: Buffer, pos: number): number {
    const b = buf[pos]!;
    if (b === 0x5b /* [ */) {
      if (this.depth <= this.topDepth) throw notWellFormed('CDATA section outside an element', Code.TEXT_OUTSIDE_STANZA);
      this.matched = 0;
      this.state = S_CDATA_OPEN;
      return pos + 1;
    }
    throw fail(Code.RESTRICTED, 'restricted-xml', 'comments and DTDs are restricted XML (RFC 6120 §11.1)');
  }

  private cdataOpen(buf: Buffer, pos: number): number {
    const lim = this.lim;
    while (pos < lim) {
      if (buf[pos] !== CDATA_KEYWORD[this.matched]) throw notWellFormed("'<![' must start a CDATA section");
      pos++;
      if (++this.matched === CDATA_KEYWORD.length) {
        this.beginToken(pos);
        this.state = S_CDATA;
        return pos;
      }
    }
    return pos;
  }

  /**
   * CDATA sections are plain XML 1.0 (§2.7), not among RFC 6120 §11.1's restrictions, so they are
   * accepted; their content joins the surrounding text node (the element model has no CDATA node).
   */
  private cdata(buf: Buffer, pos: number): number {
    const lim = this.lim;
    if (this.u8 !== UTF8_ACCEPT) {
      pos = this.utf8(buf, pos);
      if (this.u8 !== UTF8_ACCEPT) return pos;
    }
    for (;;) {
      while (pos < lim && CDATA_PLAIN[buf[pos]!] === 1) pos++;
      if (pos >= lim) return pos;
      const b = buf[pos]!;
      if (b === 0x3e /* > */) {
        // The "]]" must lie inside the section: "<![CDATA[" ends with '[', so looking back is safe.
        if (this.byteBefore(buf, pos, 1) === 0x5d && this.byteBefore(buf, pos, 2) === 0x5d) {
          const end = pos - 2;
          const n = end - this.tokStart;
          if (n > 0) this.addTextBytes(n);
          let s = this.takeToken(buf, end);
          if (this.tokHasCR) s = normalizeLineEnds(s);
          this.pendingText = this.pendingText === '' ? s : this.pendingText + s;
          this.state = S_CONTENT;
          this.beginToken(pos + 1);
          return pos + 1;
        }
        pos++;
      } else if (b >= 0x80) {
        this.tokNonAscii = true;
        pos = this.utf8(buf, pos);
        if (this.u8 !== UTF8_ACCEPT) return pos;
      } else if (b === 0x0d) {
        this.tokHasCR = true;
        pos++;
      } else {
        throw this.invalidChar(b);
      }
    }
  }

  /** After '<?' as the first bytes of the stream: "xml" S starts the XML declaration (RFC 6120 §11.5). */
  private piTarget(buf: Buffer, pos: number): number {
    const lim = this.lim;
    while (pos < lim) {
      const b = buf[pos]!;
      if (this.matched < XML_KEYWORD.length) {
        if (b !== XML_KEYWORD[this.matched]) {
          throw fail(Code.RESTRICTED, 'restricted-xml', 'processing instructions are restricted XML (RFC 6120 §11.1)');
        }
        this.matched++;
        pos++;
        continue;
      }
      if (WHITESPACE[b] === 1) {
        this.beginToken(pos);
        this.state = S_DECL;
        return pos;
      }
      if (NAME_CHAR[b] === 1 || b >= 0x80) {
        throw fail(Code.RESTRICTED, 'restricted-xml', 'processing instructions are restricted XML (RFC 6120 §11.1)');
      }
      throw notWellFormed('malformed XML declaration');
    }
    return pos;
  }

  private decl(buf: Buffer, pos: number): number {
    const lim = this.lim;
    for (; pos < lim; pos++) {
      const b = buf[pos]!;
      if (b === 0x3e && this.byteBefore(buf, pos, 1) === 0x3f /* ? */) {
        this.checkDeclaration(this.takeToken(buf, pos - 1));
        this.endUnit();
        this.state = S_CONTENT;
        return pos + 1;
      }
      if (b >= 0x80 || (b < 0x20 && WHITESPACE[b] !== 1)) throw notWellFormed('malformed XML declaration');
    }
    return pos;
  }

  private checkDeclaration(decl: string): void {
    const m = XML_DECL_PATTERN.exec(decl);
    if (m === null) throw notWellFormed('malformed XML declaration');
    const version = m[1] ?? m[2];
    // RFC 6120 §11.8: XMPP is defined over XML 1.0 only. XML 1.1 changes the character set
    // (C1 controls, NEL line ends) and lets namespace prefixes be undeclared, so a 1.1 document
    // can mean something else to us than to its sender. unsupported-version is the stream error
    // RFC 6120 defines for "a version we do not speak"; we apply it to the XML version too.
    if (version !== '1.0') {
      throw fail(Code.UNSUPPORTED_VERSION, 'unsupported-version', `XML version ${String(version)} is not supported, only 1.0`);
    }
    const encoding = m[3] ?? m[4];
    if (encoding !== undefined && encoding.toLowerCase() !== 'utf-8') {
      throw fail(Code.UNSUPPORTED_ENCODING, 'unsupported-encoding', 'only UTF-8 is supported (RFC 6120 §11.6)');
    }
  }
}
