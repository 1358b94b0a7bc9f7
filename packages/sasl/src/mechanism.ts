// The common interface every mechanism module implements, and helpers they share.

import type {
  MechanismExchange,
  SaslCondition,
  SaslContext,
  SaslFailureStep,
  SaslIdentity,
  SaslMechanismName,
  SaslStep,
} from './types.js';

/** Server configuration a mechanism needs, resolved once by SaslServer. */
export interface MechanismConfig {
  /** Secret for decoy credentials of unknown users (RFC 5802 §9). */
  decoySecret: Buffer;
  /** Iteration count decoys advertise: the one real credentials are made with. */
  decoyIterations: number;
  /** XEP-0474: add "h" to the SCRAM server-first-message. */
  downgradeProtection: boolean;
  /** Username preparation before lookup; undefined means "not a valid username". */
  prepareUsername: (raw: string) => string | undefined;
  /** Server nonce for SCRAM: printable ASCII without ",". */
  nonce: () => string;
  /** Generated username for ANONYMOUS. */
  anonymousId: () => string;
}

export interface MechanismDefinition {
  readonly name: SaslMechanismName;
  /** Refused with encryption-required on a stream without TLS (RFC 6120 §6.5.4). */
  readonly requiresTls: boolean;
  /** A -PLUS mechanism: needs channel bindings on the connection. */
  readonly channelBinding: boolean;
  /** Weaker than SCRAM-PLUS: refused with mechanism-too-weak when channel binding is required. */
  readonly weakerThanChannelBinding: boolean;
  create(ctx: SaslContext, config: MechanismConfig): MechanismExchange;
}

export function failure(condition: SaslCondition, text?: string): SaslFailureStep {
  return text === undefined ? { kind: 'failure', condition } : { kind: 'failure', condition, text };
}

export function success(identity: SaslIdentity, data?: Buffer): SaslStep {
  return data === undefined ? { kind: 'success', identity } : { kind: 'success', identity, data };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode UTF-8 strictly (no replacement characters); undefined if invalid. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** ASCII-only lowercase: domain comparisons must not depend on the locale. */
export function asciiLower(value: string): string {
  return value.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/**
 * RFC 6120 §6.3.8: a c2s authzid, when sent, names the bare JID the client acts as. Without a
 * proxy-authorization policy the only acceptable value is the client's own bare JID.
 */
export function authzidMatchesUser(
  authzid: string,
  username: string,
  ctx: SaslContext,
  config: MechanismConfig,
): boolean {
  if (ctx.domain === undefined) return false;
  const at = authzid.lastIndexOf('@');
  if (at <= 0 || authzid.includes('/')) return false;
  const localpart = config.prepareUsername(authzid.slice(0, at));
  return localpart === username && asciiLower(authzid.slice(at + 1)) === asciiLower(ctx.domain);
}

/**
 * What every mechanism does once credentials are proven: the authzid rule, then the caller's
 * authorize hook (account state, credentials-expired, ...).
 */
export async function finalAuthorization(
  identity: SaslIdentity,
  ctx: SaslContext,
  config: MechanismConfig,
): Promise<SaslFailureStep | undefined> {
  if (identity.authzid !== undefined && identity.kind === 'user') {
    if (!authzidMatchesUser(identity.authzid, identity.username, ctx, config)) {
      return failure('invalid-authzid');
    }
  }
  if (ctx.authorize) {
    const decision = await ctx.authorize(identity);
    if (!decision.allowed) return failure(decision.condition, decision.text);
  }
  return undefined;
}
