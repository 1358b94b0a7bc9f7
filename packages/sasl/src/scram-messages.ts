// Parsers for the two SCRAM client messages, following the ABNF of RFC 5802 §7 exactly.
// They return a reason string instead of throwing; the mechanism maps it to a failure.

export type GS2ChannelBindingFlag = { kind: 'n' } | { kind: 'y' } | { kind: 'p'; type: string };

export interface ClientFirstMessage {
  flag: GS2ChannelBindingFlag;
  /** decoded saslname, when "a=" was present */
  authzid?: string;
  /** decoded saslname (not yet prepared) */
  username: string;
  clientNonce: string;
  /** gs2-header exactly as received, trailing "," included: it is echoed inside c= */
  gs2Header: string;
  /** client-first-message-bare exactly as received: it is part of AuthMessage */
  bare: string;
}

export interface ClientFinalMessage {
  /** decoded c= value: gs2-header followed by the channel-binding data */
  channelBinding: Buffer;
  nonce: string;
  proof: Buffer;
  /** client-final-message-without-proof exactly as received: part of AuthMessage */
  withoutProof: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string; serverError?: string };

const CB_NAME = /^[A-Za-z0-9.-]+$/;
/** printable = %x21-2B / %x2D-7E: printable ASCII except "," */
const PRINTABLE = /^[\x21-\x2b\x2d-\x7e]+$/;
/** attr-val = ALPHA "=" value; value = 1*value-char (UTF-8 except NUL and ","); the
 *  comma is excluded by splitting and NUL by the caller. */
const ATTR_VAL = /^[A-Za-z]=[^,]+$/;

/**
 * saslname = 1*(value-safe-char / "=2C" / "=3D") (RFC 5802 §5.1): "=" is only valid as the start
 * of one of the two escapes; anything else MUST fail the authentication.
 */
export function decodeSaslname(value: string): string | undefined {
  if (value.length === 0) return undefined;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '=') {
      const escape = value.slice(i + 1, i + 3);
      if (escape === '2C') out += ',';
      else if (escape === '3D') out += '=';
      else return undefined;
      i += 2;
    } else {
      out += ch;
    }
  }
  return out;
}

function reject<T>(reason: string, serverError?: string): Parsed<T> {
  return serverError === undefined ? { ok: false, reason } : { ok: false, reason, serverError };
}

/** client-first-message = gs2-header client-first-message-bare (RFC 5802 §7). */
export function parseClientFirst(message: string): Parsed<ClientFirstMessage> {
  // gs2-cbind-flag
  let flag: GS2ChannelBindingFlag;
  let pos: number;
  if (message.startsWith('n,')) {
    flag = { kind: 'n' };
    pos = 2;
  } else if (message.startsWith('y,')) {
    flag = { kind: 'y' };
    pos = 2;
  } else if (message.startsWith('p=')) {
    const comma = message.indexOf(',', 2);
    if (comma < 0) return reject('truncated gs2-header');
    const type = message.slice(2, comma);
    if (!CB_NAME.test(type)) return reject('invalid channel-binding name');
    flag = { kind: 'p', type };
    pos = comma + 1;
  } else {
    return reject('invalid gs2-cbind-flag');
  }
  // [ authzid ] ","
  let authzid: string | undefined;
  const authzidEnd = message.indexOf(',', pos);
  if (authzidEnd < 0) return reject('truncated gs2-header');
  if (authzidEnd > pos) {
    const field = message.slice(pos, authzidEnd);
    if (!field.startsWith('a=')) return reject('invalid gs2-header');
    authzid = decodeSaslname(field.slice(2));
    if (authzid === undefined) return reject('invalid authzid encoding');
  }
  pos = authzidEnd + 1;
  const gs2Header = message.slice(0, pos);
  const bare = message.slice(pos);
  const attributes = bare.split(',');
  // RFC 5802 §5.1: "m" is reserved; a server that does not support it MUST fail.
  if (attributes[0]?.startsWith('m=')) return reject('mandatory extension not supported', 'extensions-not-supported');
  const [usernameAttr, nonceAttr, ...extensions] = attributes;
  if (usernameAttr === undefined || !usernameAttr.startsWith('n=')) return reject('missing username');
  const username = decodeSaslname(usernameAttr.slice(2));
  if (username === undefined) return reject('invalid username encoding', 'invalid-username-encoding');
  if (nonceAttr === undefined || !nonceAttr.startsWith('r=')) return reject('missing nonce');
  const clientNonce = nonceAttr.slice(2);
  if (!PRINTABLE.test(clientNonce)) return reject('invalid nonce');
  for (const extension of extensions) {
    if (!ATTR_VAL.test(extension)) return reject('invalid extension attribute');
  }
  const value: ClientFirstMessage = { flag, username, clientNonce, gs2Header, bare };
  if (authzid !== undefined) value.authzid = authzid;
  return { ok: true, value };
}

/** client-final-message = channel-binding "," nonce ["," extensions] "," proof (RFC 5802 §7). */
export function parseClientFinal(
  message: string,
  decodeBase64: (text: string) => Buffer | undefined,
): Parsed<ClientFinalMessage> {
  const attributes = message.split(',');
  if (attributes.length < 3) return reject('missing attributes');
  const channelAttr = attributes[0]!;
  const nonceAttr = attributes[1]!;
  const proofAttr = attributes[attributes.length - 1]!;
  if (!channelAttr.startsWith('c=')) return reject('missing channel binding');
  if (!nonceAttr.startsWith('r=')) return reject('missing nonce');
  if (!proofAttr.startsWith('p=')) return reject('missing proof');
  for (const extension of attributes.slice(2, -1)) {
    if (!ATTR_VAL.test(extension)) return reject('invalid extension attribute');
  }
  const channelBinding = decodeBase64(channelAttr.slice(2));
  if (channelBinding === undefined) return reject('invalid channel-binding encoding', 'invalid-encoding');
  const proof = decodeBase64(proofAttr.slice(2));
  if (proof === undefined || proof.length === 0) return reject('invalid proof encoding', 'invalid-encoding');
  const nonce = nonceAttr.slice(2);
  if (!PRINTABLE.test(nonce)) return reject('invalid nonce');
  const withoutProof = attributes.slice(0, -1).join(',');
  return { ok: true, value: { channelBinding, nonce, proof, withoutProof } };
}
