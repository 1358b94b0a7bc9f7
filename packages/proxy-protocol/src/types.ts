// The decoded shape of a PROXY protocol header, the same for v1 and v2.

/** `proxy`: relayed on behalf of `source`; `local`: the proxy's own connection (health check, §2.2). */
export type ProxyCommand = 'proxy' | 'local';
/** Address family: v1 TCP4/TCP6/UNKNOWN map to ipv4/ipv6/unspec. */
export type ProxyFamily = 'ipv4' | 'ipv6' | 'unix' | 'unspec';
export type ProxyTransport = 'stream' | 'dgram' | 'unspec';

/** An endpoint as the proxy saw it. `address` is canonical text (RFC 5952 for IPv6); for AF_UNIX it is the path and `port` is 0. */
export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

/** A TLV this package does not interpret (custom 0xE0-0xEF, experimental, future, unregistered). */
export interface RawTlv {
  readonly type: number;
  readonly value: Buffer;
}

/** PP2_TYPE_SSL (§2.2.6). */
export interface ProxySslInfo {
  /** The raw `client` bit field. */
  readonly client: number;
  /** PP2_CLIENT_SSL: the client connected over TLS. */
  readonly tls: boolean;
  /** PP2_CLIENT_CERT_CONN: a client certificate was presented on this connection. */
  readonly certInConnection: boolean;
  /** PP2_CLIENT_CERT_SESS: a client certificate was presented once on this TLS session. */
  readonly certInSession: boolean;
  /** The raw `verify` field: 0 when a certificate was presented and verified. */
  readonly verify: number;
  readonly version?: string;
  readonly commonName?: string;
  readonly cipher?: string;
  readonly signatureAlgorithm?: string;
  readonly keyAlgorithm?: string;
  /** Sub-TLVs not listed above. */
  readonly other: readonly RawTlv[];
}

/** The TLVs of a v2 header (§2.2.1-2.2.8). NOOP TLVs are dropped; v1 headers have none. */
export interface ProxyTlvs {
  /** PP2_TYPE_ALPN: bytes of the negotiated protocol, e.g. `xmpp-client`. */
  readonly alpn?: Buffer;
  /** PP2_TYPE_AUTHORITY: the host name the client asked for (the TLS SNI), UTF-8. */
  readonly authority?: string;
  /** PP2_TYPE_CRC32C: present only if it was sent, and then verified. */
  readonly crc32c?: number;
  /** PP2_TYPE_UNIQUE_ID: up to 128 opaque bytes. */
  readonly uniqueId?: Buffer;
  readonly ssl?: ProxySslInfo;
  /** PP2_TYPE_NETNS: the network namespace name. */
  readonly netns?: string;
  readonly other: readonly RawTlv[];
}

export interface ProxyHeader {
  readonly version: 1 | 2;
  readonly command: ProxyCommand;
  readonly family: ProxyFamily;
  readonly transport: ProxyTransport;
  /**
   * The original client. Present only for `proxy` with an IPv4, IPv6 or UNIX family; absent
   * for `local` and `unspec`/`UNKNOWN`, where the spec says to use the real connection's endpoints.
   */
  readonly source?: ProxyEndpoint;
  readonly destination?: ProxyEndpoint;
  readonly tlvs: ProxyTlvs;
  /** Bytes the header occupied on the wire. */
  readonly length: number;
}

/** A decoded header and the bytes after it, which belong to the application protocol. */
export interface DecodedProxyHeader extends ProxyHeader {
  readonly rest: Buffer;
}

export const EMPTY_TLVS: ProxyTlvs = Object.freeze({ other: Object.freeze([]) as readonly RawTlv[] });
