// The certificates of the client-facing listeners, chosen per connection by SNI (RFC 6066 §3;
// XEP-0368 asks direct-TLS clients to send it, and STARTTLS clients send it too). A domain gets
// its configured certificate, or — when none was configured and a cluster CA is at hand — one
// issued from the CA the first time a client asks for it (RFC 6120 §13.7.1.2 names, made by
// @ambrosia/pki). Issued ones are cached in a bounded LRU; an evicted one is issued again on use.

import { constants } from 'node:crypto';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { domainpartToASCII } from '@ambrosia/jid';
import { issueDomainCertificate, selfSignedCertificate, type CertificateAuthority } from '@ambrosia/pki';

export interface DomainCertificate {
  domain: string;
  cert: string | Buffer;
  key: string | Buffer;
}

export interface DomainCertificatesOptions {
  /** Certificates from files, one per domain. The first is the default when SNI names nothing we know. */
  configured?: readonly DomainCertificate[];
  /** The cluster CA: issues a certificate for a domain that has none configured. */
  ca?: CertificateAuthority;
  /**
   * Whether a certificate may be issued for a domain (only domains this gateway serves: a client
   * must not make us sign whatever name it puts in its SNI).
   */
  mayIssue?: (domain: string) => boolean;
  /** Name of the default certificate when none is configured (issued or self-signed at init). */
  fallbackDomain: string;
  /** Issued certificates kept at once (least recently used evicted); default 1000. */
  maxIssued?: number;
}

/**
 * TLS settings every client-facing context shares: TLS 1.2 at least (RFC 7590 §3.1 recommends
 * 1.2+), renegotiation refused (it only ever served client-certificate requests and has been a
 * CPU-exhaustion and injection vector: RFC 5746, CVE-2011-1473).
 */
export const CLIENT_TLS_SETTINGS: Readonly<SecureContextOptions> = Object.freeze({
  minVersion: 'TLSv1.2',
  secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
});

export const DEFAULT_MAX_ISSUED_CERTIFICATES = 1000;

function contextFrom(cert: string | Buffer, key: string | Buffer): SecureContext {
  return createSecureContext({ ...CLIENT_TLS_SETTINGS, cert, key });
}

/** An SNI name or stream domain as the cache keys it: lower-case A-labels; undefined if not a domain. */
export function certificateKey(name: string): string | undefined {
  try {
    return domainpartToASCII(name);
  } catch {
    return undefined;
  }
}

export class DomainCertificates {
  private readonly configured = new Map<string, SecureContext>();
  /** Insertion order is recency order: a hit moves the entry to the end. */
  private readonly issued = new Map<string, SecureContext>();
  private readonly pending = new Map<string, Promise<SecureContext | undefined>>();
  private readonly maxIssued: number;
  private fallback: SecureContext | undefined;
  private fallbackPems: { cert: string | Buffer; key: string | Buffer } | undefined;
  private issuedTotal = 0;

  constructor(private readonly options: DomainCertificatesOptions) {
    this.maxIssued = options.maxIssued ?? DEFAULT_MAX_ISSUED_CERTIFICATES;
    if (!Number.isSafeInteger(this.maxIssued) || this.maxIssued < 1) throw new RangeError('maxIssued must be a positive integer');
    for (const entry of options.configured ?? []) {
      const key = certificateKey(entry.domain);
      if (key === undefined) throw new RangeError(`not a domain: ${entry.domain}`);
      const context = contextFrom(entry.cert, entry.key);
      this.configured.set(key, context);
      if (this.fallback === undefined) {
        this.fallback = context;
        this.fallbackPems = { cert: entry.cert, key: entry.key };
      }
    }
  }

  /** Makes the default context when nothing is configured: issued by the CA, else self-signed. */
  async init(): Promise<void> {
    if (this.fallback !== undefined) return;
    const domains = [this.options.fallbackDomain];
    const pair = this.options.ca !== undefined
      ? await issueDomainCertificate(this.options.ca, { domains })
      : await selfSignedCertificate({ domains });
    this.fallback = contextFrom(pair.certPem, pair.keyPem);
    this.fallbackPems = { cert: pair.certPem, key: pair.keyPem };
  }

  /** The default certificate and key, for a TLS server's own context (clients without SNI). */
  get defaultCredentials(): { cert: string | Buffer; key: string | Buffer } {
    if (this.fallbackPems === undefined) throw new Error('DomainCertificates.init() was not awaited');
    return this.fallbackPems;
  }

  /** The context for connections that name no domain we have a certificate for. */
  get defaultContext(): SecureContext {
    if (this.fallback === undefined) throw new Error('DomainCertificates.init() was not awaited');
    return this.fallback;
  }

  /** Synchronous lookup (configured or already issued); touches the LRU. */
  peek(name: string): SecureContext | undefined {
    const key = certificateKey(name);
    if (key === undefined) return undefined;
    const configured = this.configured.get(key);
    if (configured !== undefined) return configured;
    const issued = this.issued.get(key);
    if (issued !== undefined) {
      this.issued.delete(key);
      this.issued.set(key, issued);
    }
    return issued;
  }

  /**
   * The context for a domain: configured, cached, or issued now when allowed. Undefined when the
   * domain gets the default certificate. Never rejects.
   */
  async contextFor(name: string): Promise<SecureContext | undefined> {
    const found = this.peek(name);
    if (found !== undefined) return found;
    const key = certificateKey(name);
    const ca = this.options.ca;
    if (key === undefined || ca === undefined) return undefined;
    let mayIssue = false;
    try {
      mayIssue = this.options.mayIssue?.(key) ?? false;
    } catch {
      mayIssue = false;
    }
    if (!mayIssue) return undefined;
    let promise = this.pending.get(key);
    if (promise === undefined) {
      // Concurrent handshakes for one new domain share one issuance; the pending map is bounded
      // by maxIssued too (beyond it the default certificate answers until one finishes).
      if (this.pending.size >= this.maxIssued) return undefined;
      promise = this.issue(ca, key);
      this.pending.set(key, promise);
      void promise.finally(() => this.pending.delete(key));
    }
    return promise;
  }

  /** Node's SNICallback: a context for the servername, or the default one. */
  readonly sniCallback = (servername: string, callback: (error: Error | null, context?: SecureContext) => void): void => {
    this.contextFor(servername).then(
      (context) => callback(null, context ?? this.fallback),
      () => callback(null, this.fallback),
    );
  };

  stats(): { configured: number; issued: number; issuedTotal: number } {
    return { configured: this.configured.size, issued: this.issued.size, issuedTotal: this.issuedTotal };
  }

  private async issue(ca: CertificateAuthority, key: string): Promise<SecureContext | undefined> {
    try {
      const pair = await issueDomainCertificate(ca, { domains: [key] });
      const context = contextFrom(pair.certPem, pair.keyPem);
      this.issuedTotal++;
      this.issued.set(key, context);
      while (this.issued.size > this.maxIssued) {
        const oldest = this.issued.keys().next().value as string;
        this.issued.delete(oldest);
      }
      return context;
    } catch {
      return undefined;
    }
  }
}
