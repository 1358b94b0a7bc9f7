// The shared vocabulary of the SASL package: conditions, steps, identities, credentials
// and the per-exchange context the caller (the stream layer) supplies.

/** RFC 6120 §6.5: the defined SASL failure conditions. */
export const SASL_CONDITIONS = [
  'aborted',
  'account-disabled',
  'credentials-expired',
  'encryption-required',
  'incorrect-encoding',
  'invalid-authzid',
  'invalid-mechanism',
  'malformed-request',
  'mechanism-too-weak',
  'not-authorized',
  'temporary-auth-failure',
] as const;
export type SaslCondition = (typeof SASL_CONDITIONS)[number];

export const SCRAM_HASHES = ['SHA-1', 'SHA-256', 'SHA-512'] as const;
export type ScramHash = (typeof SCRAM_HASHES)[number];

export const SCRAM_MECHANISMS = [
  'SCRAM-SHA-1',
  'SCRAM-SHA-256',
  'SCRAM-SHA-512',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-512-PLUS',
] as const;
export type ScramMechanismName = (typeof SCRAM_MECHANISMS)[number];

export const SASL_MECHANISMS = [...SCRAM_MECHANISMS, 'PLAIN', 'EXTERNAL', 'ANONYMOUS'] as const;
export type SaslMechanismName = (typeof SASL_MECHANISMS)[number];

/** Channel-binding types this package implements (RFC 9266, RFC 5929 §4). */
export const CHANNEL_BINDING_TYPES = ['tls-exporter', 'tls-server-end-point'] as const;
export type ChannelBindingType = (typeof CHANNEL_BINDING_TYPES)[number];
export type ChannelBindings = Partial<Record<ChannelBindingType, Buffer>>;

/**
 * Credential record: the contract shared with the registry (packages/registry defines a
 * structurally identical type; this package must not import it). Never holds the password.
 */
export interface ScramCredential {
  /** base64 */
  salt: string;
  iterations: number;
  /** base64 of H(HMAC(SaltedPassword, "Client Key")), RFC 5802 §3 */
  storedKey: string;
  /** base64 of HMAC(SaltedPassword, "Server Key"), RFC 5802 §3 */
  serverKey: string;
}
export interface CredentialRecord {
  scram: Partial<Record<ScramHash, ScramCredential>>;
  disabled?: boolean;
  createdAt: number;
  updatedAt: number;
}

/**
 * What the injected lookup answers for a username.
 * - `found`: `username` is the canonical form the account is stored under.
 * - `unknown`: no such account; the exchange continues against a decoy (RFC 5802 §9) and fails
 *   at the proof, so the answer never reveals whether an account exists.
 * - `refused`: the caller's policy stops the attempt now (e.g. brute-force lockout:
 *   `temporary-auth-failure`). Only return this for reasons that do not depend on the account
 *   existing, or the refusal itself leaks existence.
 */
export type CredentialLookup =
  | { kind: 'found'; username: string; record: CredentialRecord }
  | { kind: 'unknown' }
  | { kind: 'refused'; condition: SaslCondition; text?: string };

export type CredentialLookupFn = (username: string) => Promise<CredentialLookup | undefined>;

/** Who authenticated. For s2s EXTERNAL `username` is the peer's domain and `kind` is `server`. */
export interface SaslIdentity {
  kind: 'user' | 'anonymous' | 'server';
  mechanism: SaslMechanismName;
  /** Canonical username (c2s), generated id (ANONYMOUS) or peer domain (s2s EXTERNAL). */
  username: string;
  /** The authorization identity the client asked for, when it sent one (RFC 6120 §6.3.8). */
  authzid?: string;
}

export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  | { kind: 'success'; data?: Buffer; identity: SaslIdentity }
  | {
      kind: 'failure';
      condition: SaslCondition;
      /** Human-readable, safe to send in <text/>: never contains secrets or account state. */
      text?: string;
      /**
       * Set when the connection used up its retries (RFC 6120 §6.4.5): the stream layer
       * SHOULD close the stream with <policy-violation/>.
       */
      retriesExhausted?: boolean;
    };

export type SaslFailureStep = Extract<SaslStep, { kind: 'failure' }>;

/** Identities a peer certificate asserts in subjectAltName (RFC 6120 §13.7.1.2, XEP-0178). */
export interface CertificateIdentities {
  /** id-on-xmppAddr (1.3.6.1.5.5.7.8.5) otherName values, UTF8String. */
  xmppAddrs: string[];
  /** dNSName entries. */
  dnsNames: string[];
  /** SRVName (1.3.6.1.5.5.7.8.7, RFC 4985) otherName values, e.g. `_xmpp-server.example.com`. */
  srvNames: string[];
}

export interface PeerCertificate {
  /** True only when the TLS layer validated the chain against the configured trust anchors. */
  authorized: boolean;
  identities: CertificateIdentities;
}

/** The outcome of the caller's final authorization check on a proven identity. */
export type AuthorizationDecision = { allowed: true } | { allowed: false; condition: SaslCondition; text?: string };

/** Everything one exchange needs from the connection. Computed by the stream layer. */
export interface SaslContext {
  /** TLS is in place on this stream. */
  secure: boolean;
  /** Channel bindings computed from the TLS connection (see channelBindingsForTls). */
  channelBindings: ChannelBindings;
  /**
   * The mechanisms the server advertised on this stream, for the gs2 downgrade rule and the
   * XEP-0474 hash (with SASL2, the SASL2 list only).
   */
  offeredMechanisms: readonly string[];
  /**
   * The channel-binding types advertised with XEP-0440, or undefined if the stream did not use
   * XEP-0440. Feeds the XEP-0474 hash.
   */
  advertisedChannelBindingTypes?: readonly string[];
  /** c2s (default): users of `domain`; s2s: a server claiming to be `peerDomain`. */
  streamKind?: 'c2s' | 's2s';
  /** The local domain this stream serves (authzid rule for c2s). */
  domain?: string;
  /** s2s: the domain the peer claims in its stream header 'from'. */
  peerDomain?: string;
  /** For EXTERNAL. */
  peerCertificate?: PeerCertificate;
  lookup: CredentialLookupFn;
  /**
   * Final say over a proven identity (account state, credentials-expired, authzid policy).
   * Called only after the credentials were proven, so its answer leaks nothing to a guesser.
   * When absent, the default authzid rule applies: an authzid must be the bare JID
   * `username@domain` (RFC 6120 §6.3.8).
   */
  authorize?: (identity: SaslIdentity) => Promise<AuthorizationDecision>;
}

/**
 * A running exchange of one mechanism, behind which every mechanism module sits. SaslServer
 * feeds it each client message in order (an absent one as an empty Buffer) and stops at the
 * first success or failure.
 */
export interface MechanismExchange {
  step(input: Buffer): Promise<SaslStep>;
}
