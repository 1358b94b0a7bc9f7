import { describe, expect, it } from 'vitest';
import { parseElement, serialize, xml } from '@ambrosia/xml';
import {
  SASL_FAILURE_CONDITIONS,
  STANZA_ERROR_CONDITIONS,
  STANZA_ERROR_DEFAULT_TYPES,
  STREAM_ERROR_CONDITIONS,
  SaslFailure,
  StanzaError,
  StreamError,
  errorReply,
  isSaslFailure,
  isStanzaError,
  isStreamError,
  isXmppError,
} from '../src/index.js';

describe('stream errors (RFC 6120 §4.9)', () => {
  it.each(STREAM_ERROR_CONDITIONS)('%s serialises and parses back', (condition) => {
    const error = new StreamError(condition, { text: 'why & <how>', lang: 'en' });
    const wire = serialize(error.toElement());
    expect(wire).toContain(`<${condition} xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>`);
    expect(wire).toContain('why &amp; &lt;how&gt;');
    const back = StreamError.fromElement(parseElement(wire));
    expect(back.condition).toBe(condition);
    expect(back.text).toBe('why & <how>');
    expect(back.lang).toBe('en');
    expect(back.code).toBe(error.code);
  });

  it('see-other-host carries the host as the condition text (§4.9.3.19)', () => {
    const error = new StreamError('see-other-host', { seeOtherHost: '[2001:db8::9]:5222' });
    const wire = serialize(error.toElement());
    expect(wire).toBe(
      '<stream:error xmlns:stream="http://etherx.jabber.org/streams">' +
        '<see-other-host xmlns="urn:ietf:params:xml:ns:xmpp-streams">[2001:db8::9]:5222</see-other-host></stream:error>',
    );
    expect(StreamError.fromElement(parseElement(wire)).seeOtherHost).toBe('[2001:db8::9]:5222');
  });

  it('an unknown condition reads as undefined-condition and keeps the application element', () => {
    const el = parseElement(
      '<stream:error xmlns:stream="http://etherx.jabber.org/streams"><bogus xmlns="urn:ietf:params:xml:ns:xmpp-streams"/>' +
        '<escape-your-data xmlns="http://example.org/ns"/></stream:error>',
    );
    const error = StreamError.fromElement(el);
    expect(error.condition).toBe('undefined-condition');
    expect(error.application?.name).toBe('escape-your-data');
  });

  it('has stable codes derived from the condition', () => {
    expect(new StreamError('host-unknown').code).toBe('XMPP_STREAM_HOST_UNKNOWN');
    expect(new StreamError('policy-violation', { code: 'LIMIT_STANZA_SIZE' }).code).toBe('LIMIT_STANZA_SIZE');
  });
});

describe('stanza errors (RFC 6120 §8.3)', () => {
  it.each(STANZA_ERROR_CONDITIONS)('%s carries its default type and round-trips', (condition) => {
    const error = new StanzaError(condition);
    expect(error.type).toBe(STANZA_ERROR_DEFAULT_TYPES[condition]);
    const back = StanzaError.fromElement(parseElement(serialize(error.toElement())));
    expect(back.condition).toBe(condition);
    expect(back.type).toBe(error.type);
  });

  it('gone and redirect carry the new address', () => {
    const error = new StanzaError('gone', { uri: 'xmpp:romeo@afterlife.example.net', by: 'example.net' });
    const el = error.toElement();
    expect(serialize(el)).toBe(
      '<error type="cancel" by="example.net"><gone xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">xmpp:romeo@afterlife.example.net</gone></error>',
    );
    expect(StanzaError.fromElement(el).uri).toBe('xmpp:romeo@afterlife.example.net');
  });

  it('errorReply swaps addresses, keeps the id and kind (§8.3.1)', () => {
    const iq = xml('iq', { xmlns: 'jabber:client', id: 'q1', type: 'get', from: 'juliet@example.com/balcony', to: 'example.com' }, xml('query', { xmlns: 'jabber:iq:version' }));
    const reply = errorReply(iq, new StanzaError('service-unavailable'));
    expect(reply && serialize(reply)).toBe(
      '<iq xmlns="jabber:client" id="q1" to="juliet@example.com/balcony" from="example.com" type="error">' +
        '<error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>',
    );
    const withOriginal = errorReply(iq, new StanzaError('bad-request'), { includeOriginal: true });
    expect(withOriginal?.getChild('query')).toBeDefined();
    expect(iq.getChild('query')?.parent).toBe(iq);
  });

  it('never answers an error with an error (§8.3.1)', () => {
    const error = xml('message', { type: 'error', id: 'x' });
    expect(errorReply(error, new StanzaError('bad-request'))).toBeUndefined();
  });
});

describe('SASL failures (RFC 6120 §6.5)', () => {
  it.each(SASL_FAILURE_CONDITIONS)('%s round-trips', (condition) => {
    const failure = new SaslFailure(condition, { text: 'nope' });
    const wire = serialize(failure.toElement());
    expect(wire.startsWith('<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl">')).toBe(true);
    const back = SaslFailure.fromElement(parseElement(wire));
    expect(back.condition).toBe(condition);
    expect(back.text).toBe('nope');
  });
});

describe('identity by brand, not instanceof', () => {
  it('recognises errors from another copy of the package', () => {
    const foreign = Object.assign(new Error('x'), { xmppErrorKind: 'stanza', condition: 'forbidden', code: 'XMPP_STANZA_FORBIDDEN' });
    expect(isStanzaError(foreign)).toBe(true);
    expect(isXmppError(foreign)).toBe(true);
    expect(isStreamError(foreign)).toBe(false);
    expect(isSaslFailure(new SaslFailure('aborted'))).toBe(true);
    expect(isXmppError(new Error('plain'))).toBe(false);
    expect(isXmppError(null)).toBe(false);
  });
});
