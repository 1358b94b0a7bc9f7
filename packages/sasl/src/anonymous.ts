// ANONYMOUS (RFC 4505), server side: off unless the server enables it. The optional trace
// information is checked for syntax and then dropped (never logged, RFC 4505 §3 lets servers
// ignore it); the session gets a fresh generated username.

import { decodeUtf8, failure, finalAuthorization, success, type MechanismDefinition } from './mechanism.js';
import type { MechanismConfig } from './mechanism.js';
import type { MechanismExchange, SaslContext, SaslIdentity, SaslStep } from './types.js';

/** RFC 4505 §2: trace = email / token, at most 255 characters. */
const MAX_TRACE_CHARACTERS = 255;

class AnonymousExchange implements MechanismExchange {
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
    const trace = decodeUtf8(input);
    if (trace === undefined || trace.includes('\0') || [...trace].length > MAX_TRACE_CHARACTERS) {
      return failure('malformed-request');
    }
    const identity: SaslIdentity = { kind: 'anonymous', mechanism: 'ANONYMOUS', username: this.config.anonymousId() };
    return (await finalAuthorization(identity, this.ctx, this.config)) ?? success(identity);
  }
}

export const ANONYMOUS: MechanismDefinition = {
  name: 'ANONYMOUS',
  requiresTls: false,
  channelBinding: false,
  weakerThanChannelBinding: false,
  create: (ctx, config) => new AnonymousExchange(ctx, config),
};
