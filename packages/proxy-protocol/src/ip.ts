// Textual IP addresses <-> bytes, strict enough for the PROXY protocol v1 line (§2.1: IPv4 as
// four decimal numbers without heading zeroes, IPv6 as colon-separated hex groups with at most
// one "::") and canonical on output (RFC 5952, IPv4-mapped addresses in dotted form as Node
// prints them). Zone identifiers ("fe80::1%eth0") are refused: they never name a remote peer.

/** Parses a dotted-quad IPv4 address into `out[offset..offset+4]`; false when not one. */
export function parseIPv4Into(text: string, out: Uint8Array, offset: number): boolean {
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0x2e; // a virtual '.' closes the last part
    if (c >= 0x30 && c <= 0x39) {
      if (digits > 0 && value === 0) return false; // heading zero (§2.1: octal confusion)
      value = value * 10 + (c - 0x30);
      if (++digits > 3 || value > 255) return false;
    } else if (c === 0x2e) {
      if (digits === 0 || part > 3) return false;
      out[offset + part++] = value;
      value = 0;
      digits = 0;
    } else {
      return false;
    }
  }
  return part === 4;
}

export function parseIPv4(text: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  return parseIPv4Into(text, out, 0) ? out : undefined;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return -1;
}

/** Parses colon-separated 16-bit groups (no "::") into words; a dotted IPv4 may end the list. */
function parseGroups(text: string, words: number[], allowIPv4Tail: boolean): boolean {
  if (text === '') return true;
  const groups = text.split(':');
  for (let g = 0; g < groups.length; g++) {
    const group = groups[g]!;
    if (allowIPv4Tail && g === groups.length - 1 && group.includes('.')) {
      const v4 = parseIPv4(group);
      if (v4 === undefined) return false;
      words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      continue;
    }
    if (group.length === 0 || group.length > 4) return false;
    let word = 0;
    for (let i = 0; i < group.length; i++) {
      const h = hexValue(group.charCodeAt(i));
      if (h < 0) return false;
      word = (word << 4) | h;
    }
    words.push(word);
  }
  return true;
}

/** Parses an IPv6 address (RFC 4291 §2.2 text forms, no zone) into 16 bytes; undefined when not one. */
export function parseIPv6(text: string): Uint8Array | undefined {
  if (text.length < 2 || text.length > 45) return undefined;
  const gap = text.indexOf('::');
  const head: number[] = [];
  const tail: number[] = [];
  if (gap === -1) {
    if (!parseGroups(text, head, true) || head.length !== 8) return undefined;
  } else {
    if (text.indexOf('::', gap + 1) !== -1) return undefined;
    const after = text.slice(gap + 2);
    if (!parseGroups(text.slice(0, gap), head, false) || !parseGroups(after, tail, true)) return undefined;
    if (head.length + tail.length > 7) return undefined;
  }
  const out = new Uint8Array(16);
  head.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  const tailStart = 8 - tail.length;
  tail.forEach((w, i) => {
    out[(tailStart + i) * 2] = w >> 8;
    out[(tailStart + i) * 2 + 1] = w & 0xff;
  });
  return out;
}

export function formatIPv4(bytes: Uint8Array, offset = 0): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

/** True when the 16 bytes at `offset` are an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2). */
export function isIPv4Mapped(bytes: Uint8Array, offset = 0): boolean {
  for (let i = 0; i < 10; i++) if (bytes[offset + i] !== 0) return false;
  return bytes[offset + 10] === 0xff && bytes[offset + 11] === 0xff;
}

/** RFC 5952 §4: lower case, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  if (isIPv4Mapped(bytes, offset)) return `::ffff:${formatIPv4(bytes, offset + 12)}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((bytes[offset + i * 2]! << 8) | bytes[offset + i * 2 + 1]!);
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += i === 0 ? '::' : ':';
      i += bestLength - 1;
      continue;
    }
    text += words[i]!.toString(16);
    if (i < 7) text += ':';
  }
  return text;
}
