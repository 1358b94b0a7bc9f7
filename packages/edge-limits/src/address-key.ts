// The key per-IP limits count under. An IPv6 end site gets a /64 at least (RFC 6177), so a
// single client can rotate through 2^64 addresses: counting per address would count nothing.
// IPv4-mapped IPv6 (how a dual-stack socket reports IPv4 peers) folds into plain IPv4 so that
// one client is one key whichever listener it reached.

export interface AddressKeyOptions {
  /** IPv6 prefix length that makes one key (default 64). */
  readonly ipv6PrefixLength?: number;
}

function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const bytes = parts.map((p) => (/^\d{1,3}$/.test(p) ? Number(p) : NaN));
  return bytes.every((b) => b <= 255) ? bytes : undefined;
}

/** IPv6 text → 8 16-bit words, or undefined. */
function parseIPv6Words(text: string): number[] | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const words = (part: string, last: boolean): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (last && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) {
        out.push(parseInt(g, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = words(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? words(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  if (head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * `203.0.113.7` → `203.0.113.7`; `::ffff:203.0.113.7` → `203.0.113.7`;
 * `2001:db8:1:2:aaaa::1` → `2001:db8:1:2::/64`. A zone (`%eth0`) is dropped. Anything that is
 * not an IP address (a UNIX socket path) is returned unchanged: it is its own key.
 */
export function addressKey(address: string, options: AddressKeyOptions = {}): string {
  const prefix = options.ipv6PrefixLength ?? 64;
  if (!Number.isInteger(prefix) || prefix < 1 || prefix > 128) throw new RangeError(`ipv6PrefixLength must be 1..128, got ${prefix}`);
  if (!address.includes(':')) return address;
  const zone = address.indexOf('%');
  const words = parseIPv6Words(zone === -1 ? address : address.slice(0, zone));
  if (words === undefined) return address;
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`;
  }
  const masked = words.map((w, i) => {
    const bits = Math.min(16, Math.max(0, prefix - i * 16));
    return bits === 0 ? 0 : w & ((0xffff << (16 - bits)) & 0xffff);
  });
  const kept = Math.ceil(prefix / 16);
  const text = masked.slice(0, kept).map((w) => w.toString(16)).join(':');
  return kept === 8 ? `${text}/${prefix}` : `${text}::/${prefix}`;
}
