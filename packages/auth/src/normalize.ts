// Identifier normalisation, in one place: usernames with PRECIS UsernameCaseMapped (RFC 8265
// §3.3, as RFC 7622 §3.3 prepares localparts), domains as RFC 7622 §3.2 domainparts. Passwords
// are prepared inside @ambrosia/sasl (SASLprep, the profile SCRAM clients apply).

import { prepDomainpart, prepLocalpart } from '@ambrosia/jid';
import { AuthError } from './errors.js';

/** The canonical form accounts are stored under; throws ERR_AUTH_INVALID_USERNAME. */
export function normalizeUsername(username: string): string {
  try {
    return prepLocalpart(username);
  } catch (cause) {
    throw new AuthError('ERR_AUTH_INVALID_USERNAME', 'not a valid username (RFC 7622 localpart)', { cause });
  }
}

/** normalizeUsername for untrusted input during authentication: undefined instead of throwing. */
export function tryNormalizeUsername(username: string): string | undefined {
  try {
    return prepLocalpart(username);
  } catch {
    return undefined;
  }
}

/** The canonical domain form; throws ERR_AUTH_INVALID_DOMAIN. */
export function normalizeDomain(domain: string): string {
  try {
    return prepDomainpart(domain);
  } catch (cause) {
    throw new AuthError('ERR_AUTH_INVALID_DOMAIN', 'not a valid domain (RFC 7622 domainpart)', { cause });
  }
}
