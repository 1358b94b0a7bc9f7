// SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512 and their -PLUS variants, server side
// (RFC 5802, RFC 7677), with channel binding (RFC 5056/5929/9266), the gs2 downgrade rule
// (RFC 5802 §6) and XEP-0474 downgrade protection.

import {
  constantTimeEqual,
  decodeCredential,
  digest,
  HASH_PARAMETERS,
  hmac,
  makeDecoyCredential,
  type DecodedCredential,
} from './credentials.js';
import { downgradeProtectionHash } from './downgrade.js';
import {
  decodeUtf8,
  failure,
  finalAuthorization,
  success,
  type MechanismConfig,
  type MechanismDefinition,
} from './mechanism.js';
import { decodeBase64Strict } from './payload.js';
import { parseClientFinal, parseClientFirst, type ClientFirstMessage } from './scram-messages.js';
import { isChannelBindingType, SERVER_DOES_SUPPORT_CHANNEL_BINDING, UNSUPPORTED_CHANNEL_BINDING_TYPE } from './channel-binding.js';
import type {
  MechanismExchange,
  SaslContext,
  SaslIdentity,
  SaslStep,
  ScramHash,
  ScramMechanismName,
} from './types.js';

interface PendingProof {
  hash: ScramHash;
  clientFirst: ClientFirstMessage;
  serverFirst: string;
  combinedNonce: string;
  /** gs2-header followed by the channel-binding data the client must echo in c= */
  expectedChannelBinding: Buffer;
  credential: DecodedCredential;
  /** undefined when the credential is a decoy: such an exchange can never succeed */
  account: { username: string; disabled: boolean } | undefined;
}

class ScramExchange implements MechanismExchange {
  private readonly mechanism: ScramMechanismName;
  private readonly hash: ScramHash;
  private readonly plus: boolean;
  private readonly ctx: SaslContext;
  private readonly config: MechanismConfig;
  private pending: PendingProof | undefined = undefined;
  private finished = false;

  constructor(mechanism: ScramMechanismName, hash: ScramHash, plus: boolean, ctx: SaslContext, config: MechanismConfig) {
    this.mechanism = mechanism;
    this.hash = hash;
    this.plus = plus;
    this.ctx = ctx;
    this.config = config;
  }

  async step(input: Buffer): Promise<SaslStep> {
    if (this.finished) return failure('malformed-request', 'exchange already finished');
    if (this.pending === undefined) {
      const outcome = await this.clientFirst(input);
      if (outcome.kind !== 'challenge') this.finished = true;
      return outcome;
    }
    this.finished = true;
    return this.clientFinal(input, this.pending);
  }

  private async clientFirst(input: Buffer): Promise<SaslStep> {
    const text = decodeUtf8(input);
    if (text === undefined || text.includes('\0')) return failure('malformed-request', 'invalid-encoding');
    const parsed = parseClientFirst(text);
    if (!parsed.ok) return failure('malformed-request', parsed.serverError ?? parsed.reason);
    const message = parsed.value;

    // RFC 5802 §6: the gs2-cbind-flag must agree with the mechanism and with what we offered.
    let channelBindingData: Buffer = Buffer.alloc(0);
    const flag = message.flag;
    if (this.plus) {
      if (flag.kind !== 'p') return failure('malformed-request', 'channel binding required by -PLUS');
      const data = isChannelBindingType(flag.type) ? this.ctx.channelBindings[flag.type] : undefined;
      if (data === undefined) return failure('not-authorized', UNSUPPORTED_CHANNEL_BINDING_TYPE);
      channelBindingData = data;
    } else if (flag.kind === 'p') {
      return failure('malformed-request', 'channel binding requested with a non-PLUS mechanism');
    } else if (flag.kind === 'y' && this.ctx.offeredMechanisms.some((m) => m.endsWith('-PLUS'))) {
      // The client supports channel binding and believes we do not, yet we offered -PLUS:
      // someone stripped it from the list on the way (a downgrade). RFC 5802 §6 says fail.
      return failure('not-authorized', SERVER_DOES_SUPPORT_CHANNEL_BINDING);
    }

    const username = this.config.prepareUsername(message.username);
    if (username === undefined) return failure('malformed-request', 'invalid-username-encoding');

    const found = await this.ctx.lookup(username);
    if (found?.kind === 'refused') return failure(found.condition, found.text);
    let credential: DecodedCredential | undefined;
    let account: PendingProof['account'];
    if (found?.kind === 'found') {
      // A record without this hash (or a corrupt one) proceeds like an unknown user.
      credential = decodeCredential(this.hash, found.record.scram?.[this.hash]);
      if (credential) account = { username: found.username, disabled: found.record.disabled === true };
    }
    credential ??= makeDecoyCredential(this.config.decoySecret, username, this.hash, this.config.decoyIterations);

    const combinedNonce = message.clientNonce + this.config.nonce();
    let serverFirst = `r=${combinedNonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    if (this.config.downgradeProtection) {
      const h = downgradeProtectionHash(this.hash, this.ctx.offeredMechanisms, this.ctx.advertisedChannelBindingTypes);
      serverFirst += `,h=${h}`;
    }
    this.pending = {
      hash: this.hash,
      clientFirst: message,
      serverFirst,
      combinedNonce,
      expectedChannelBinding: Buffer.concat([Buffer.from(message.gs2Header, 'utf8'), channelBindingData]),
      credential,
      account,
    };
    return { kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') };
  }

  private async clientFinal(input: Buffer, pending: PendingProof): Promise<SaslStep> {
    const text = decodeUtf8(input);
    if (text === undefined || text.includes('\0')) return failure('malformed-request', 'invalid-encoding');
    const parsed = parseClientFinal(text, decodeBase64Strict);
    if (!parsed.ok) return failure('malformed-request', parsed.serverError ?? parsed.reason);
    const message = parsed.value;
    if (message.nonce !== pending.combinedNonce) return failure('not-authorized', 'nonce mismatch');
    // c= must repeat our gs2-header and carry the binding of *this* TLS channel (RFC 5802 §6).
    if (!constantTimeEqual(message.channelBinding, pending.expectedChannelBinding)) {
      return failure('not-authorized', 'channel-bindings-dont-match');
    }
    const { hash, credential } = pending;
    if (message.proof.length !== HASH_PARAMETERS[hash].length) return failure('not-authorized', 'invalid-proof');

    // RFC 5802 §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); check H(ClientKey).
    const authMessage = `${pending.clientFirst.bare},${pending.serverFirst},${message.withoutProof}`;
    const clientSignature = hmac(hash, credential.storedKey, authMessage);
    const clientKey = Buffer.alloc(clientSignature.length);
    for (let i = 0; i < clientKey.length; i++) clientKey[i] = message.proof[i]! ^ clientSignature[i]!;
    const proofMatches = constantTimeEqual(digest(hash, clientKey), credential.storedKey);
    const serverSignature = hmac(hash, credential.serverKey, authMessage);
    if (!proofMatches || pending.account === undefined) return failure('not-authorized', 'invalid-proof');

    // Only a client that proved the password learns about the account's state.
    if (pending.account.disabled) return failure('account-disabled');
    const identity: SaslIdentity = { kind: 'user', mechanism: this.mechanism, username: pending.account.username };
    if (pending.clientFirst.authzid !== undefined) identity.authzid = pending.clientFirst.authzid;
    const denied = await finalAuthorization(identity, this.ctx, this.config);
    if (denied) return denied;
    return success(identity, Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8'));
  }
}

function scramDefinition(mechanism: ScramMechanismName, hash: ScramHash, plus: boolean): MechanismDefinition {
  return {
    name: mechanism,
    requiresTls: plus,
    channelBinding: plus,
    weakerThanChannelBinding: !plus,
    create: (ctx, config) => new ScramExchange(mechanism, hash, plus, ctx, config),
  };
}

export const SCRAM_SHA_1 = scramDefinition('SCRAM-SHA-1', 'SHA-1', false);
export const SCRAM_SHA_256 = scramDefinition('SCRAM-SHA-256', 'SHA-256', false);
export const SCRAM_SHA_512 = scramDefinition('SCRAM-SHA-512', 'SHA-512', false);
export const SCRAM_SHA_1_PLUS = scramDefinition('SCRAM-SHA-1-PLUS', 'SHA-1', true);
export const SCRAM_SHA_256_PLUS = scramDefinition('SCRAM-SHA-256-PLUS', 'SHA-256', true);
export const SCRAM_SHA_512_PLUS = scramDefinition('SCRAM-SHA-512-PLUS', 'SHA-512', true);
