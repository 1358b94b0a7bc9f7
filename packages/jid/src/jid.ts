// The JID value and its parsers (RFC 7622 §3.1).

import { empty, isJidError, notAString, tooLong } from './errors.js';
import { domainToAscii } from './idna.js';
import { MAX_INPUT_UNITS, prepDomainpart, prepLocalpart, prepResourcepart } from './parts.js';

/** Longest whole input worth parsing: three maximal parts and two separators (see MAX_INPUT_UNITS). */
const MAX_JID_UNITS = 3 * MAX_INPUT_UNITS + 2;

const CREATE: unique symbol = Symbol('JID.create');

/**
 * An XMPP address with every part prepared and enforced: compare with `equals` (or by
 * `toString()`), never by the text a peer sent. Immutable; make one with parseJID or jid().
 */
export class JID {
  /** Localpart after PRECIS UsernameCaseMapped, or '' when absent. */
  readonly local: string;
  /** Domainpart: lower case, U-labels, no trailing dot; IP literals as [v6] or dotted quad. */
  readonly domain: string;
  /** Resourcepart after PRECIS OpaqueString (case preserved), or '' when absent. */
  readonly resource: string;
  #string: string | undefined;
  #bare: JID | undefined;

  private constructor(local: string, domain: string, resource: string, text: string | undefined) {
    this.local = local;
    this.domain = domain;
    this.resource = resource;
    this.#string = text;
  }

  /** Builds a JID from parts that are already prepared; `text` is its string form when known. */
  static [CREATE](local: string, domain: string, resource: string, text?: string): JID {
    return new JID(local, domain, resource, text);
  }

  /** The JID without its resource (this JID itself when it has none). */
  get bare(): JID {
    if (this.resource === '') return this;
    return (this.#bare ??= new JID(this.local, this.domain, '', undefined));
  }

  /** This JID with another resource, prepared and enforced; throws JidError (also for ''; use `bare`). */
  withResource(resource: string): JID {
    return new JID(this.local, this.domain, prepResourcepart(resource), undefined);
  }

  isBare(): boolean {
    return this.resource === '';
  }

  /** local@domain/resource, with absent parts and their separators left out. */
  toString(): string {
    if (this.#string === undefined) {
      const bare = this.toBareString();
      this.#string = this.resource === '' ? bare : `${bare}/${this.resource}`;
    }
    return this.#string;
  }

  toBareString(): string {
    if (this.resource === '' && this.#string !== undefined) return this.#string;
    return this.local === '' ? this.domain : `${this.local}@${this.domain}`;
  }

  /** The domain in A-label (ASCII) form, for DNS and TLS name matching. */
  toASCIIDomain(): string {
    return domainToAscii(this.domain);
  }

  toJSON(): string {
    return this.toString();
  }

  /** Equality of the prepared forms (RFC 7622 §3: comparison happens after enforcement). */
  equals(other: JID | null | undefined): boolean {
    if (other === this) return true;
    if (other === null || other === undefined) return false;
    return this.domain === other.domain && this.local === other.local && this.resource === other.resource;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `JID<${this.toString()}>`;
  }
}

/**
 * Parses, prepares and enforces a JID (RFC 7622 §3.1): the resourcepart is everything after
 * the first "/" (it may itself hold "/" and "@"), the localpart everything before the first "@"
 * that precedes it (RFC 7622 §3.2: remove from the first "/" to the end, then from the start to
 * the first "@"). Throws JidError.
 */
export function parseJID(input: string): JID {
  if (typeof input !== 'string') throw notAString('whole');
  if (input.length === 0) throw empty('whole');
  if (input.length > MAX_JID_UNITS) throw tooLong('whole', 'too-long', 'longer than three maximal parts');
  const slash = input.indexOf('/');
  const head = slash < 0 ? input : input.slice(0, slash);
  const at = head.indexOf('@');
  let localIn = '';
  let local = '';
  if (at >= 0) {
    localIn = head.slice(0, at);
    if (localIn === '') throw empty('local');
    local = prepLocalpart(localIn);
  }
  const domainIn = at < 0 ? head : head.slice(at + 1);
  if (domainIn === '') throw empty('domain');
  const domain = prepDomainpart(domainIn);
  let resourceIn = '';
  let resource = '';
  if (slash >= 0) {
    resourceIn = input.slice(slash + 1);
    if (resourceIn === '') throw empty('resource');
    resource = prepResourcepart(resourceIn);
  }
  // Already-canonical input (the common case) is its own string form.
  const canonical = local === localIn && domain === domainIn && resource === resourceIn;
  return JID[CREATE](local, domain, resource, canonical ? input : undefined);
}

/** parseJID that returns undefined instead of throwing JidError (other errors still propagate). */
export function tryParseJID(input: string): JID | undefined {
  try {
    return parseJID(input);
  } catch (e) {
    if (isJidError(e)) return undefined;
    throw e;
  }
}

/**
 * Builds a JID from separate parts, preparing and enforcing each; an undefined or empty local
 * or resource means the part is absent. Throws JidError.
 */
export function jid(local: string | undefined, domain: string, resource?: string): JID {
  const l = local === undefined || local === null || local === '' ? '' : prepLocalpart(local);
  const d = prepDomainpart(domain);
  const r = resource === undefined || resource === null || resource === '' ? '' : prepResourcepart(resource);
  return JID[CREATE](l, d, r);
}

/** The A-label (ASCII) form of a domainpart, prepared first; throws JidError. */
export function domainpartToASCII(domain: string): string {
  return domainToAscii(prepDomainpart(domain));
}
