// Stanzas from services to the gateway (to-gateway STANZA, docs/service-protocol.md §4.2, §9):
// origin and `from` checks, delivery to sessions with reports, routing by `to`, error replies.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type HubFixture, type Pki, type TestService, connectService, makePki, parsed, sendToGateway, startHub, until } from './helpers.js';

let pki: Pki;
let fixture: HubFixture;
let im: TestService;
let other: TestService;

beforeAll(async () => {
  pki = await makePki();
  fixture = await startHub(pki);
  im = await connectService(fixture.port, { instance: 'im-1', credentials: pki.service, registrations: [{ domain: 'example.org', type: 'client' }] });
  other = await connectService(fixture.port, { instance: 'other-1', credentials: pki.other, registrations: [{ domain: 'example.com', type: 'client' }] });
  fixture.sessions.add('c2s-romeo', 'romeo@example.org/orchard');
});

beforeEach(() => {
  im.stanzas.length = 0;
  other.stanzas.length = 0;
  fixture.sessions.delivered.length = 0;
});

afterAll(async () => {
  await Promise.all([im.endpoint.close(), other.endpoint.close()]);
  await fixture.close();
});

const message = (from: string, to: string, body = 'hi', type?: string) =>
  `<message xmlns="jabber:client" from="${from}" to="${to}" id="x1"${type === undefined ? '' : ` type="${type}"`}><body>${body}</body></message>`;

/** The error stanza the hub sent back to `service`. */
async function bounced(service: TestService): Promise<{ condition: string; to: string | undefined; from: string | undefined; origin: string }> {
  await until(() => service.stanzas.length > 0, 'an error stanza back');
  const inbound = service.stanzas.shift()!;
  const element = parsed(inbound);
  expect(element.attrs.type).toBe('error');
  const error = element.getChild('error')!;
  const condition = error.children.find((child) => typeof child !== 'string' && child.name !== 'text');
  return { condition: typeof condition === 'string' || condition === undefined ? '' : condition.name, to: element.attrs.to, from: element.attrs.from, origin: inbound.message.context.origin };
}

describe('to a session held here (via c2s)', () => {
  it('delivers and reports delivered once the client acked it (§9)', async () => {
    const outcomes: string[] = [];
    await sendToGateway(im, message('juliet@example.org/balcony', 'romeo@example.org/orchard'), { via: 'c2s', origin: 'example.org', session: 'c2s-romeo' }, (outcome) => outcomes.push(outcome));
    expect(fixture.sessions.delivered).toHaveLength(1);
    const [delivery] = fixture.sessions.delivered;
    expect(delivery!.session).toBe('c2s-romeo');
    expect(delivery!.stanza.getChildText('body')).toBe('hi');
    expect(delivery!.stanza.attrs.xmlns).toBe('jabber:client');
    delivery!.onOutcome!('delivered');
    await until(() => outcomes.length === 1, 'the delivery report');
    expect(outcomes).toEqual(['delivered']);
    expect(fixture.hub.stats().toSessions).toBeGreaterThanOrEqual(1);
  });

  it('passes no outcome callback when no report was asked', async () => {
    await sendToGateway(im, message('juliet@example.org/balcony', 'romeo@example.org/orchard'), { via: 'c2s', origin: 'example.org', session: 'c2s-romeo' });
    expect(fixture.sessions.delivered[0]!.onOutcome).toBeUndefined();
  });

  it('reports undelivered when the client never acked it', async () => {
    const outcomes: string[] = [];
    await sendToGateway(im, message('juliet@example.org/balcony', 'romeo@example.org/orchard'), { via: 'c2s', origin: 'example.org', session: 'c2s-romeo' }, (outcome) => outcomes.push(outcome));
    fixture.sessions.delivered[0]!.onOutcome!('undelivered');
    await until(() => outcomes.length === 1, 'the delivery report');
    expect(outcomes).toEqual(['undelivered']);
  });

  it('reports undelivered for a session that is not here, or held by another gateway', async () => {
    const outcomes: string[] = [];
    await sendToGateway(im, message('juliet@example.org/balcony', 'romeo@example.org/gone'), { via: 'c2s', origin: 'example.org', session: 'c2s-gone' }, (outcome) => outcomes.push(`gone:${outcome}`));
    await sendToGateway(im, message('juliet@example.org/balcony', 'romeo@example.org/orchard'), { via: 'c2s', origin: 'example.org', session: 'c2s-romeo', gateway: 'gw-9' }, (outcome) => outcomes.push(`gw-9:${outcome}`));
    await until(() => outcomes.length === 2, 'both reports');
    expect(outcomes.sort()).toEqual(['gone:undelivered', 'gw-9:undelivered']);
    expect(fixture.sessions.delivered).toHaveLength(0);
  });
});

describe('refused: a service speaks only for its registered domains (§4.2)', () => {
  it('refuses an origin the channel did not register; the stanza is not routed', async () => {
    const before = fixture.hub.stats().refused;
    const outcomes: string[] = [];
    await sendToGateway(im, message('juliet@example.com/x', 'romeo@example.org/orchard'), { via: 'c2s', origin: 'example.com', session: 'c2s-romeo' }, (outcome) => outcomes.push(outcome));
    await until(() => outcomes.length === 1, 'the report');
    expect(outcomes).toEqual(['undelivered']);
    expect(fixture.sessions.delivered).toHaveLength(0);
    expect(fixture.hub.stats().refused).toBe(before + 1);
  });

  it('refuses a from of another domain (invalid-from) and answers with a forbidden error', async () => {
    await sendToGateway(im, message('mallory@example.com/x', 'romeo@example.org/orchard'), { via: 'routed', origin: 'example.org' });
    expect(fixture.sessions.delivered).toHaveLength(0);
    const reply = await bounced(im);
    expect(reply).toMatchObject({ condition: 'forbidden', to: 'mallory@example.com/x', from: 'romeo@example.org/orchard' });
  });

  it('delivers to a client of the origin domain a stanza from another domain (the home server delivering inbound traffic), and nothing else', async () => {
    const error = `<message type="error" id="e1" from="montague@verona.example" to="romeo@example.org/orchard"><error type="cancel"><remote-server-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`;
    await sendToGateway(im, error, { via: 'c2s', origin: 'example.org', session: 'c2s-romeo' });
    await until(() => fixture.sessions.delivered.length === 1, 'the delivery');
    expect(fixture.sessions.delivered[0]!.stanza.attrs.from).toBe('montague@verona.example');
    fixture.sessions.delivered.length = 0;
    // Addressed outside the origin's domain: still invalid-from.
    const before = fixture.hub.stats().refused;
    await sendToGateway(im, message('mallory@example.com/x', 'juliet@example.net/x'), { via: 'c2s', origin: 'example.org', session: 'c2s-romeo' });
    await until(() => fixture.hub.stats().refused === before + 1, 'the refusal');
    expect(fixture.sessions.delivered).toHaveLength(0);
    im.stanzas.length = 0;
  });

  it('delivers a push without from to the very session it addresses (RFC 6121 §2.1.6), and nothing else', async () => {
    const push = (to: string) => `<iq type="set" id="push1" to="${to}"><query xmlns="jabber:iq:roster"><item jid="bob@example.org"/></query></iq>`;
    await sendToGateway(im, push('romeo@example.org/orchard'), { via: 'c2s', origin: 'example.org', session: 'c2s-romeo' });
    expect(fixture.sessions.delivered.map((d) => d.session)).toEqual(['c2s-romeo']);
    expect(fixture.sessions.delivered[0]!.stanza.attrs.from).toBeUndefined();
    const before = fixture.hub.stats().refused;
    // Addressed to another session than the one named, or to a bare JID: refused.
    await sendToGateway(im, push('romeo@example.org/other'), { via: 'c2s', origin: 'example.org', session: 'c2s-romeo' });
    await sendToGateway(im, push('romeo@example.org'), { via: 'c2s', origin: 'example.org', session: 'c2s-romeo' });
    await until(() => im.stanzas.length >= 2, 'the two refusals');
    expect(fixture.hub.stats().refused).toBe(before + 2);
    expect(fixture.sessions.delivered).toHaveLength(1);
    im.stanzas.length = 0;
  });

  it('refuses a stanza without from, and one that is not XML', async () => {
    const before = fixture.hub.stats().refused;
    await sendToGateway(im, '<message to="romeo@example.org/orchard"><body>x</body></message>', { via: 'routed', origin: 'example.org' });
    await sendToGateway(im, '<message from="a@example.org"', { via: 'routed', origin: 'example.org' });
    expect(fixture.hub.stats().refused).toBe(before + 2);
    expect(fixture.sessions.delivered).toHaveLength(0);
  });
});

describe('routed by to (via routed, service, s2s)', () => {
  it('delivers to a full JID held here', async () => {
    await sendToGateway(im, message('juliet@example.org/balcony', 'romeo@example.org/orchard'), { via: 'routed', origin: 'example.org' });
    expect(fixture.sessions.delivered.map((d) => d.session)).toEqual(['c2s-romeo']);
  });

  it('hands a stanza for another served domain to its service, origin = the sender domain', async () => {
    const outcomes: string[] = [];
    await sendToGateway(im, message('juliet@example.org/balcony', 'bob@example.com'), { via: 'routed', origin: 'example.org', key: 'im-key-1' }, (outcome) => outcomes.push(outcome));
    await until(() => other.stanzas.length === 1, 'the other service to get it');
    expect(other.stanzas[0]!.message.context).toMatchObject({ direction: 'to-service', via: 'service', origin: 'example.org', session: '', gateway: 'gw-1', key: 'im-key-1' });
    expect(parsed(other.stanzas[0]!).getChildText('body')).toBe('hi');
    await until(() => outcomes.length === 1, 'the report');
    expect(outcomes).toEqual(['delivered']);
  });

  it('hands via service to the service of the domain of to', async () => {
    await sendToGateway(im, message('juliet@example.org/balcony', 'bob@example.com/desk'), { via: 'service', origin: 'example.org' });
    await until(() => other.stanzas.length === 1, 'the other service to get it');
    expect(other.stanzas[0]!.message.context.via).toBe('service');
    expect(other.stanzas[0]!.message.context.key).toMatch(/^gw-1:/);
  });

  it('answers remote-server-not-found for a remote domain (no s2s yet), routed or via s2s', async () => {
    await sendToGateway(im, message('juliet@example.org/balcony', 'someone@remote.example'), { via: 'routed', origin: 'example.org' });
    expect(await bounced(im)).toMatchObject({ condition: 'remote-server-not-found', to: 'juliet@example.org/balcony', from: 'someone@remote.example', origin: 'remote.example' });
    await sendToGateway(im, message('juliet@example.org/balcony', 'someone@remote.example'), { via: 's2s', origin: 'example.org' });
    expect((await bounced(im)).condition).toBe('remote-server-not-found');
  });

  it('answers service-unavailable via service when the domain has no service', async () => {
    await sendToGateway(im, message('juliet@example.org/balcony', 'x@nowhere.example'), { via: 'service', origin: 'example.org' });
    expect((await bounced(im)).condition).toBe('service-unavailable');
  });

  it('answers recipient-unavailable for a full JID of its own domain that is not here (no loop)', async () => {
    await sendToGateway(im, message('juliet@example.org/balcony', 'romeo@example.org/elsewhere'), { via: 'routed', origin: 'example.org' });
    expect((await bounced(im)).condition).toBe('recipient-unavailable');
  });

  it('never answers an error stanza with an error', async () => {
    const before = fixture.hub.stats().bounced;
    await sendToGateway(im, message('juliet@example.org/balcony', 'someone@remote.example', 'x', 'error'), { via: 'routed', origin: 'example.org' });
    expect(fixture.hub.stats().bounced).toBe(before);
  });
});
