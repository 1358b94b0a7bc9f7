// A 5 MB stanza and 10 000 small ones in flight together through the hub: everything arrives,
// and the small ones are not held behind the large one (chunk interleaving, §7.3). The latency
// figures are printed for the record, never asserted (the machine is shared).
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialize, xml } from '@ambrosia/xml';
import type { InboundStanza } from '../../src/contracts.js';
import { type HubFixture, type Pki, type TestService, clientStanza, connectService, makePki, startHub } from './helpers.js';

let pki: Pki;
let fixture: HubFixture;
let service: TestService;

beforeAll(async () => {
  pki = await makePki();
  fixture = await startHub(pki);
  service = await connectService(fixture.port, { instance: 'im-big', credentials: pki.service });
});

afterAll(async () => {
  await service.endpoint.close();
  await fixture.close();
});

const SMALL = 10_000;

function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function smallBurst(): Promise<{ p50: number; p99: number; max: number }> {
  const stanzas: InboundStanza[] = Array.from({ length: SMALL }, (_, n) => {
    const stanza = clientStanza(`small${n % 200}`, { session: `c2s-small-${n % 200}` });
    return { ...stanza, xml: serialize(stanza.element) };
  });
  const latencies = await Promise.all(
    stanzas.map((stanza) => {
      const started = performance.now();
      return fixture.hub.route(stanza).then(() => performance.now() - started);
    }),
  );
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), max: latencies[latencies.length - 1]! };
}

describe('a 5 MB stanza among 10 000 small ones', () => {
  it('delivers everything; small stanzas are not held behind the large one', async () => {
    await smallBurst(); // warm-up: the first burst pays for compilation
    const alone = await smallBurst();
    expect(service.stanzas).toHaveLength(2 * SMALL);
    service.stanzas.length = 0;

    const body = 'x'.repeat(5 * 1024 * 1024);
    const element = xml('message', { xmlns: 'jabber:client', from: 'big@example.org/res', to: 'friend@example.org', id: 'big' }, xml('body', {}, body));
    const large: InboundStanza = { element, xml: serialize(element), domain: 'example.org', type: 'client', via: 'c2s', session: 'c2s-big', origin: 'big@example.org/res', routingKey: 'big@example.org' };
    const largeStarted = performance.now();
    const largeDone = fixture.hub.route(large).then(() => performance.now() - largeStarted);
    const mixed = await smallBurst();
    const largeMs = await largeDone;

    expect(service.stanzas).toHaveLength(SMALL + 1);
    const big = service.stanzas.find((inbound) => inbound.message.context.session === 'c2s-big')!;
    expect(big.message.xml.length).toBe(Buffer.byteLength(large.xml!));
    // Fair interleaving: most small stanzas arrived before the large one was complete.
    const bigIndex = service.stanzas.indexOf(big);
    console.log(
      `[service hub] ${SMALL} small stanzas: alone p50 ${alone.p50.toFixed(1)} ms p99 ${alone.p99.toFixed(1)} ms max ${alone.max.toFixed(1)} ms; ` +
        `with a 5 MB stanza in flight p50 ${mixed.p50.toFixed(1)} ms p99 ${mixed.p99.toFixed(1)} ms max ${mixed.max.toFixed(1)} ms; ` +
        `5 MB stanza acked after ${largeMs.toFixed(1)} ms, delivered after ${bigIndex} of the small ones`,
    );
    // One chunk per lane per turn (§7.3): the 5 MB stanza needs ~320 turns, 200 lanes of small ones 50.
    expect(bigIndex).toBeGreaterThan(SMALL / 2);
    expect(fixture.hub.stats()).toMatchObject({ pending: 0, failed: 0 });
  });
});
