// Punycode (RFC 3492) for single labels, written from the RFC's pseudocode (§6) with its
// parameter values (§5). Node's built-in `punycode` module is deprecated, and url.domainToASCII
// applies UTS-46 processing we do not want (see README.md), so the codec lives here.

const BASE = 36;
const TMIN = 1;
const TMAX = 26;
const SKEW = 38;
const DAMP = 700;
const INITIAL_BIAS = 72;
const INITIAL_N = 0x80;
const DELIMITER = 0x2d; // '-'
// RFC 3492 §6.4: implementations detect overflow against their integer range; 32-bit signed here,
// far above anything a 63-octet label can legitimately encode.
const MAXINT = 0x7fffffff;

// §6.1 bias adaptation.
function adapt(delta: number, numPoints: number, firstTime: boolean): number {
  delta = firstTime ? Math.floor(delta / DAMP) : delta >>> 1;
  delta += Math.floor(delta / numPoints);
  let k = 0;
  while (delta > ((BASE - TMIN) * TMAX) >> 1) {
    delta = Math.floor(delta / (BASE - TMIN));
    k += BASE;
  }
  return k + Math.floor(((BASE - TMIN + 1) * delta) / (delta + SKEW));
}

// §5: digit values 0-25 are a-z (or A-Z), 26-35 are 0-9.
function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 26;
  if (c >= 0x41 && c <= 0x5a) return c - 0x41;
  if (c >= 0x61 && c <= 0x7a) return c - 0x61;
  return BASE;
}

function digitChar(d: number): number {
  return d < 26 ? d + 0x61 : d - 26 + 0x30; // lower case, as A-labels are compared (RFC 5891 §5.3)
}

function threshold(k: number, bias: number): number {
  return k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias;
}

/** Decodes the part of an A-label after "xn--"; undefined when the input is not valid Punycode. */
export function punycodeDecode(input: string): number[] | undefined {
  const output: number[] = [];
  let n = INITIAL_N;
  let i = 0;
  let bias = INITIAL_BIAS;
  // Basic code points are everything before the last delimiter, if there is one with
  // something before it (§6.2).
  const b = input.lastIndexOf('-');
  for (let j = 0; j < b; j++) {
    const c = input.charCodeAt(j);
    if (c >= 0x80) return undefined;
    output.push(c);
  }
  let pos = b > 0 ? b + 1 : 0;
  while (pos < input.length) {
    const oldi = i;
    let w = 1;
    for (let k = BASE; ; k += BASE) {
      if (pos >= input.length) return undefined;
      const digit = digitValue(input.charCodeAt(pos++));
      if (digit >= BASE) return undefined;
      if (digit > Math.floor((MAXINT - i) / w)) return undefined;
      i += digit * w;
      const t = threshold(k, bias);
      if (digit < t) break;
      if (w > Math.floor(MAXINT / (BASE - t))) return undefined;
      w *= BASE - t;
    }
    const length = output.length + 1;
    bias = adapt(i - oldi, length, oldi === 0);
    if (Math.floor(i / length) > MAXINT - n) return undefined;
    n += Math.floor(i / length);
    i %= length;
    // A decoded basic code point, surrogate or value beyond Unicode cannot be part of a U-label.
    if (n < INITIAL_N || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff)) return undefined;
    output.splice(i, 0, n);
    i++;
  }
  return output;
}

/** Encodes code points as Punycode (without the "xn--" prefix); undefined on overflow. */
export function punycodeEncode(input: readonly number[]): string | undefined {
  const out: number[] = [];
  for (const c of input) if (c < INITIAL_N) out.push(c);
  const basicCount = out.length;
  let handled = basicCount;
  if (basicCount > 0) out.push(DELIMITER);
  let n = INITIAL_N;
  let delta = 0;
  let bias = INITIAL_BIAS;
  while (handled < input.length) {
    let m = MAXINT;
    for (const c of input) if (c >= n && c < m) m = c;
    if (m - n > Math.floor((MAXINT - delta) / (handled + 1))) return undefined;
    delta += (m - n) * (handled + 1);
    n = m;
    for (const c of input) {
      if (c < n && ++delta > MAXINT) return undefined;
      if (c === n) {
        let q = delta;
        for (let k = BASE; ; k += BASE) {
          const t = threshold(k, bias);
          if (q < t) break;
          out.push(digitChar(t + ((q - t) % (BASE - t))));
          q = Math.floor((q - t) / (BASE - t));
        }
        out.push(digitChar(q));
        bias = adapt(delta, handled + 1, handled === basicCount);
        delta = 0;
        handled++;
      }
    }
    delta++;
    n++;
  }
  return String.fromCharCode(...out);
}
