// Encoders for both versions: for tests, and for deployments where Ambrosia itself sits behind
// (or in front of) something that expects the header. Inputs come from our own code, so invalid
// ones throw (TypeError/RangeError) rather than returning errors.
import { crc32c } from './crc32c.js';
import { parseIPv4, parseIPv6 } from './ip.js';
import type { ProxyCommand, ProxyEndpoint, ProxyFamily, ProxyTransport, RawTlv } from './types.js';
import { PP2_CLIENT, PP2_SUBTYPE_SSL, PP2_TYPE, UNIQUE_ID_MAX_LENGTH, V2_FIXED_LENGTH, V2_SIGNATURE } from './v2.js';

function assertPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`invalid port ${port}`);
}

/** IPv4 text → 'ipv4', IPv6 text → 'ipv6'; anything else throws. */
function familyOf(address: string): 'ipv4' | 'ipv6' {
  if (parseIPv4(address)) return 'ipv4';
  if (parseIPv6(address)) return 'ipv6';
  throw new TypeError(`not an IP address: ${JSON.stringify(address)}`);
}

/**
 * `PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n`, or `PROXY UNKNOWN\r\n` without endpoints.
 * Both endpoints must be of one family (§2.1).
 */
export function encodeV1(endpoints?: { source: ProxyEndpoint; destination: ProxyEndpoint }): Buffer {
  if (endpoints === undefined) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  const { source, destination } = endpoints;
  const family = familyOf(source.address);
  if (familyOf(destination.address) !== family) throw new TypeError('v1: source and destination must be of one address family');
  assertPort(source.port);
  assertPort(destination.port);
  const protocol = family === 'ipv4' ? 'TCP4' : 'TCP6';
  return Buffer.from(`PROXY ${protocol} ${source.address} ${destination.address} ${source.port} ${destination.port}\r\n`, 'latin1');
}

export interface SslTlvInit {
  readonly tls?: boolean;
  readonly certInConnection?: boolean;
  readonly certInSession?: boolean;
  /** Default 0 (verified). */
  readonly verify?: number;
  readonly version?: string;
  readonly commonName?: string;
  readonly cipher?: string;
  readonly signatureAlgorithm?: string;
  readonly keyAlgorithm?: string;
}

export interface V2TlvsInit {
  readonly alpn?: Uint8Array | string;
  readonly authority?: string;
  readonly uniqueId?: Uint8Array;
  readonly ssl?: SslTlvInit;
  readonly netns?: string;
  /** Appended as given (custom 0xE0-0xEF and the like). */
  readonly other?: readonly RawTlv[];
  /** A PP2_TYPE_NOOP TLV with this many value bytes (padding, §2.2.4). */
  readonly noop?: number;
  /** Append PP2_TYPE_CRC32C and fill it (§2.2.3). */
  readonly crc32c?: boolean;
}

export interface V2Init {
  /** Default 'proxy'. A 'local' header carries no addresses (§2.2: family AF_UNSPEC, length 0 before TLVs). */
  readonly command?: ProxyCommand;
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  /** Inferred from the addresses; give 'unix' for paths. */
  readonly family?: ProxyFamily;
  /** Default 'stream'. */
  readonly transport?: ProxyTransport;
  readonly tlvs?: V2TlvsInit;
}

function tlv(type: number, value: Uint8Array): Buffer {
  if (value.length > 0xffff) throw new RangeError(`TLV 0x${type.toString(16)} longer than 65535 bytes`);
  const out = Buffer.allocUnsafe(3 + value.length);
  out[0] = type;
  out.writeUInt16BE(value.length, 1);
  out.set(value, 3);
  return out;
}

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

function sslTlv(ssl: SslTlvInit): Buffer {
  const head = Buffer.alloc(5);
  head[0] = (ssl.tls ? PP2_CLIENT.SSL : 0) | (ssl.certInConnection ? PP2_CLIENT.CERT_CONN : 0) | (ssl.certInSession ? PP2_CLIENT.CERT_SESS : 0);
  head.writeUInt32BE(ssl.verify ?? 0, 1);
  const subs: Buffer[] = [head];
  if (ssl.version !== undefined) subs.push(tlv(PP2_SUBTYPE_SSL.VERSION, text(ssl.version)));
  if (ssl.commonName !== undefined) subs.push(tlv(PP2_SUBTYPE_SSL.CN, text(ssl.commonName)));
  if (ssl.cipher !== undefined) subs.push(tlv(PP2_SUBTYPE_SSL.CIPHER, text(ssl.cipher)));
  if (ssl.signatureAlgorithm !== undefined) subs.push(tlv(PP2_SUBTYPE_SSL.SIG_ALG, text(ssl.signatureAlgorithm)));
  if (ssl.keyAlgorithm !== undefined) subs.push(tlv(PP2_SUBTYPE_SSL.KEY_ALG, text(ssl.keyAlgorithm)));
  return tlv(PP2_TYPE.SSL, Buffer.concat(subs));
}

function addressBlock(init: V2Init, family: ProxyFamily): Buffer {
  const { source, destination } = init;
  if (source === undefined || destination === undefined) throw new TypeError(`v2: ${family} needs a source and a destination`);
  if (family === 'unix') {
    const block = Buffer.alloc(216);
    for (const [i, endpoint] of [source, destination].entries()) {
      const path = Buffer.from(endpoint.address, 'utf8');
      if (path.length > 107) throw new RangeError('v2: a UNIX path has at most 107 bytes (108 with its NUL)');
      path.copy(block, i * 108);
    }
    return block;
  }
  assertPort(source.port);
  assertPort(destination.port);
  const parse = family === 'ipv4' ? parseIPv4 : parseIPv6;
  const src = parse(source.address);
  const dst = parse(destination.address);
  if (!src || !dst) throw new TypeError(`v2: source and destination must both be ${family} addresses`);
  const size = src.length;
  const block = Buffer.alloc(2 * size + 4);
  block.set(src, 0);
  block.set(dst, size);
  block.writeUInt16BE(source.port, 2 * size);
  block.writeUInt16BE(destination.port, 2 * size + 2);
  return block;
}

const FAMILY_NIBBLE = { unspec: 0, ipv4: 1, ipv6: 2, unix: 3 } as const;
const TRANSPORT_NIBBLE = { unspec: 0, stream: 1, dgram: 2 } as const;

export function encodeV2(init: V2Init = {}): Buffer {
  const command = init.command ?? 'proxy';
  let family: ProxyFamily = init.family ?? (init.source ? familyOf(init.source.address) : 'unspec');
  if (command === 'local' && init.family === undefined) family = 'unspec';
  const transport = family === 'unspec' && init.transport === undefined ? 'unspec' : (init.transport ?? 'stream');
  const parts: Buffer[] = [];
  if (family !== 'unspec') parts.push(addressBlock(init, family));
  const t = init.tlvs ?? {};
  if (t.alpn !== undefined) parts.push(tlv(PP2_TYPE.ALPN, typeof t.alpn === 'string' ? text(t.alpn) : t.alpn));
  if (t.authority !== undefined) parts.push(tlv(PP2_TYPE.AUTHORITY, text(t.authority)));
  if (t.uniqueId !== undefined) {
    if (t.uniqueId.length > UNIQUE_ID_MAX_LENGTH) throw new RangeError(`unique id longer than ${UNIQUE_ID_MAX_LENGTH} bytes`);
    parts.push(tlv(PP2_TYPE.UNIQUE_ID, t.uniqueId));
  }
  if (t.ssl !== undefined) parts.push(sslTlv(t.ssl));
  if (t.netns !== undefined) parts.push(tlv(PP2_TYPE.NETNS, text(t.netns)));
  for (const raw of t.other ?? []) parts.push(tlv(raw.type, raw.value));
  if (t.noop !== undefined) parts.push(tlv(PP2_TYPE.NOOP, Buffer.alloc(t.noop)));
  const crcAt = t.crc32c ? parts.reduce((n, p) => n + p.length, V2_FIXED_LENGTH) + 3 : -1;
  if (t.crc32c) parts.push(tlv(PP2_TYPE.CRC32C, Buffer.alloc(4)));
  const body = Buffer.concat(parts);
  if (body.length > 0xffff) throw new RangeError('v2: header longer than 65551 bytes');
  const fixed = Buffer.allocUnsafe(V2_FIXED_LENGTH);
  V2_SIGNATURE.copy(fixed, 0);
  fixed[12] = 0x20 | (command === 'proxy' ? 1 : 0);
  fixed[13] = (FAMILY_NIBBLE[family] << 4) | TRANSPORT_NIBBLE[transport];
  fixed.writeUInt16BE(body.length, 14);
  const header = Buffer.concat([fixed, body]);
  if (crcAt >= 0) header.writeUInt32BE(crc32c(header), crcAt);
  return header;
}
