// EXTERNAL (RFC 4422 Appendix A) with X.509 certificates, as XMPP uses it (RFC 6120 §6.3.4,
// §13.7.1.2; XEP-0178). The identity comes from the certificate's subjectAltName entries, parsed
// structurally (see x509.ts), never from the subject DN. The TLS layer must already have
// validated the chain: an unauthorized certificate is refused.

import {
  asciiLower,
  decodeUtf8,
  failure,
  finalAuthorization,
  success,
  type MechanismConfig,
  type MechanismDefinition,
} from './mechanism.js';
import type { CertificateIdentities, MechanismExchange, SaslContext, SaslIdentity, SaslStep } from './types.js';

/** RFC 6125 §6.4.3: a wildcard only as the complete left-most label, matching exactly one label. */
export function dnsNameMatches(presented: string, domain: string): boolean {
  const name = asciiLower(presented).replace(/\.$/, '');
  const target = asciiLower(domain).replace(/\.$/, '');
  if (name === target) return true;
  if (!name.startsWith('*.')) return false;
  const suffix = name.slice(1); // ".example.com"
  if (suffix.split('.').length < 3) return false; // no "*.com"
  const dot = target.indexOf('.');
  return dot > 0 && target.slice(dot) === suffix;
}

/** Does the certificate identify the server `domain` (RFC 6120 §13.7.1.2.2)? */
export function certificateNamesDomain(identities: CertificateIdentities, domain: string): boolean {
  const target = asciiLower(domain);
  return (
    identities.srvNames.some((srv) => asciiLower(srv) === `_xmpp-server.${target}`) ||
    identities.dnsNames.some((dns) => dnsNameMatches(dns, domain)) ||
    identities.xmppAddrs.some((addr) => asciiLower(addr) === target)
  );
}

/** The bare JIDs of `domain`'s users a certificate names, as [prepared localpart, JID]. */
function userAddresses(
  identities: CertificateIdentities,
  domain: string,
  config: MechanismConfig,
): Array<{ username: string; jid: string }> {
  const out: Array<{ username: string; jid: string }> = [];
  for (const jid of identities.xmppAddrs) {
    const at = jid.lastIndexOf('@');
    if (at <= 0 || jid.includes('/')) continue;
    if (asciiLower(jid.slice(at + 1)) !== asciiLower(domain)) continue;
    const username = config.prepareUsername(jid.slice(0, at));
    if (username !== undefined) out.push({ username, jid });
  }
  return out;
}

class ExternalExchange implements MechanismExchange {
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
    const authzid = decodeUtf8(input);
    if (authzid === undefined || authzid.includes('\0')) return failure('malformed-request');
    const certificate = this.ctx.peerCertificate;
    if (!certificate || !certificate.authorized) return failure('not-authorized', 'no trusted client certificate');
    return this.ctx.streamKind === 's2s'
      ? this.server(certificate.identities, authzid)
      : this.client(certificate.identities, authzid);
  }

  /** s2s: the peer proves the domain it claims in its stream header. */
  private async server(identities: CertificateIdentities, authzid: string): Promise<SaslStep> {
    const peerDomain = this.ctx.peerDomain;
    if (peerDomain === undefined || !certificateNamesDomain(identities, peerDomain)) {
      return failure('not-authorized', 'certificate does not name the claimed domain');
    }
    if (authzid.length > 0 && asciiLower(authzid) !== asciiLower(peerDomain)) return failure('invalid-authzid');
    const identity: SaslIdentity = { kind: 'server', mechanism: 'EXTERNAL', username: asciiLower(peerDomain) };
    if (authzid.length > 0) identity.authzid = authzid;
    return (await finalAuthorization(identity, this.ctx, this.config)) ?? success(identity);
  }

  /** c2s: XEP-0178 §3 — the certificate's xmppAddr names the account; an authzid picks one. */
  private async client(identities: CertificateIdentities, authzid: string): Promise<SaslStep> {
    const domain = this.ctx.domain;
    if (domain === undefined) return failure('not-authorized');
    const addresses = userAddresses(identities, domain, this.config);
    let chosen: { username: string; jid: string } | undefined;
    if (authzid.length > 0) {
      const at = authzid.lastIndexOf('@');
      const wanted = at > 0 ? this.config.prepareUsername(authzid.slice(0, at)) : undefined;
      const wantedDomain = at > 0 ? asciiLower(authzid.slice(at + 1)) : undefined;
      chosen = addresses.find((a) => a.username === wanted && wantedDomain === asciiLower(domain));
      if (!chosen) return addresses.length === 0 ? failure('not-authorized') : failure('invalid-authzid');
    } else if (addresses.length === 1) {
      chosen = addresses[0];
    } else {
      // None: the certificate names no account here. Several: XEP-0178 §3 requires an authzid.
      return addresses.length === 0 ? failure('not-authorized') : failure('invalid-authzid', 'authzid required');
    }
    if (!chosen) return failure('not-authorized');
    const found = await this.ctx.lookup(chosen.username);
    if (found?.kind === 'refused') return failure(found.condition, found.text);
    if (found?.kind !== 'found') return failure('not-authorized');
    if (found.record.disabled === true) return failure('account-disabled');
    const identity: SaslIdentity = { kind: 'user', mechanism: 'EXTERNAL', username: found.username };
    if (authzid.length > 0) identity.authzid = authzid;
    return (await finalAuthorization(identity, this.ctx, this.config)) ?? success(identity);
  }
}

export const EXTERNAL: MechanismDefinition = {
  name: 'EXTERNAL',
  requiresTls: true,
  channelBinding: false,
  weakerThanChannelBinding: false,
  create: (ctx, config) => new ExternalExchange(ctx, config),
};
