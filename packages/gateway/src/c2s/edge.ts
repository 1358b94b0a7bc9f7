// The client edge as one unit: certificates, the session table, the stream hooks and the two
// listeners, over any ServiceRouter. The Gateway composes it with the service hub; tests use it
// with a router of their own.

import { createAuthenticator, createBruteForcePolicy, type BruteForcePolicyOptions } from '@ambrosia/auth';
import type { KickCommand, Registry } from '@ambrosia/registry';
import type { ClientStreamHooks, ClientStreamOptions, StreamAuthenticator } from '@ambrosia/stream';
import type { ServiceRouter } from '../contracts.js';
import { resolveGatewayLimits, type GatewayLimits, type GatewayLimitsOptions } from '../protection/limits.js';
import { EdgeProtection, type ProtectionStats } from '../protection/protection.js';
import { proxyOptionsFor, type ProxyProtocolConfig } from '../protection/proxy.js';
import type { DomainCertificates } from './certificates.js';
import { createClientHooks, kickLocal } from './hooks.js';
import { C2sListener } from './listener.js';
import { safeLogger, type GatewayLogger } from './log.js';
import { DEFAULT_MAX_SESSIONS, SessionTable, type SessionEntry } from './session-table.js';

export interface AuthSettings {
  /**
   * Cluster-wide secret (≥ 16 bytes) for the decoy SCRAM parameters of unknown users; every
   * gateway must use the same one (@ambrosia/auth).
   */
  decoySecret: Buffer;
  /** Floor of every SASL answer (auth default 50 ms). */
  minResponseMs?: number;
  /** Brute-force policy settings; the counters are the registry's. */
  bruteForce?: Omit<BruteForcePolicyOptions, 'counters'>;
}

export interface ClientEdgeOptions {
  gatewayId: string;
  registry: Registry;
  router: ServiceRouter;
  certificates: DomainCertificates;
  /** Listen address of both listeners. */
  host: string;
  /** 5222 and 5223 by default; 0 = ephemeral; null = that listener is off. */
  ports?: { c2s?: number | null; c2sTls?: number | null };
  auth: AuthSettings | { authenticator: StreamAuthenticator };
  /** ClientStream options shared by every stream. */
  stream?: ClientStreamOptions;
  /** Connections held at once (negotiating, established, detached); default 100 000. */
  maxSessions?: number;
  handshakeTimeoutMs?: number;
  lingerMs?: number;
  /** Edge protection (issue #8): sizes, deadlines, per-IP caps and rates; defaults DEFAULT_GATEWAY_LIMITS. */
  limits?: GatewayLimitsOptions;
  /** PROXY protocol for both listeners, or per listener (`{ c2s, c2sTls }`); absent: off. */
  proxyProtocol?: ProxyProtocolConfig;
  log?: GatewayLogger;
}

/**
 * The stream options with the edge's stanza sizes: `limits.preAuthStanzaBytes` and
 * `limits.stanzaBytes` feed the parser budgets, unless `stream` sets `maxStanzaBytes` itself.
 */
export function streamOptionsWithLimits(stream: ClientStreamOptions | undefined, limits: Readonly<GatewayLimits>): ClientStreamOptions {
  return {
    ...stream,
    preAuthLimits: { maxStanzaBytes: limits.preAuthStanzaBytes, ...stream?.preAuthLimits },
    limits: { maxStanzaBytes: limits.stanzaBytes, ...stream?.limits },
  };
}

export function authenticatorFor(registry: Registry, auth: ClientEdgeOptions['auth']): StreamAuthenticator {
  if ('authenticator' in auth) return auth.authenticator;
  const policy = createBruteForcePolicy({ ...auth.bruteForce, counters: registry.counters });
  return createAuthenticator({ credentials: registry.credentials, policy, decoySecret: auth.decoySecret, minResponseMs: auth.minResponseMs });
}

export class ClientEdge {
  readonly table: SessionTable;
  readonly hooks: ClientStreamHooks;
  private readonly log: GatewayLogger;
  private readonly listeners: C2sListener[] = [];
  private readonly streamOptions: ClientStreamOptions;
  readonly protection: EdgeProtection;

  constructor(private readonly options: ClientEdgeOptions) {
    this.log = safeLogger(options.log);
    this.table = new SessionTable(options.maxSessions ?? DEFAULT_MAX_SESSIONS);
    const limits = resolveGatewayLimits(options.limits);
    this.protection = new EdgeProtection({ limits, counters: options.registry.counters, log: this.log });
    // One options object for every stream: the stream package resolves and freezes it once.
    this.streamOptions = streamOptionsWithLimits(options.stream, limits);
    this.hooks = createClientHooks({
      gatewayId: options.gatewayId,
      registry: options.registry,
      router: options.router,
      table: this.table,
      authenticator: authenticatorFor(options.registry, options.auth),
      certificates: options.certificates,
      log: this.log,
    });
  }

  /** Starts the listeners; resolves the ports they listen on (0 when off). */
  async start(): Promise<{ c2s: number; c2sTls: number }> {
    const ports = { c2s: 5222, c2sTls: 5223, ...this.options.ports };
    const result = { c2s: 0, c2sTls: 0 };
    const common = {
      host: this.options.host,
      certificates: this.options.certificates,
      table: this.table,
      hooks: this.hooks,
      streamOptions: this.streamOptions,
      handshakeTimeoutMs: this.options.handshakeTimeoutMs,
      lingerMs: this.options.lingerMs,
      protection: this.protection,
      log: this.log,
    };
    try {
      if (ports.c2s !== null && ports.c2s !== undefined) {
        const listener = new C2sListener({ ...common, kind: 'starttls', port: ports.c2s, proxyProtocol: proxyOptionsFor(this.options.proxyProtocol, 'c2s') });
        this.listeners.push(listener);
        result.c2s = await listener.listen();
      }
      if (ports.c2sTls !== null && ports.c2sTls !== undefined) {
        const listener = new C2sListener({ ...common, kind: 'direct-tls', port: ports.c2sTls, proxyProtocol: proxyOptionsFor(this.options.proxyProtocol, 'c2sTls') });
        this.listeners.push(listener);
        result.c2sTls = await listener.listen();
      }
    } catch (error) {
      await this.stopAccepting();
      throw error;
    }
    return result;
  }

  async stopAccepting(): Promise<void> {
    await Promise.all(this.listeners.map((listener) => listener.stopAccepting()));
  }

  /** Obeys a kick: the sessions it names that this gateway holds; returns how many. */
  kick(command: KickCommand): number {
    if (command.gatewayId !== undefined && command.gatewayId !== this.options.gatewayId) return 0;
    const count = kickLocal(this.table, command);
    if (count > 0) this.log('info', 'sessions-kicked', { count, reason: command.reason });
    return count;
  }

  /**
   * Ends every session for a shutdown: `see-other-host` to where `target` points (RFC 6120
   * §4.9.3.19), else `system-shutdown` (§4.9.3.20).
   */
  shutdownAll(target: (entry: SessionEntry) => string | undefined): number {
    // Connections that never sent a byte get their stream now, so they hear the shutdown too.
    for (const listener of this.listeners) listener.materializeSilent();
    let count = 0;
    for (const entry of [...this.table.values()]) {
      entry.endReason = 'shutdown';
      entry.stream.shutdown(target(entry));
      count++;
    }
    return count;
  }

  /** Resolves true once no session is left, false when `timeoutMs` passed first. */
  async waitForEmpty(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    // The table's size counts silent connections too (reserved at accept).
    while (this.table.size > 0) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(20, Math.max(1, deadline - Date.now()))));
    }
    return true;
  }

  stats(): {
    sessions: ReturnType<SessionTable['counts']>;
    maxSessions: number;
    listeners: ReturnType<C2sListener['stats']>[];
    certificates: ReturnType<DomainCertificates['stats']>;
    limits: ProtectionStats;
  } {
    return {
      limits: this.protection.stats(),
      sessions: this.table.counts(),
      maxSessions: this.table.maxSessions,
      listeners: this.listeners.map((listener) => listener.stats()),
      certificates: this.options.certificates.stats(),
    };
  }
}
