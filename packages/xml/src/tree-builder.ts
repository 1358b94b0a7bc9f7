/**
 * Turns tokens into ltx Elements: namespace scoping and checks (Namespaces in XML 1.0), duplicate
 * attributes, matching end tags, and self-contained top-level elements.
 */
import { Element } from 'ltx';
import { XmlErrorCode as Code, XmlStreamError } from './errors.js';
import type { TokenSink } from './tokenizer.js';

export const XML_NAMESPACE = 'http://www.w3.org/XML/1998/namespace';
export const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';

/**
 * What stream headers declare (RFC 6120 §4.8, XEP-0114, XEP-0220). A header's bindings live as
 * long as its connection, so its copies of these strings are swapped for the shared ones.
 */
const HEADER_STRINGS: ReadonlyMap<string, string> = new Map(
  ['stream', 'db', 'http://etherx.jabber.org/streams', 'jabber:client', 'jabber:server', 'jabber:server:dialback', 'jabber:component:accept'].map((s) => [s, s]),
);

function shared(s: string, isHeader: boolean): string {
  return isHeader ? (HEADER_STRINGS.get(s) ?? s) : s;
}

export interface StreamHeader {
  /** Qualified name as written, e.g. 'stream:stream'. */
  name: string;
  localName: string;
  /** Resolved namespace of the root element ('' when it has none). */
  namespace: string;
  /** Attributes as written, namespace declarations included (null-prototype object). */
  attrs: Record<string, string>;
  /** Namespace declarations made on the header: prefix → URI, '' for the default namespace (null-prototype). */
  namespaces: Record<string, string>;
}

export interface TreeEvents {
  streamStart(header: StreamHeader): void;
  /** A complete top-level element (a stanza, or the element of parseElement). */
  element(el: Element): void;
  streamEnd(): void;
}

/** One in-scope namespace binding; `prev` is the binding it shadows. */
interface Binding {
  readonly uri: string;
  /** Declared on the stream header (or the parseElement context) rather than inside the unit. */
  readonly inherited: boolean;
  readonly prev: Binding | undefined;
}

const NO_DECLARATIONS: readonly string[] = [];

function notWellFormed(message: string, code: string = Code.NOT_WELL_FORMED): XmlStreamError {
  return new XmlStreamError(code, 'not-well-formed', message);
}

function badPrefix(message: string, code: string): XmlStreamError {
  return new XmlStreamError(code, 'bad-namespace-prefix', message);
}

/** Up to this many attributes, duplicates are found by comparing names (mostly interned, so by reference). */
const SMALL_ATTRIBUTE_COUNT = 8;

function isAmongFirst(names: readonly string[], count: number, name: string): boolean {
  for (let i = 0; i < count; i++) if (names[i] === name) return true;
  return false;
}

function createAttrs(): Record<string, string> {
  return Object.create(null) as Record<string, string>;
}

/** Namespaces in XML 1.0 §3 [7] QName: at most one colon, with a non-empty prefix and local part. */
function checkQName(name: string, colon: number): void {
  if (colon === 0 || colon === name.length - 1 || name.indexOf(':', colon + 1) !== -1) {
    throw notWellFormed(`'${name}' is not a valid qualified name`);
  }
}

export interface TreeBuilderOptions {
  /** Stream mode: the first element is a stream header and its children are emitted. */
  streamMode: boolean;
  /** Element mode: the default namespace in scope around the element (e.g. 'jabber:client'). */
  defaultNamespace?: string | undefined;
}

export class TreeBuilder implements TokenSink {
  private readonly events: TreeEvents;
  private readonly streamMode: boolean;
  private readonly defaultNamespace: string | undefined;

  /** prefix ('' = default namespace) → innermost binding. */
  private readonly bindings = new Map<string, Binding>();
  /** bindings.get(''), looked up for every unprefixed element, so kept at hand. */
  private defaultBinding: Binding | undefined = undefined;
  /** Open elements of the current unit; [0] is the unit's root. */
  private readonly stack: Element[] = [];
  /** Prefixes declared by each open element, to undo when it closes. */
  private readonly declaredStack: Array<readonly string[]> = [];
  private streamOpen = false;
  /** Incremented by reset(), which a callback may call while this builder is mid-token. */
  private epoch = 0;
  private headerName = '';
  /**
   * Inherited bindings the current unit uses; they get copied onto its root. The default
   * namespace is by far the most common, so it has its own slot.
   */
  private borrowedDefault: string | null = null;
  private borrowedPrefixes: Map<string, string> | null = null;

  constructor(events: TreeEvents, options: TreeBuilderOptions) {
    this.events = events;
    this.streamMode = options.streamMode;
    this.defaultNamespace = options.defaultNamespace;
    this.reset();
  }

  reset(): void {
    this.epoch++;
    this.bindings.clear();
    this.stack.length = 0;
    this.declaredStack.length = 0;
    this.streamOpen = false;
    this.headerName = '';
    this.borrowedDefault = null;
    this.borrowedPrefixes = null;
    if (this.defaultNamespace !== undefined && this.defaultNamespace !== '') {
      this.bindings.set('', { uri: this.defaultNamespace, inherited: true, prev: undefined });
    }
    this.defaultBinding = this.bindings.get('');
  }

  startTag(
    name: string,
    attrNames: readonly string[],
    attrValues: readonly string[],
    count: number,
    selfClosing: boolean,
  ): void {
    const isHeader = this.streamMode && !this.streamOpen;
    const isUnitRoot = !isHeader && this.stack.length === 0;
    if (isUnitRoot) {
      this.borrowedDefault = null;
      this.borrowedPrefixes = null;
    }

    const attrs = createAttrs();
    let declared: string[] | null = null;
    let prefixedAttributes = 0;
    for (let i = 0; i < count; i++) {
      const attrName = attrNames[i]!;
      // Few attributes: compare names. Many: probe the object, where values are always strings so
      // `undefined` means "not seen"; it has no prototype, so __proto__ or constructor are plain keys.
      if (i > 0 && (i < SMALL_ATTRIBUTE_COUNT ? isAmongFirst(attrNames, i, attrName) : attrs[attrName] !== undefined)) {
        throw notWellFormed(`duplicate attribute '${attrName}'`, Code.DUPLICATE_ATTRIBUTE);
      }
      const value = attrValues[i]!;
      attrs[attrName] = value;
      if (attrName.charCodeAt(0) === 0x78 /* x */ && attrName.startsWith('xmlns')) {
        if (attrName.length === 5) {
          if (this.declare('', value, isHeader)) (declared ??= []).push('');
          continue;
        }
        if (attrName.charCodeAt(5) === 0x3a /* : */) {
          const prefix = attrName.slice(6);
          checkQName(attrName, 5);
          if (this.declare(prefix, value, isHeader)) (declared ??= []).push(prefix);
          continue;
        }
      }
      if (attrName.indexOf(':') !== -1) prefixedAttributes++;
    }

    const colon = name.indexOf(':');
    let namespace: string;
    if (colon === -1) {
      const binding = this.defaultBinding;
      namespace = binding === undefined ? '' : binding.uri;
      if (binding !== undefined && binding.inherited && !isHeader && binding.uri !== '') this.borrowedDefault = binding.uri;
    } else {
      checkQName(name, colon);
      namespace = this.resolvePrefix(name.slice(0, colon), isHeader, true);
    }
    if (prefixedAttributes > 0) this.checkPrefixedAttributes(attrNames, count, prefixedAttributes, isHeader);

    if (isHeader) {
      this.openStream(name, colon, namespace, attrs, selfClosing);
      return;
    }

    const el = new Element(name);
    el.attrs = attrs;
    const parent = this.stack.length > 0 ? this.stack[this.stack.length - 1]! : null;
    if (parent !== null) {
      parent.children.push(el);
      el.parent = parent;
    }
    if (selfClosing) {
      if (declared !== null) this.undeclare(declared);
      if (parent === null) this.completeUnit(el);
    } else {
      this.stack.push(el);
      this.declaredStack.push(declared ?? NO_DECLARATIONS);
    }
  }

  endTag(name: string): void {
    const el = this.stack.pop();
    if (el === undefined) {
      if (this.streamMode && this.streamOpen && name === this.headerName) {
        this.streamOpen = false;
        this.events.streamEnd();
        return;
      }
      throw notWellFormed(`end tag '${name}' does not match the open element`, Code.MISMATCHED_TAG);
    }
    if (el.name !== name) {
      throw notWellFormed(`end tag '${name}' does not match '${el.name}'`, Code.MISMATCHED_TAG);
    }
    const declared = this.declaredStack.pop()!;
    if (declared.length > 0) this.undeclare(declared);
    if (this.stack.length === 0) this.completeUnit(el);
  }

  text(text: string): void {
    const el = this.stack[this.stack.length - 1];
    // The tokenizer only reports text inside an element; guard anyway rather than lose it silently.
    if (el === undefined) throw notWellFormed('text outside an element', Code.TEXT_OUTSIDE_STANZA);
    el.children.push(text);
  }

  /**
   * Namespaces in XML 1.0 §3 constraints on declarations. Returns true when a binding was pushed.
   * Misusing the reserved prefixes is reported as bad-namespace-prefix (RFC 6120 §4.9.3.2).
   */
  private declare(prefix: string, uri: string, isHeader: boolean): boolean {
    if (prefix === 'xmlns') {
      throw badPrefix("the prefix 'xmlns' must not be declared", Code.BAD_NAMESPACE_DECLARATION);
    }
    if (prefix === 'xml') {
      if (uri !== XML_NAMESPACE) {
        throw badPrefix("the prefix 'xml' must not be bound to another namespace", Code.BAD_NAMESPACE_DECLARATION);
      }
      return false; // predefined; re-declaring it correctly changes nothing
    }
    if (uri === XML_NAMESPACE || uri === XMLNS_NAMESPACE) {
      throw badPrefix(`namespace '${uri}' is reserved`, Code.BAD_NAMESPACE_DECLARATION);
    }
    if (prefix !== '' && uri === '') {
      // Only XML 1.1 namespaces may undeclare a prefix.
      throw badPrefix(`prefix '${prefix}' must not be bound to the empty namespace`, Code.BAD_NAMESPACE_DECLARATION);
    }
    const binding: Binding = { uri: shared(uri, isHeader), inherited: isHeader, prev: this.bindings.get(prefix) };
    this.bindings.set(shared(prefix, isHeader), binding);
    if (prefix === '') this.defaultBinding = binding;
    return true;
  }

  private undeclare(prefixes: readonly string[]): void {
    for (const prefix of prefixes) {
      const binding = this.bindings.get(prefix);
      if (binding?.prev === undefined) this.bindings.delete(prefix);
      else this.bindings.set(prefix, binding.prev);
      if (prefix === '') this.defaultBinding = binding?.prev;
    }
  }

  private resolvePrefix(prefix: string, isHeader: boolean, isElement: boolean): string {
    if (prefix === 'xml') return XML_NAMESPACE;
    if (prefix === 'xmlns') {
      throw badPrefix(
        isElement ? "element names must not use the prefix 'xmlns'" : 'malformed namespace declaration',
        Code.UNBOUND_PREFIX,
      );
    }
    const binding = this.bindings.get(prefix);
    if (binding === undefined) throw badPrefix(`namespace prefix '${prefix}' is not bound`, Code.UNBOUND_PREFIX);
    if (binding.inherited && !isHeader) this.borrow(prefix, binding.uri);
    return binding.uri;
  }

  /** Resolves attribute prefixes and rejects two attributes with the same expanded name. */
  private checkPrefixedAttributes(attrNames: readonly string[], count: number, prefixed: number, isHeader: boolean): void {
    const seen = prefixed > 1 ? new Set<string>() : null;
    for (let i = 0; i < count; i++) {
      const attrName = attrNames[i]!;
      const colon = attrName.indexOf(':');
      if (colon === -1) continue;
      if (colon === 5 && attrName.startsWith('xmlns')) continue; // a declaration, checked already
      checkQName(attrName, colon);
      const uri = this.resolvePrefix(attrName.slice(0, colon), isHeader, false);
      if (seen !== null) {
        // A local name never contains a space, so this key is unambiguous.
        const key = `${attrName.slice(colon + 1)} ${uri}`;
        if (seen.has(key)) {
          throw notWellFormed(`duplicate attribute '${attrName}' after namespace resolution`, Code.DUPLICATE_ATTRIBUTE);
        }
        seen.add(key);
      }
    }
  }

  private borrow(prefix: string, uri: string): void {
    (this.borrowedPrefixes ??= new Map()).set(prefix, uri);
  }

  private openStream(
    name: string,
    colon: number,
    namespace: string,
    attrs: Record<string, string>,
    selfClosing: boolean,
  ): void {
    const namespaces = createAttrs();
    for (const attrName in attrs) {
      if (attrName === 'xmlns') namespaces[''] = attrs[attrName]!;
      else if (attrName.startsWith('xmlns:')) namespaces[attrName.slice(6)] = attrs[attrName]!;
    }
    this.streamOpen = true;
    this.headerName = name;
    const epoch = this.epoch;
    this.events.streamStart({
      name,
      localName: colon === -1 ? name : name.slice(colon + 1),
      namespace,
      attrs,
      namespaces,
    });
    if (selfClosing && this.epoch === epoch) {
      this.streamOpen = false;
      this.events.streamEnd();
    }
  }

  /**
   * A top-level element is complete. Every stanza is handled on its own from here on, so it must
   * be self-contained: declarations it relied on from the stream header (or the parseElement
   * context) are copied onto it, and it is detached from the header.
   */
  private completeUnit(el: Element): void {
    const attrs = el.attrs as Record<string, string>;
    if (this.borrowedPrefixes !== null) {
      for (const [prefix, uri] of this.borrowedPrefixes) attrs[`xmlns:${prefix}`] = uri;
      this.borrowedPrefixes = null;
    }
    if (this.borrowedDefault !== null) {
      attrs.xmlns = this.borrowedDefault;
      this.borrowedDefault = null;
    }
    el.parent = null;
    this.events.element(el);
  }
}
