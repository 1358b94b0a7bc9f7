/**
 * @ambrosia/xml — the only XML parser in Ambrosia, and its serializer.
 *
 * Every path that reads XML (c2s, s2s, BOSH, WebSocket, the service channel) goes through
 * StreamParser or parseElement; see README.md for the limits, the error conditions and the
 * decisions behind them.
 */
export { Element } from 'ltx';
export { xml } from './factory.js';
export { clone } from './clone.js';
export type { XmlAttrs, XmlChild } from './factory.js';
export { serialize, escapeText, escapeAttribute } from './serialize.js';
export { DEFAULT_LIMITS, PREAUTH_LIMITS, MAX_LIMIT_VALUE } from './limits.js';
export type { XmlLimits } from './limits.js';
export { XmlStreamError, XmlErrorCode, isXmlStreamError } from './errors.js';
export type { XmlErrorCondition, XmlErrorCodeValue } from './errors.js';
export { StreamParser } from './stream-parser.js';
export type { StreamParserEvents } from './stream-parser.js';
export type { StreamHeader } from './tree-builder.js';
export { XML_NAMESPACE, XMLNS_NAMESPACE } from './tree-builder.js';
export { parseElement } from './parse-element.js';
export type { ParseElementOptions } from './parse-element.js';
export { isValidXmlUtf8 } from './utf8.js';
