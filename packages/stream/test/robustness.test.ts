// Whatever the client sends, in whatever pieces: receive() never throws, the stream ends at most
// once, and a transport that reports its own closing synchronously changes nothing.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CLIENT_HEADER, Harness, MemoryTransport, PASSWORD, b64, boundHarness, streamError } from './helpers.js';

const SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';
const FRAGMENTS = [
  CLIENT_HEADER,
  "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
  `<auth xmlns='${SASL}' mechanism='PLAIN'>${b64(`\0juliet\0${PASSWORD}`)}</auth>`,
  `<auth xmlns='${SASL}' mechanism='SCRAM-SHA-1'>biwsbj1qdWxpZXQscj1hYmM=</auth>`,
  `<response xmlns='${SASL}'>=</response>`,
  `<abort xmlns='${SASL}'/>`,
  "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>",
  "<enable xmlns='urn:xmpp:sm:3' resume='true'/>",
  "<resume xmlns='urn:xmpp:sm:3' previd='x' h='1'/>",
  "<r xmlns='urn:xmpp:sm:3'/>",
  "<a xmlns='urn:xmpp:sm:3' h='0'/>",
  "<inactive xmlns='urn:xmpp:csi:0'/>",
  "<message to='romeo@example.net'><body>hi</body></message>",
  "<presence from='juliet@example.com'/>",
  "<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>",
  '</stream:stream>',
  '<stream:error/>',
  ' ',
  '<',
  '&amp;',
  '\u00e9\u{1F600}',
];

describe('robustness', () => {
  it('never throws and ends at most once, for any sequence of fragments and splits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.constantFrom(...FRAGMENTS), fc.string({ maxLength: 8 })), { maxLength: 14 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        async (fragments, cuts, secure) => {
          const h = await Harness.create(secure ? { tls: { channelBindings: {} } } : {});
          const input = Buffer.from(fragments.join(''), 'utf8');
          let offset = 0;
          for (let i = 0; offset < input.length; i++) {
            const size = cuts[i % cuts.length]!;
            expect(() => h.stream.receive(input.subarray(offset, offset + size))).not.toThrow();
            offset += size;
            await h.settle();
          }
          h.stream.transportClosed();
          h.clock.advance(1_000_000);
          expect(h.closedCount).toBeLessThanOrEqual(1);
          expect(h.stream.state === 'closed' || h.stream.state === 'detached').toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('keeps its own reason when the transport reports its closing synchronously', async () => {
    class EagerTransport extends MemoryTransport {
      onClose: (() => void) | undefined;
      override close(): void {
        super.close();
        this.onClose?.();
      }
      override destroy(): void {
        super.destroy();
        this.onClose?.();
      }
    }
    const transport = new EagerTransport();
    const h = await boundHarness({ transport });
    transport.onClose = () => h.stream.transportClosed();
    h.stream.replaced();
    await h.expect(streamError('conflict', 'replaced by a new connection for this resource'));
    expect(h.closedCount).toBe(1);
    expect(h.closedInfo).toMatchObject({ reason: 'stream-error', condition: 'conflict' });
  });

  it('ignores a logger or hook that throws', async () => {
    const h = await boundHarness({
      hooks: {
        log: () => {
          throw new Error('broken logger');
        },
        onClientState: () => {
          throw new Error('broken hook');
        },
      },
    });
    await h.exchange("<inactive xmlns='urn:xmpp:csi:0'/><message id='m'/>", '');
    expect(h.stanzas).toHaveLength(1);
    expect(h.stream.state).toBe('established');
  });
});
