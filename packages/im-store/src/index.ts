// @ambrosia/im-store: the IM service's state behind one interface (README.md: data model, key
// layout on Redis, every bound). The compliance suite every implementation runs is a separate
// entry: @ambrosia/im-store/compliance.

export * from './types.js';
export { ImStoreError, isImStoreError, IM_STORE_ERROR_CODES, type ImStoreErrorCode } from './errors.js';
export { DEFAULT_IM_STORE_LIMITS, resolveLimits, type ImStoreLimits, type ResolvedImStoreLimits } from './limits.js';
export { createMemoryImStore, MemoryImStoreData, type MemoryImStoreOptions } from './memory.js';
export { runContactUpdate, DEFAULT_UPDATE_ATTEMPTS } from './roster-update.js';
// For store implementations: validation and stored forms shared so every store behaves the same.
export {
  MAX_JID_BYTES,
  MAX_JIDS_PER_CALL,
  MAX_PRIVATE_KEY_BYTES,
  MESSAGE_ID_DIGITS,
  MAX_MESSAGE_ID,
  EMPTY_ROSTER_VERSION,
  archiveBounds,
  checkJid,
  checkJidList,
  checkMessageId,
  checkPrivateKey,
  checkResource,
  byJid,
  byResource,
  byStampThenJid,
  decodePresence,
  MAX_RESOURCE_BYTES,
  checkXml,
  decodePending,
  decodeRosterItem,
  encodeRosterItem,
  formatMessageId,
  formatRosterVersion,
  isWellFormed,
  messageIdStamp,
  nextMessageId,
  pageSize,
  parseMessageId,
  parseRosterVersion,
  prepareContactChange,
  privateXmlCost,
  privateXmlField,
  utf8Bytes,
  type PreparedItem,
  type PreparedPending,
} from './model.js';
