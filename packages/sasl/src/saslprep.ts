// SASLprep (RFC 4013) through @mongodb-js/saslprep, the maintained successor of `saslprep`.

import saslprepLibrary from '@mongodb-js/saslprep';

/**
 * Prepare a string as a "query" (RFC 3454 §7: unassigned code points allowed), as for what a
 * client sends. Returns undefined when the string contains prohibited output or fails the bidi
 * rules, or prepares to the empty string.
 */
export function saslprepQuery(input: string): string | undefined {
  return prepare(input, true);
}

/**
 * Prepare a string as a "stored string" (RFC 3454 §7: unassigned code points refused), as for a
 * password that is about to be turned into credentials.
 */
export function saslprepStored(input: string): string | undefined {
  return prepare(input, false);
}

function prepare(input: string, allowUnassigned: boolean): string | undefined {
  try {
    const prepared = saslprepLibrary(input, { allowUnassigned });
    return prepared.length > 0 ? prepared : undefined;
  } catch {
    return undefined;
  }
}
