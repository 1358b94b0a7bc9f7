// @ambrosia/proxy-protocol: HAProxy's PROXY protocol v1 and v2 (doc/proxy-protocol.txt) as an
// incremental, bounded decoder, an encoder, the trusted-proxy matcher and a socket helper. See README.md.
export { ProxyHeaderDecoder, decodeProxyHeader, DEFAULT_MAX_V2_BYTES } from './decoder.js';
export type { DecodeStep, DecoderOptions } from './decoder.js';
export { encodeV1, encodeV2 } from './encoder.js';
export type { SslTlvInit, V2Init, V2TlvsInit } from './encoder.js';
export { ProxyErrorCode, ProxyProtocolError, isProxyProtocolError } from './errors.js';
export type { ProxyErrorCodeValue } from './errors.js';
export { TrustedProxies } from './trusted.js';
export { readProxyHeader, DEFAULT_HEADER_TIMEOUT_MS } from './read-header.js';
export type { ProxiedConnection, ReadProxyHeaderOptions } from './read-header.js';
export { crc32c } from './crc32c.js';
export { V1_MAX_LENGTH } from './v1.js';
export { V2_SIGNATURE, V2_FIXED_LENGTH, V2_MAX_POSSIBLE_LENGTH, PP2_TYPE, PP2_SUBTYPE_SSL, PP2_CLIENT, UNIQUE_ID_MAX_LENGTH } from './v2.js';
export type {
  DecodedProxyHeader,
  ProxyCommand,
  ProxyEndpoint,
  ProxyFamily,
  ProxyHeader,
  ProxySslInfo,
  ProxyTlvs,
  ProxyTransport,
  RawTlv,
} from './types.js';
