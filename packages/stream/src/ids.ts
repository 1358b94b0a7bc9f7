import { randomBytes } from 'node:crypto';

/** A random URL-safe identifier of `bytes` random bytes (16 bytes = 128 bits). */
export function randomId(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

/** RFC 6120 §4.7.3: stream ids are unpredictable; 128 bits. */
export const newStreamId = (): string => randomId(16);
export const newSessionId = (): string => randomId(16);
/** XEP-0198 §5: the SM-ID must not be guessable (it is the only proof of a resumption, with the account). */
export const newSmId = (): string => randomId(18);
/** RFC 6120 §7.6: a server-generated resource, URL-safe, 96 bits so it never collides in practice. */
export const newResource = (): string => randomId(12);
export const newPingId = (): string => `ping-${randomId(9)}`;
