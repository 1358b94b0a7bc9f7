// PROXY protocol version 1: one line of US-ASCII text (proxy-protocol.txt §2.1).
//   PROXY TCP4 192.0.2.1 192.0.2.11 56324 5222\r\n
//   PROXY UNKNOWN\r\n
import { malformed, type ProxyProtocolError } from './errors.js';
import { formatIPv4, formatIPv6, parseIPv4, parseIPv6 } from './ip.js';
import { EMPTY_TLVS, type DecodedProxyHeader, type ProxyEndpoint } from './types.js';

/** §2.1: the longest line a receiver must accept, CRLF included ("PROXY UNKNOWN" + two IPv6 + ports). */
export const V1_MAX_LENGTH = 107;
export const V1_PREFIX = Buffer.from('PROXY', 'latin1');

/** §2.1: decimal 0..65535 without heading zeroes. */
function parsePort(text: string): number | undefined {
  if (text.length === 0 || text.length > 5 || (text.length > 1 && text.charCodeAt(0) === 0x30)) return undefined;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
    value = value * 10 + (c - 0x30);
  }
  return value <= 65535 ? value : undefined;
}

/**
 * Decodes a complete v1 line. `line` excludes the CRLF and holds only printable ASCII (the
 * decoder checked both); `length` is the line's length on the wire, CRLF included; `rest` the
 * bytes that followed it.
 */
export function decodeV1Line(line: string, length: number, rest: Buffer): DecodedProxyHeader | ProxyProtocolError {
  const fields = line.split(' ');
  if (fields[0] !== 'PROXY') return malformed('v1: the line must start with "PROXY "');
  const protocol = fields[1];
  // §2.1: after UNKNOWN the receiver must ignore anything before the CRLF.
  if (protocol === 'UNKNOWN') return { version: 1, command: 'proxy', family: 'unspec', transport: 'unspec', tlvs: EMPTY_TLVS, length, rest };
  if (protocol !== 'TCP4' && protocol !== 'TCP6') return malformed('v1: the protocol must be TCP4, TCP6 or UNKNOWN');
  if (fields.length !== 6) return malformed('v1: expected exactly "PROXY <proto> <src> <dst> <sport> <dport>" separated by single spaces');
  const v4 = protocol === 'TCP4';
  const endpoint = (address: string, portText: string): ProxyEndpoint | undefined => {
    const port = parsePort(portText);
    if (port === undefined) return undefined;
    const bytes = v4 ? parseIPv4(address) : parseIPv6(address);
    if (bytes === undefined) return undefined;
    return { address: v4 ? formatIPv4(bytes) : formatIPv6(bytes), port };
  };
  const source = endpoint(fields[2]!, fields[4]!);
  const destination = endpoint(fields[3]!, fields[5]!);
  if (source === undefined || destination === undefined) return malformed(`v1: invalid ${protocol} address or port`);
  return { version: 1, command: 'proxy', family: v4 ? 'ipv4' : 'ipv6', transport: 'stream', source, destination, tlvs: EMPTY_TLVS, length, rest };
}
