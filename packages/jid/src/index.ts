// @ambrosia/jid: XMPP addresses per RFC 7622, with PRECIS (RFC 8264/8265) for localparts and
// resourceparts and IDNA2008 (RFC 5890-5893, mapping per RFC 5895) for domainparts.
export { JID, parseJID, tryParseJID, jid, domainpartToASCII } from './jid.js';
export { prepLocalpart, prepDomainpart, prepResourcepart, MAX_PART_OCTETS } from './parts.js';
export { JidError, isJidError } from './errors.js';
export type { JidErrorCode, JidErrorReason, JidPart } from './errors.js';
export { UNICODE_TABLES_VERSION } from './unicode-tables.js';
