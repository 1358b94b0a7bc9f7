/**
 * Resource limits, all enforced while bytes arrive (never after buffering a whole stanza).
 * Every limit is in bytes of the UTF-8 input unless stated otherwise.
 */
export interface XmlLimits {
  /**
   * Bytes of one top-level stanza, counted from its '<' to its final '>' (also bounds the
   * closing `</stream:stream>`). Exceeded → policy-violation, as soon as the byte after the
   * budget arrives.
   */
  maxStanzaBytes: number;
  /** Element nesting depth inside a stanza: the stanza itself is depth 1 (the stream root is not counted). */
  maxDepth: number;
  /** Attributes per element, namespace declarations included. */
  maxAttributes: number;
  /** Bytes of one element or attribute name (prefix included). */
  maxNameLength: number;
  /** Raw bytes of one text node (a run of character data, references and CDATA between two tags). */
  maxTextLength: number;
  /** Bytes of the stream header start tag, and separately of the XML declaration before it. */
  maxStreamHeaderBytes: number;
}

/**
 * Post-authentication defaults. 256 KiB stanzas leave room for avatars and large rosters
 * (Prosody and ejabberd use similar figures). Depth 32 covers forwarded-in-carbons-in-MAM
 * messages carrying XHTML-IM with room to spare; the parser is iterative, so depth is a
 * memory/CPU budget, not a stack-safety measure.
 */
export const DEFAULT_LIMITS: XmlLimits = Object.freeze({
  maxStanzaBytes: 262_144,
  maxDepth: 32,
  maxAttributes: 64,
  maxNameLength: 256,
  maxTextLength: 262_144,
  maxStreamHeaderBytes: 4096,
});

/**
 * Pre-authentication budget: before SASL success a peer may only negotiate (STARTTLS, SASL,
 * in-band registration), so an unauthenticated peer can make the server hold at most 8 KiB.
 */
export const PREAUTH_LIMITS: XmlLimits = Object.freeze({
  maxStanzaBytes: 8192,
  maxDepth: 16,
  maxAttributes: 32,
  maxNameLength: 256,
  maxTextLength: 8192,
  maxStreamHeaderBytes: 4096,
});

/** Upper bound for any configured limit: keeps decoded strings far below V8's maximum string length. */
export const MAX_LIMIT_VALUE = 256 * 1024 * 1024;

const LIMIT_KEYS: ReadonlyArray<keyof XmlLimits> = [
  'maxStanzaBytes',
  'maxDepth',
  'maxAttributes',
  'maxNameLength',
  'maxTextLength',
  'maxStreamHeaderBytes',
];

/**
 * Merges `overrides` onto `base`, validating each value (a positive integer ≤ {@link MAX_LIMIT_VALUE}).
 * Throws RangeError on a bad value: a misconfiguration is a programming error, not peer input.
 */
export function resolveLimits(base: XmlLimits, overrides?: Partial<XmlLimits>): XmlLimits {
  // A frozen, complete set (a shared configuration) is used as it is once checked: one parser
  // per connection should not each keep a copy of it.
  if (overrides !== undefined && Object.isFrozen(overrides) && LIMIT_KEYS.every((key) => overrides[key] !== undefined)) {
    for (const key of LIMIT_KEYS) checkLimit(key, overrides[key]!);
    return overrides as XmlLimits;
  }
  const merged: XmlLimits = { ...base };
  if (overrides) {
    for (const key of LIMIT_KEYS) {
      const value = overrides[key];
      if (value === undefined) continue;
      merged[key] = checkLimit(key, value);
    }
  }
  return merged;
}

function checkLimit(key: keyof XmlLimits, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIMIT_VALUE) {
    throw new RangeError(`XML limit ${key} must be an integer in [1, ${MAX_LIMIT_VALUE}], got ${String(value)}`);
  }
  return value;
}
