// PROXY protocol version 2: the binary header (proxy-protocol.txt §2.2) and its TLVs (§2.2.1-8).
import { crc32c } from './crc32c.js';
import { malformed, ProxyErrorCode, ProxyProtocolError } from './errors.js';
import { formatIPv4, formatIPv6 } from './ip.js';
import type { DecodedProxyHeader, ProxyCommand, ProxyEndpoint, ProxyFamily, ProxySslInfo, ProxyTlvs, ProxyTransport, RawTlv } from './types.js';

/** §2.2: the 12-byte signature; it contains a NUL so it is never a C string, and breaks most protocols. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
export const V2_FIXED_LENGTH = 16;
/** The largest header the 16-bit length field can describe. */
export const V2_MAX_POSSIBLE_LENGTH = V2_FIXED_LENGTH + 0xffff;

export const PP2_TYPE = {
  ALPN: 0x01,
  AUTHORITY: 0x02,
  CRC32C: 0x03,
  NOOP: 0x04,
  UNIQUE_ID: 0x05,
  SSL: 0x20,
  NETNS: 0x30,
} as const;
export const PP2_SUBTYPE_SSL = { VERSION: 0x21, CN: 0x22, CIPHER: 0x23, SIG_ALG: 0x24, KEY_ALG: 0x25 } as const;
export const PP2_CLIENT = { SSL: 0x01, CERT_CONN: 0x02, CERT_SESS: 0x04 } as const;
/** §2.2.5: "an opaque byte sequence of up to 128 bytes". */
export const UNIQUE_ID_MAX_LENGTH = 128;

const FAMILIES: readonly ProxyFamily[] = ['unspec', 'ipv4', 'ipv6', 'unix'];
const TRANSPORTS: readonly ProxyTransport[] = ['unspec', 'stream', 'dgram'];
/** Address block length per family (§2.2: 12, 36, 216 bytes). */
const ADDRESS_LENGTH = { unspec: 0, ipv4: 12, ipv6: 36, unix: 216 } as const;
const UNIX_PATH_LENGTH = 108;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Checks byte 13 (version and command) as soon as it arrives: §2.2 says drop anything else. */
export function checkVersionCommand(byte: number): ProxyProtocolError | undefined {
  if (byte >> 4 !== 2) return new ProxyProtocolError(ProxyErrorCode.UNSUPPORTED, `v2: version ${byte >> 4} (only 2 exists)`);
  if ((byte & 0x0f) > 1) return new ProxyProtocolError(ProxyErrorCode.UNSUPPORTED, `v2: unassigned command ${byte & 0x0f}`);
  return undefined;
}

/** Checks byte 14 (family and transport): unassigned values "must be rejected as invalid". */
export function checkFamilyTransport(byte: number): ProxyProtocolError | undefined {
  if (byte >> 4 >= FAMILIES.length) return new ProxyProtocolError(ProxyErrorCode.UNSUPPORTED, `v2: unassigned address family ${byte >> 4}`);
  if ((byte & 0x0f) >= TRANSPORTS.length) return new ProxyProtocolError(ProxyErrorCode.UNSUPPORTED, `v2: unassigned transport protocol ${byte & 0x0f}`);
  return undefined;
}

function decodeText(bytes: Buffer, what: string): string | ProxyProtocolError {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return malformed(`v2: ${what} is not UTF-8`);
  }
}

/** A NUL-terminated sun_path; a leading NUL is Linux's abstract namespace, shown as "@name". */
function unixPath(bytes: Buffer): string {
  const abstract = bytes[0] === 0;
  const body = abstract ? bytes.subarray(1) : bytes;
  const nul = body.indexOf(0);
  const path = (nul === -1 ? body : body.subarray(0, nul)).toString('utf8');
  return abstract ? `@${path}` : path;
}

function decodeEndpoints(header: Buffer, family: ProxyFamily): [ProxyEndpoint, ProxyEndpoint] {
  const at = V2_FIXED_LENGTH;
  switch (family) {
    case 'ipv4':
      return [
        { address: formatIPv4(header, at), port: header.readUInt16BE(at + 8) },
        { address: formatIPv4(header, at + 4), port: header.readUInt16BE(at + 10) },
      ];
    case 'ipv6':
      return [
        { address: formatIPv6(header, at), port: header.readUInt16BE(at + 32) },
        { address: formatIPv6(header, at + 16), port: header.readUInt16BE(at + 34) },
      ];
    default:
      return [
        { address: unixPath(header.subarray(at, at + UNIX_PATH_LENGTH)), port: 0 },
        { address: unixPath(header.subarray(at + UNIX_PATH_LENGTH, at + 2 * UNIX_PATH_LENGTH)), port: 0 },
      ];
  }
}

/** Walks TLVs in `[start, end)`, calling `visit` for each; every length is checked against `end`. */
function walkTlvs(
  bytes: Buffer,
  start: number,
  end: number,
  visit: (type: number, valueStart: number, value: Buffer) => ProxyProtocolError | undefined,
): ProxyProtocolError | undefined {
  let offset = start;
  while (offset < end) {
    if (end - offset < 3) return malformed('v2: truncated TLV header');
    const type = bytes[offset]!;
    const valueStart = offset + 3;
    const valueEnd = valueStart + bytes.readUInt16BE(offset + 1);
    if (valueEnd > end) return malformed(`v2: TLV 0x${type.toString(16)} overruns its container`);
    const error = visit(type, valueStart, bytes.subarray(valueStart, valueEnd));
    if (error) return error;
    offset = valueEnd;
  }
  return undefined;
}

const SSL_FIELDS = {
  [PP2_SUBTYPE_SSL.VERSION]: 'version',
  [PP2_SUBTYPE_SSL.CN]: 'commonName',
  [PP2_SUBTYPE_SSL.CIPHER]: 'cipher',
  [PP2_SUBTYPE_SSL.SIG_ALG]: 'signatureAlgorithm',
  [PP2_SUBTYPE_SSL.KEY_ALG]: 'keyAlgorithm',
} as const;

function decodeSsl(header: Buffer, valueStart: number, value: Buffer): ProxySslInfo | ProxyProtocolError {
  if (value.length < 5) return malformed('v2: PP2_TYPE_SSL shorter than its client and verify fields');
  const client = value[0]!;
  const info: { -readonly [K in keyof ProxySslInfo]: ProxySslInfo[K] } = {
    client,
    tls: (client & PP2_CLIENT.SSL) !== 0,
    certInConnection: (client & PP2_CLIENT.CERT_CONN) !== 0,
    certInSession: (client & PP2_CLIENT.CERT_SESS) !== 0,
    verify: value.readUInt32BE(1),
    other: [],
  };
  const other: RawTlv[] = [];
  const error = walkTlvs(header, valueStart + 5, valueStart + value.length, (type, _start, sub) => {
    const field = SSL_FIELDS[type as keyof typeof SSL_FIELDS];
    if (field === undefined) {
      other.push({ type, value: sub });
      return undefined;
    }
    if (info[field] !== undefined) return malformed(`v2: duplicate SSL sub-TLV 0x${type.toString(16)}`);
    const text = decodeText(sub, `SSL sub-TLV 0x${type.toString(16)}`);
    if (typeof text !== 'string') return text;
    info[field] = text;
    return undefined;
  });
  if (error) return error;
  info.other = other;
  return info;
}

function decodeTlvs(header: Buffer, start: number): ProxyTlvs | ProxyProtocolError {
  const tlvs: { -readonly [K in keyof ProxyTlvs]: ProxyTlvs[K] } = { other: [] };
  const other: RawTlv[] = [];
  let crcValueAt = -1;
  // Known TLVs may appear once: two AUTHORITY values would let the proxy and us disagree.
  let seen = 0; // bit per known type (ALPN..UNIQUE_ID are 1..5, SSL and NETNS get bits 6 and 7)
  const error = walkTlvs(header, start, header.length, (type, valueStart, value) => {
    if (type === PP2_TYPE.NOOP) return undefined; // §2.2.4: padding, ignored
    const known = type === PP2_TYPE.ALPN || type === PP2_TYPE.AUTHORITY || type === PP2_TYPE.CRC32C || type === PP2_TYPE.UNIQUE_ID || type === PP2_TYPE.SSL || type === PP2_TYPE.NETNS;
    if (!known) {
      other.push({ type, value });
      return undefined;
    }
    const bit = type === PP2_TYPE.SSL ? 1 << 6 : type === PP2_TYPE.NETNS ? 1 << 7 : 1 << type;
    if (seen & bit) return malformed(`v2: duplicate TLV 0x${type.toString(16)}`);
    seen |= bit;
    switch (type) {
      case PP2_TYPE.ALPN:
        tlvs.alpn = value;
        return undefined;
      case PP2_TYPE.AUTHORITY: {
        const text = decodeText(value, 'PP2_TYPE_AUTHORITY');
        if (typeof text !== 'string') return text;
        tlvs.authority = text;
        return undefined;
      }
      case PP2_TYPE.CRC32C:
        if (value.length !== 4) return malformed('v2: PP2_TYPE_CRC32C must hold 4 bytes');
        crcValueAt = valueStart;
        tlvs.crc32c = value.readUInt32BE(0);
        return undefined;
      case PP2_TYPE.UNIQUE_ID:
        if (value.length > UNIQUE_ID_MAX_LENGTH) return malformed(`v2: PP2_TYPE_UNIQUE_ID longer than ${UNIQUE_ID_MAX_LENGTH} bytes`);
        tlvs.uniqueId = value;
        return undefined;
      case PP2_TYPE.SSL: {
        const ssl = decodeSsl(header, valueStart, value);
        if (ssl instanceof ProxyProtocolError) return ssl;
        tlvs.ssl = ssl;
        return undefined;
      }
      default: {
        const text = decodeText(value, 'PP2_TYPE_NETNS');
        if (typeof text !== 'string') return text;
        tlvs.netns = text;
        return undefined;
      }
    }
  });
  if (error) return error;
  tlvs.other = other;
  if (crcValueAt >= 0) {
    // §2.2.3: the checksum covers the whole header with its own 32 bits zeroed.
    const copy = Buffer.from(header);
    copy.fill(0, crcValueAt, crcValueAt + 4);
    if (crc32c(copy) !== tlvs.crc32c) return new ProxyProtocolError(ProxyErrorCode.CHECKSUM, 'v2: PP2_TYPE_CRC32C does not match the header');
  }
  return tlvs;
}

/**
 * Decodes a complete v2 header (`header.length === 16 + len`, bytes 13-14 already checked);
 * `rest` is what followed it.
 * - LOCAL (§2.2): the receiver uses the real endpoints, so `source`/`destination` are omitted.
 * - AF_UNSPEC: the address block has no known layout; like HAProxy we skip it with its TLVs.
 * - a known family with the UNSPEC transport: addresses are skipped ("should ignore address
 *   information") but TLVs after them are decoded.
 */
export function decodeV2(header: Buffer, rest: Buffer): DecodedProxyHeader | ProxyProtocolError {
  const command: ProxyCommand = (header[12]! & 0x0f) === 1 ? 'proxy' : 'local';
  const family = FAMILIES[header[13]! >> 4]!;
  const transport = TRANSPORTS[header[13]! & 0x0f]!;
  const base = { version: 2 as const, command, family, transport, length: header.length, rest };
  if (family === 'unspec') return { ...base, tlvs: { other: [] } };
  const addressEnd = V2_FIXED_LENGTH + ADDRESS_LENGTH[family];
  if (addressEnd > header.length) return malformed(`v2: ${header.length - V2_FIXED_LENGTH} bytes cannot hold an ${family} address block (${ADDRESS_LENGTH[family]})`);
  const tlvs = decodeTlvs(header, addressEnd);
  if (tlvs instanceof ProxyProtocolError) return tlvs;
  if (command === 'local' || transport === 'unspec') return { ...base, tlvs };
  const [source, destination] = decodeEndpoints(header, family);
  return { version: 2, command, family, transport, source, destination, tlvs, length: header.length, rest };
}
