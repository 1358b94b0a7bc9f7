// SaslServer: one per stream. It picks the mechanism, enforces the RFC 6120 §6.4 state rules
// (one exchange at a time, <abort/>, bounded retries, nothing after success), bounds payload
// sizes, and turns every unexpected error into a failure step: it never throws at a peer.

import { randomBytes } from 'node:crypto';
import { ANONYMOUS } from './anonymous.js';
import { DEFAULT_ITERATIONS, MAX_ITERATIONS, MIN_ITERATIONS } from './credentials.js';
import { SaslError } from './errors.js';
import { EXTERNAL } from './external.js';
import { failure, type MechanismConfig, type MechanismDefinition } from './mechanism.js';
import { DEFAULT_MAX_PAYLOAD_BYTES } from './payload.js';
import { PLAIN } from './plain.js';
import { saslprepQuery } from './saslprep.js';
import {
  SCRAM_SHA_1,
  SCRAM_SHA_1_PLUS,
  SCRAM_SHA_256,
  SCRAM_SHA_256_PLUS,
  SCRAM_SHA_512,
  SCRAM_SHA_512_PLUS,
} from './scram.js';
import type { MechanismExchange, SaslContext, SaslIdentity, SaslMechanismName, SaslStep } from './types.js';

/** Every mechanism module, in the order they are offered (strongest first). */
const DEFINITIONS: readonly MechanismDefinition[] = [
  EXTERNAL,
  SCRAM_SHA_512_PLUS,
  SCRAM_SHA_256_PLUS,
  SCRAM_SHA_1_PLUS,
  SCRAM_SHA_512,
  SCRAM_SHA_256,
  SCRAM_SHA_1,
  PLAIN,
  ANONYMOUS,
];

/** Enabled unless configured otherwise. EXTERNAL and ANONYMOUS need explicit configuration. */
export const DEFAULT_MECHANISMS: readonly SaslMechanismName[] = [
  'SCRAM-SHA-512-PLUS',
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-512',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1',
  'PLAIN',
];

/** RFC 6120 §6.4.5: allow "at least 2 and no more than 5" retries. */
export const DEFAULT_MAX_ATTEMPTS = 5;

export interface SaslServerOptions {
  /** Mechanisms to enable (default DEFAULT_MECHANISMS). Order is irrelevant. */
  mechanisms?: readonly SaslMechanismName[];
  /** Enable ANONYMOUS (RFC 4505). Off by default. */
  allowAnonymous?: boolean;
  /**
   * When the connection offers channel bindings, refuse non-PLUS SCRAM and PLAIN with
   * mechanism-too-weak and leave them out of the offer.
   */
  requireChannelBinding?: boolean;
  /** XEP-0474 "h" attribute in SCRAM server-first-messages (default true). */
  downgradeProtection?: boolean;
  /** Bound on any single decoded client message (default 8 KiB). */
  maxPayloadBytes?: number;
  /** Authentication attempts per stream (default 5, RFC 6120 §6.4.5). */
  maxAttempts?: number;
  /**
   * Secret for decoy credentials of unknown users (RFC 5802 §9), at least 16 bytes. Every gateway
   * of a cluster must share it, or comparing two gateways' salts reveals unknown accounts.
   * Default: random per process (fine for a single process).
   */
  decoySecret?: Buffer;
  /** Iteration count decoys use; set it to what real credentials use (default DEFAULT_ITERATIONS). */
  decoyIterations?: number;
  /**
   * Username preparation before lookup (default SASLprep, RFC 5802 §5.1 / RFC 4616 §2). XMPP
   * deployments pass the PRECIS UsernameCaseMapped profile (RFC 8265 §3.3) here.
   */
  prepareUsername?: (raw: string) => string | undefined;
  /** Server nonce source (tests inject a fixed one for RFC test vectors). */
  nonce?: () => string;
  /** Username source for ANONYMOUS sessions. */
  anonymousId?: () => string;
}

/** What the stream layer knows when it builds <mechanisms/>. */
export interface OfferContext {
  secure: boolean;
  /** Channel-binding types available on this connection (see channelBindingAdvertisement). */
  channelBindingTypes: readonly string[];
  hasClientCert: boolean;
}

let processDecoySecret: Buffer | undefined;

type Phase = 'idle' | 'exchanging' | 'succeeded';

export class SaslServer {
  private readonly enabled: ReadonlyMap<string, MechanismDefinition>;
  private readonly requireChannelBinding: boolean;
  private readonly maxPayloadBytes: number;
  private readonly maxAttempts: number;
  private readonly config: MechanismConfig;

  private phase: Phase = 'idle';
  /** A step is being computed (lookup in flight): a concurrent call is a protocol error. */
  private busy = false;
  /** Bumped by abort(): results of steps started before it are discarded. */
  private generation = 0;
  private attempts = 0;
  private exchange: MechanismExchange | undefined = undefined;
  private authenticated: SaslIdentity | undefined = undefined;

  constructor(opts: SaslServerOptions = {}) {
    const names = new Set<string>(opts.mechanisms ?? DEFAULT_MECHANISMS);
    if (opts.allowAnonymous === true) names.add('ANONYMOUS');
    for (const name of names) {
      if (!DEFINITIONS.some((d) => d.name === name)) {
        throw new SaslError('ERR_SASL_INVALID_OPTION', `unknown mechanism ${name}`);
      }
    }
    this.enabled = new Map(DEFINITIONS.filter((d) => names.has(d.name)).map((d) => [d.name, d]));
    this.requireChannelBinding = opts.requireChannelBinding === true;
    this.maxPayloadBytes = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
    this.maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    if (!Number.isSafeInteger(this.maxPayloadBytes) || this.maxPayloadBytes < 256) {
      throw new SaslError('ERR_SASL_INVALID_OPTION', 'maxPayloadBytes must be an integer >= 256');
    }
    if (!Number.isSafeInteger(this.maxAttempts) || this.maxAttempts < 1) {
      throw new SaslError('ERR_SASL_INVALID_OPTION', 'maxAttempts must be a positive integer');
    }
    const decoyIterations = opts.decoyIterations ?? DEFAULT_ITERATIONS;
    if (!Number.isSafeInteger(decoyIterations) || decoyIterations < MIN_ITERATIONS || decoyIterations > MAX_ITERATIONS) {
      throw new SaslError('ERR_SASL_INVALID_OPTION', 'decoyIterations out of range');
    }
    if (opts.decoySecret !== undefined && opts.decoySecret.length < 16) {
      throw new SaslError('ERR_SASL_INVALID_OPTION', 'decoySecret must be at least 16 bytes');
    }
    this.config = {
      decoySecret: opts.decoySecret ?? (processDecoySecret ??= randomBytes(32)),
      decoyIterations,
      downgradeProtection: opts.downgradeProtection !== false,
      prepareUsername: opts.prepareUsername ?? saslprepQuery,
      nonce: opts.nonce ?? (() => randomBytes(18).toString('base64')),
      anonymousId: opts.anonymousId ?? (() => randomBytes(12).toString('hex')),
    };
  }

  /**
   * The mechanisms to advertise, strongest first (RFC 6120 §6.4.1). -PLUS needs TLS and a
   * channel binding; PLAIN needs TLS; EXTERNAL needs TLS and a client certificate.
   */
  offeredMechanisms(offer: OfferContext): SaslMechanismName[] {
    const bindingAvailable = offer.secure && offer.channelBindingTypes.length > 0;
    const out: SaslMechanismName[] = [];
    for (const definition of this.enabled.values()) {
      if (definition.requiresTls && !offer.secure) continue;
      if (definition.channelBinding && !bindingAvailable) continue;
      if (definition.name === 'EXTERNAL' && !offer.hasClientCert) continue;
      if (this.requireChannelBinding && bindingAvailable && definition.weakerThanChannelBinding) continue;
      out.push(definition.name);
    }
    return out;
  }

  /** The identity once an exchange succeeded. */
  get identity(): SaslIdentity | undefined {
    return this.authenticated;
  }

  /** Attempts left before the stream must be closed (RFC 6120 §6.4.5). */
  get attemptsLeft(): number {
    return Math.max(0, this.maxAttempts - this.attempts);
  }

  /** <auth mechanism=...>: `initialResponse` undefined when the element had no data. */
  async start(mechanism: string, initialResponse: Buffer | undefined, ctx: SaslContext): Promise<SaslStep> {
    if (this.phase === 'succeeded') return failure('malformed-request', 'already authenticated');
    if (this.busy) return failure('malformed-request', 'exchange step in progress');
    if (this.attempts >= this.maxAttempts) return this.exhausted();
    this.attempts++;
    if (this.phase === 'exchanging') {
      // RFC 6120 §6.4 has no second <auth/> during an exchange: end both.
      this.reset();
      return this.finishFailure(failure('malformed-request', 'exchange already in progress'));
    }
    const definition = this.enabled.get(mechanism);
    if (!definition) return this.finishFailure(failure('invalid-mechanism'));
    if (definition.requiresTls && !ctx.secure) return this.finishFailure(failure('encryption-required'));
    const bindingAvailable = Object.values(ctx.channelBindings).some((b) => b !== undefined);
    if (this.requireChannelBinding && bindingAvailable && definition.weakerThanChannelBinding) {
      return this.finishFailure(failure('mechanism-too-weak'));
    }
    if (!ctx.offeredMechanisms.includes(mechanism)) return this.finishFailure(failure('invalid-mechanism'));
    if (initialResponse !== undefined && initialResponse.length > this.maxPayloadBytes) {
      return this.finishFailure(failure('malformed-request', 'payload too large'));
    }
    this.exchange = definition.create(ctx, this.config);
    this.phase = 'exchanging';
    // RFC 6120 §6.4.2: no initial response → an empty challenge asks for the client's first message.
    if (initialResponse === undefined) return { kind: 'challenge', data: Buffer.alloc(0) };
    return this.run(initialResponse);
  }

  /** <response/>: `response` undefined when the element had no data. */
  async step(response: Buffer | undefined): Promise<SaslStep> {
    if (this.phase === 'succeeded') return failure('malformed-request', 'already authenticated');
    if (this.busy) return failure('malformed-request', 'exchange step in progress');
    if (this.phase !== 'exchanging') return failure('malformed-request', 'no exchange in progress');
    if (response !== undefined && response.length > this.maxPayloadBytes) {
      this.reset();
      return this.finishFailure(failure('malformed-request', 'payload too large'));
    }
    return this.run(response ?? Buffer.alloc(0));
  }

  /** <abort/> (RFC 6120 §6.4.4): always answered with <failure><aborted/></failure>. */
  abort(): SaslStep {
    if (this.phase === 'succeeded') return failure('malformed-request', 'already authenticated');
    this.reset();
    return this.finishFailure(failure('aborted'));
  }

  private async run(input: Buffer): Promise<SaslStep> {
    const exchange = this.exchange;
    if (!exchange) return failure('malformed-request', 'no exchange in progress');
    const generation = this.generation;
    this.busy = true;
    let outcome: SaslStep;
    try {
      outcome = await exchange.step(input);
    } catch {
      // Lookup or authorize hook failed (registry down, ...): the client may retry later.
      outcome = failure('temporary-auth-failure');
    } finally {
      if (generation === this.generation) this.busy = false;
    }
    if (generation !== this.generation) return failure('aborted');
    if (outcome.kind === 'challenge') return outcome;
    this.exchange = undefined;
    if (outcome.kind === 'success') {
      this.phase = 'succeeded';
      this.authenticated = outcome.identity;
      return outcome;
    }
    this.phase = 'idle';
    return this.finishFailure(outcome);
  }

  private reset(): void {
    this.generation++;
    this.busy = false;
    this.exchange = undefined;
    this.phase = 'idle';
  }

  private finishFailure(step: Extract<SaslStep, { kind: 'failure' }>): SaslStep {
    this.phase = 'idle';
    this.exchange = undefined;
    return this.attempts >= this.maxAttempts ? { ...step, retriesExhausted: true } : step;
  }

  private exhausted(): SaslStep {
    return { kind: 'failure', condition: 'temporary-auth-failure', text: 'too many attempts', retriesExhausted: true };
  }
}
