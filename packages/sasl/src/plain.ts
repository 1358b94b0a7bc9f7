// PLAIN (RFC 4616), server side: only over TLS, checked against the stored SCRAM record so the
// password itself is never stored (RFC 6120 §13.8.3 lets servers support it for clients that
// cannot do SCRAM).

import { makeDecoyCredential, verifyPlain } from './credentials.js';
import {
  decodeUtf8,
  failure,
  finalAuthorization,
  success,
  type MechanismConfig,
  type MechanismDefinition,
} from './mechanism.js';
import type { CredentialRecord, MechanismExchange, SaslContext, SaslIdentity, SaslStep } from './types.js';

/** message = [authzid] UTF8NUL authcid UTF8NUL passwd (RFC 4616 §2). */
function splitMessage(input: Buffer): { authzid: string; authcid: string; password: string } | undefined {
  const first = input.indexOf(0);
  if (first < 0) return undefined;
  const second = input.indexOf(0, first + 1);
  if (second < 0 || input.indexOf(0, second + 1) >= 0) return undefined;
  const authzid = decodeUtf8(input.subarray(0, first));
  const authcid = decodeUtf8(input.subarray(first + 1, second));
  const password = decodeUtf8(input.subarray(second + 1));
  if (authzid === undefined || authcid === undefined || password === undefined) return undefined;
  if (authcid.length === 0 || password.length === 0) return undefined;
  return { authzid, authcid, password };
}

class PlainExchange implements MechanismExchange {
  private readonly ctx: SaslContext;
  private readonly config: MechanismConfig;
  private done = false;

  constructor(ctx: SaslContext, config: MechanismConfig) {
    this.ctx = ctx;
    this.config = config;
  }

  async step(input: Buffer): Promise<SaslStep> {
    if (this.done) return failure('malformed-request', 'exchange already finished');
    this.done = true;
    const message = splitMessage(input);
    if (!message) return failure('malformed-request');

    // An invalid username is treated like an unknown one: same work, same answer.
    const username = this.config.prepareUsername(message.authcid);
    const found = username === undefined ? undefined : await this.ctx.lookup(username);
    if (found?.kind === 'refused') return failure(found.condition, found.text);
    const record: CredentialRecord =
      found?.kind === 'found' ? found.record : this.decoyRecord(username ?? message.authcid);
    const matches = await verifyPlain(record, message.password);
    if (!matches || found?.kind !== 'found') return failure('not-authorized');

    if (found.record.disabled === true) return failure('account-disabled');
    const identity: SaslIdentity = { kind: 'user', mechanism: 'PLAIN', username: found.username };
    if (message.authzid.length > 0) identity.authzid = message.authzid;
    const denied = await finalAuthorization(identity, this.ctx, this.config);
    if (denied) return denied;
    return success(identity);
  }

  private decoyRecord(username: string): CredentialRecord {
    const decoy = makeDecoyCredential(this.config.decoySecret, username, 'SHA-256', this.config.decoyIterations);
    // The exchange fails on `found` whatever this yields; the decoy only makes the work (one
    // PBKDF2 at the usual iteration count) identical to a real check.
    return {
      scram: {
        'SHA-256': {
          salt: decoy.salt.toString('base64'),
          iterations: decoy.iterations,
          storedKey: decoy.storedKey.toString('base64'),
          serverKey: decoy.serverKey.toString('base64'),
        },
      },
      createdAt: 0,
      updatedAt: 0,
    };
  }
}

export const PLAIN: MechanismDefinition = {
  name: 'PLAIN',
  requiresTls: true,
  channelBinding: false,
  weakerThanChannelBinding: true,
  create: (ctx, config) => new PlainExchange(ctx, config),
};
