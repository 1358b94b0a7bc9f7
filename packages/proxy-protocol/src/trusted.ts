// Which peers may send a PROXY header. proxy-protocol.txt §5: a receiver must never guess
// whether a header is present, and must accept it only from known sources — otherwise any
// client could claim any address and dodge every per-IP limit.
import { parseIPv4Into, parseIPv6 } from './ip.js';

interface Block {
  /** Network bytes in IPv6 form: IPv4 blocks live in the IPv4-mapped range ::ffff:0:0/96. */
  readonly bytes: Uint8Array;
  readonly prefix: number;
}

/**
 * Parses an address into 16 bytes, IPv4 as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2), so that
 * "192.0.2.1" and "::ffff:192.0.2.1" (how a dual-stack listener reports IPv4 peers) are one.
 * A zone ("fe80::1%eth0") names a local interface and is ignored.
 */
function addressBytes(address: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  if (parseIPv4Into(address, out, 12)) {
    out[10] = 0xff;
    out[11] = 0xff;
    return out;
  }
  const zone = address.indexOf('%');
  return parseIPv6(zone === -1 ? address : address.slice(0, zone));
}

function parseBlock(entry: string): Block {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const bytes = addressBytes(address);
  if (bytes === undefined || address.includes('%')) throw new RangeError(`trusted proxies: ${JSON.stringify(entry)} is not an IP address or CIDR block`);
  const isV4 = address.includes('.') && !address.includes(':');
  const width = isV4 ? 32 : 128;
  let prefix = width;
  if (slash !== -1) {
    const text = entry.slice(slash + 1);
    prefix = /^(0|[1-9][0-9]{0,2})$/.test(text) ? Number(text) : NaN;
    if (!(prefix <= width)) throw new RangeError(`trusted proxies: bad prefix length in ${JSON.stringify(entry)}`);
  }
  if (isV4) prefix += 96;
  // Host bits set ("10.0.0.1/8") usually mean a typo in the configuration: refuse, not guess.
  for (let bit = prefix; bit < 128; bit++) {
    if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) throw new RangeError(`trusted proxies: ${JSON.stringify(entry)} has host bits set`);
  }
  return { bytes, prefix };
}

function contains(block: Block, bytes: Uint8Array): boolean {
  const whole = block.prefix >> 3;
  for (let i = 0; i < whole; i++) if (block.bytes[i] !== bytes[i]) return false;
  const remaining = block.prefix & 7;
  if (remaining === 0) return true;
  const mask = (0xff << (8 - remaining)) & 0xff;
  return (block.bytes[whole]! & mask) === (bytes[whole]! & mask);
}

/**
 * A set of CIDR blocks ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7", "::1") matched against
 * IPv4, IPv6 and IPv4-mapped IPv6 peer addresses. Built once from configuration; invalid
 * entries throw a RangeError naming the entry.
 */
export class TrustedProxies {
  private readonly blocks: readonly Block[];
  readonly entries: readonly string[];

  constructor(entries: Iterable<string> = []) {
    this.entries = Object.freeze([...entries]);
    this.blocks = this.entries.map(parseBlock);
  }

  get size(): number {
    return this.blocks.length;
  }

  /** True when `address` (as `socket.remoteAddress` reports it) lies in a trusted block. */
  trusts(address: string | undefined): boolean {
    if (address === undefined || this.blocks.length === 0) return false;
    const bytes = addressBytes(address);
    if (bytes === undefined) return false;
    for (const block of this.blocks) if (contains(block, bytes)) return true;
    return false;
  }
}
