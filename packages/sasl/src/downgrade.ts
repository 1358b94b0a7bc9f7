// XEP-0474 (SASL SCRAM Downgrade Protection, v0.5.0 §5.1): the server puts a hash of what it
// advertised into its server-first-message as the optional attribute "h". The client compares it
// with its own view; as part of AuthMessage it is covered by the proof, so a MITM that stripped
// mechanisms or channel-binding types is detected on both ends.

import { createHash } from 'node:crypto';
import { HASH_PARAMETERS } from './credentials.js';
import type { ScramHash } from './types.js';

const RECORD_SEPARATOR = '\x1e';
const UNIT_SEPARATOR = '\x1f';

/** i;octet collation (RFC 4790 §9.3): compare by bytes, not by locale or UTF-16 units. */
function octetSort(values: readonly string[]): string[] {
  return [...values].sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

/**
 * The string XEP-0474 hashes: sorted mechanisms joined by 0x1E, then, only if XEP-0440 was used,
 * 0x1F and the sorted channel-binding types joined by 0x1E.
 */
export function downgradeProtectionInput(
  mechanisms: readonly string[],
  channelBindingTypes: readonly string[] | undefined,
): string {
  let input = octetSort(mechanisms).join(RECORD_SEPARATOR);
  if (channelBindingTypes !== undefined) {
    input += UNIT_SEPARATOR + octetSort(channelBindingTypes).join(RECORD_SEPARATOR);
  }
  return input;
}

/** The base64 value of the "h" attribute, hashed with the SCRAM mechanism's own hash. */
export function downgradeProtectionHash(
  hash: ScramHash,
  mechanisms: readonly string[],
  channelBindingTypes: readonly string[] | undefined,
): string {
  return createHash(HASH_PARAMETERS[hash].digest)
    .update(downgradeProtectionInput(mechanisms, channelBindingTypes), 'utf8')
    .digest('base64');
}
