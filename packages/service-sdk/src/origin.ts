// The `origin` of a stanza a service sends (docs/service-protocol.md §4.2): the registered domain
// it speaks for. A gateway refuses a stanza whose `from` domain is not the origin, so the SDK
// derives the origin from `from` and refuses locally, with a clear error, what would be refused.
import { tryParseJID } from '@ambrosia/jid';
import type { Element } from '@ambrosia/xml';
import { ServiceSdkError } from './errors.js';

export class OriginResolver {
  /** Registered domains in canonical A-label form (§13.3). */
  private readonly domains: ReadonlySet<string>;

  constructor(domains: Iterable<string>) {
    this.domains = new Set(domains);
  }

  /**
   * The registered domain of the stanza's `from`; throws `invalid-from` otherwise. With
   * `allowServerStanza`, a stanza without `from` (to a client, it comes from the server on behalf
   * of the account, RFC 6120 §8.1.2.1: roster pushes, RFC 6121 §2.1.6) takes the domain of its
   * `to` when registered, or the only registered domain; a stanza from another domain (delivered
   * by the recipient's home service) takes the domain of its `to` when registered.
   */
  originOf(stanza: Element, allowServerStanza = false): string {
    const from = stanza.attrs['from'] as unknown;
    if (typeof from !== 'string' || from.length === 0) {
      if (allowServerStanza) {
        const to = tryParseJID(String(stanza.attrs['to'] ?? ''));
        const toDomain = to?.toASCIIDomain();
        if (toDomain !== undefined && this.domains.has(toDomain)) return toDomain;
        if (this.domains.size === 1) return this.domains.values().next().value as string;
      }
      throw new ServiceSdkError('invalid-from', `a stanza sent by a service needs a from attribute in one of its registered domains (${this.list()})`);
    }
    const parsed = tryParseJID(from);
    if (parsed === undefined) throw new ServiceSdkError('invalid-from', 'the stanza\'s from attribute is not a valid JID');
    const domain = parsed.toASCIIDomain();
    if (!this.domains.has(domain) && allowServerStanza) {
      // To a client, the service is the recipient's home server: it delivers what other domains
      // send its users (s2s, error replies for remote domains, RFC 6120 §10.4.3). The origin is
      // then the recipient's domain (docs/service-protocol.md §4.2).
      const toDomain = tryParseJID(String(stanza.attrs['to'] ?? ''))?.toASCIIDomain();
      if (toDomain !== undefined && this.domains.has(toDomain)) return toDomain;
    }
    if (!this.domains.has(domain)) {
      throw new ServiceSdkError('invalid-from', `from domain ${domain} is not a registered domain of this service (${this.list()}); the gateway would refuse it`);
    }
    return domain;
  }

  private list(): string {
    return [...this.domains].join(', ');
  }
}
