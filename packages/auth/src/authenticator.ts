// The composition root of authentication: SaslServer mechanisms, the credential store, the
// brute-force policy and equal timing, per connection. The stream layer owns XML and sockets;
// it hands each <auth/>, <response/> and <abort/> to an AuthSession.

import {
  isChannelBindingNegotiationFailure,
  SaslServer,
  type CredentialLookup,
  type OfferContext,
  type SaslContext,
  type SaslIdentity,
  type SaslMechanismName,
  type SaslServerOptions,
  type SaslStep,
} from '@ambrosia/sasl';
import type { BruteForcePolicy } from './brute-force.js';
import { AuthError } from './errors.js';
import { normalizeDomain, tryNormalizeUsername } from './normalize.js';
import { createResponseTimer, DEFAULT_MIN_RESPONSE_MS, type ResponseTimer } from './timing.js';
import { systemClock, type Clock, type CredentialStore } from './types.js';

export interface AuthenticatorOptions {
  credentials: CredentialStore;
  policy: BruteForcePolicy;
  /**
   * Cluster-wide secret (at least 16 bytes) for decoy credentials of unknown users. Every
   * gateway must use the same one, or comparing answers across gateways reveals which
   * accounts exist.
   */
  decoySecret: Buffer;
  /** Floor for every SASL answer (default 50 ms). */
  minResponseMs?: number;
  /** Mechanism configuration; username preparation and decoys are set here. */
  sasl?: Omit<SaslServerOptions, 'decoySecret' | 'prepareUsername'>;
  clock?: Clock;
}

/** What the stream layer knows about a connection. */
export type ConnectionInfo = Omit<SaslContext, 'lookup' | 'domain'> & {
  /** Client address, for the brute-force counters. */
  ip: string;
  /** The local domain the stream is for. */
  domain: string;
};

/** Failures that count as a guess against the brute-force limits. */
const COUNTED_FAILURES: ReadonlySet<string> = new Set(['not-authorized', 'malformed-request', 'incorrect-encoding']);

export interface AuthSession {
  start(mechanism: string, initialResponse: Buffer | undefined): Promise<SaslStep>;
  step(response: Buffer | undefined): Promise<SaslStep>;
  abort(): SaslStep;
  readonly identity: SaslIdentity | undefined;
}

export interface Authenticator {
  offeredMechanisms(offer: OfferContext): SaslMechanismName[];
  session(connection: ConnectionInfo): AuthSession;
}

export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  if (options.decoySecret.length < 16) {
    throw new AuthError('ERR_AUTH_INVALID_OPTION', 'decoySecret must be at least 16 bytes');
  }
  const clock = options.clock ?? systemClock;
  const timer = createResponseTimer(options.minResponseMs ?? DEFAULT_MIN_RESPONSE_MS, clock);
  const saslOptions: SaslServerOptions = {
    ...options.sasl,
    decoySecret: options.decoySecret,
    prepareUsername: tryNormalizeUsername,
  };
  // Validates the configuration once, up front.
  const template = new SaslServer(saslOptions);
  return {
    offeredMechanisms: (offer) => template.offeredMechanisms(offer),
    session: (connection) => new Session(connection, options, saslOptions, timer, clock),
  };
}

class Session implements AuthSession {
  private readonly server: SaslServer;
  private readonly connection: ConnectionInfo;
  private readonly domain: string;
  private readonly ctx: SaslContext;
  private readonly policy: BruteForcePolicy;
  private readonly timer: ResponseTimer;
  /** `domain/user` of the account the running exchange named, once known. */
  private account: string | undefined = undefined;

  constructor(
    connection: ConnectionInfo,
    options: AuthenticatorOptions,
    saslOptions: SaslServerOptions,
    timer: ResponseTimer,
    clock: Clock,
  ) {
    this.server = new SaslServer(saslOptions);
    this.connection = connection;
    this.domain = normalizeDomain(connection.domain);
    this.policy = options.policy;
    this.timer = timer;
    const { ip: _ip, domain: _domain, ...rest } = connection;
    this.ctx = {
      ...rest,
      domain: this.domain,
      lookup: async (username): Promise<CredentialLookup> => {
        this.account = `${this.domain}/${username}`;
        const verdict = await this.policy.check(connection.ip, this.account);
        if (!verdict.allowed) {
          return { kind: 'refused', condition: verdict.condition, text: 'too many failed attempts, retry later' };
        }
        // The delay depends only on earlier failures, so success and failure wait alike.
        if (verdict.delayMs > 0) await clock.sleep(verdict.delayMs);
        const record = await options.credentials.get(this.domain, username);
        return record ? { kind: 'found', username, record } : { kind: 'unknown' };
      },
    };
  }

  get identity(): SaslIdentity | undefined {
    return this.server.identity;
  }

  start(mechanism: string, initialResponse: Buffer | undefined): Promise<SaslStep> {
    return this.timer.respond(async () => {
      this.account = undefined;
      // An address already locked out learns so before any work is done for it.
      let verdict;
      try {
        verdict = await this.policy.check(this.connection.ip);
      } catch {
        return { kind: 'failure', condition: 'temporary-auth-failure' } as const;
      }
      if (!verdict.allowed) {
        return { kind: 'failure', condition: verdict.condition, text: 'too many failed attempts, retry later' } as const;
      }
      return this.settle(await this.server.start(mechanism, initialResponse, this.ctx));
    });
  }

  step(response: Buffer | undefined): Promise<SaslStep> {
    return this.timer.respond(async () => this.settle(await this.server.step(response)));
  }

  abort(): SaslStep {
    return this.server.abort();
  }

  /** Feed the outcome to the brute-force counters. Recording errors never change the answer. */
  private async settle(step: SaslStep): Promise<SaslStep> {
    try {
      if (step.kind === 'success' && step.identity.kind === 'user') {
        await this.policy.recordSuccess(this.connection.ip, this.account);
      } else if (step.kind === 'failure' && COUNTED_FAILURES.has(step.condition) && !isChannelBindingNegotiationFailure(step)) {
        // Channel-binding negotiation failures guess nothing; counting them would lock out real
        // clients that try every -PLUS variant first (slixmpp 1.8 over TLS 1.3 knows only tls-unique).
        await this.policy.recordFailure(this.connection.ip, this.account);
      }
    } catch {
      // The store is down: the lookup fails the same way for the next attempt.
    }
    return step;
  }
}
