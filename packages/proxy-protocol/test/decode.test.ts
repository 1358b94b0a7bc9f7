import { describe, expect, it } from 'vitest';
import {
  crc32c,
  decodeProxyHeader,
  encodeV1,
  encodeV2,
  ProxyErrorCode,
  ProxyHeaderDecoder,
  V2_SIGNATURE,
  type DecodeStep,
  type ProxyHeader,
} from '../src/index.js';

const APP = Buffer.from("<?xml version='1.0'?><stream:stream to='example.com'>");

/** Feeds `bytes` split at `cut` (and optionally a second cut) and returns the terminal step. */
function feedSplit(bytes: Buffer, cuts: number[], maxV2Bytes?: number): DecodeStep {
  const decoder = new ProxyHeaderDecoder({ maxV2Bytes });
  let last: DecodeStep = { status: 'incomplete', buffered: 0 };
  const points = [0, ...cuts, bytes.length];
  const restParts: Buffer[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const piece = bytes.subarray(points[i], points[i + 1]);
    if (decoder.result !== undefined) {
      restParts.push(piece); // after the header: application bytes the caller keeps
      continue;
    }
    last = decoder.push(piece);
  }
  if (last.status === 'header') return { status: 'header', header: { ...last.header, rest: Buffer.concat([last.header.rest, ...restParts]) } };
  return last;
}

function headerOf(step: DecodeStep): ProxyHeader & { rest: Buffer } {
  if (step.status !== 'header') throw new Error(`expected a header, got ${JSON.stringify(step)}`);
  return step.header;
}

const V1_CASES: Array<[string, string, Partial<ProxyHeader>]> = [
  ['TCP4', 'PROXY TCP4 192.0.2.1 198.51.100.7 56324 5222\r\n', { family: 'ipv4', transport: 'stream', source: { address: '192.0.2.1', port: 56324 }, destination: { address: '198.51.100.7', port: 5222 } }],
  ['TCP4 extremes', 'PROXY TCP4 255.255.255.255 0.0.0.0 65535 0\r\n', { source: { address: '255.255.255.255', port: 65535 }, destination: { address: '0.0.0.0', port: 0 } }],
  ['TCP6 compressed', 'PROXY TCP6 2001:db8::1 2001:db8:0:0:1:0:0:2 40000 5223\r\n', { family: 'ipv6', source: { address: '2001:db8::1', port: 40000 }, destination: { address: '2001:db8::1:0:0:2', port: 5223 } }],
  ['TCP6 full upper case', 'PROXY TCP6 FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n', { source: { address: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', port: 65535 } }],
  ['TCP6 IPv4-mapped (inet_ntop form)', 'PROXY TCP6 ::ffff:192.0.2.9 ::ffff:10.0.0.1 1 2\r\n', { source: { address: '::ffff:192.0.2.9', port: 1 } }],
  ['TCP6 ::', 'PROXY TCP6 :: ::1 1 2\r\n', { source: { address: '::', port: 1 }, destination: { address: '::1', port: 2 } }],
  ['UNKNOWN short form', 'PROXY UNKNOWN\r\n', { family: 'unspec', transport: 'unspec', source: undefined }],
  ['UNKNOWN worst case (107 bytes)', `PROXY UNKNOWN ${'ffff:'.repeat(7)}ffff ${'ffff:'.repeat(7)}ffff 65535 65535\r\n`, { family: 'unspec', length: 107 }],
  ['UNKNOWN with anything before CRLF', 'PROXY UNKNOWN whatever is here\r\n', { family: 'unspec' }],
];

describe('v1 decoding', () => {
  for (const [name, line, expected] of V1_CASES) {
    it(`${name}: decodes at every split offset and leaves the application bytes`, () => {
      const bytes = Buffer.concat([Buffer.from(line, 'latin1'), APP]);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const header = headerOf(feedSplit(bytes, [cut]));
        const { source, ...others } = expected;
        expect(header).toMatchObject({ version: 1, command: 'proxy', length: line.length, ...others });
        if ('source' in expected) expect(header.source).toEqual(source);
        expect(header.rest.equals(APP)).toBe(true);
      }
    });
  }
});

const TLV_RICH = encodeV2({
  source: { address: '2001:db8::42', port: 51000 },
  destination: { address: '2001:db8::1', port: 5223 },
  tlvs: {
    alpn: 'xmpp-client',
    authority: 'chat.example.com',
    uniqueId: Buffer.alloc(128, 7),
    ssl: { tls: true, certInConnection: true, verify: 0, version: 'TLSv1.3', commonName: 'juliet@example.com', cipher: 'TLS_AES_128_GCM_SHA256', signatureAlgorithm: 'SHA256', keyAlgorithm: 'EC256' },
    netns: 'blue',
    other: [{ type: 0xe0, value: Buffer.from('custom') }],
    noop: 5,
    crc32c: true,
  },
});

const V2_CASES: Array<[string, Buffer, Partial<ProxyHeader>]> = [
  ['TCP over IPv4', encodeV2({ source: { address: '192.0.2.1', port: 56324 }, destination: { address: '198.51.100.7', port: 5222 } }), { command: 'proxy', family: 'ipv4', transport: 'stream', source: { address: '192.0.2.1', port: 56324 }, destination: { address: '198.51.100.7', port: 5222 }, length: 28 }],
  ['UDP over IPv4', encodeV2({ transport: 'dgram', source: { address: '10.1.2.3', port: 53 }, destination: { address: '10.0.0.1', port: 5353 } }), { family: 'ipv4', transport: 'dgram', source: { address: '10.1.2.3', port: 53 } }],
  ['TCP over IPv6', encodeV2({ source: { address: '2001:db8::7', port: 1 }, destination: { address: '::ffff:192.0.2.1', port: 2 } }), { family: 'ipv6', source: { address: '2001:db8::7', port: 1 }, destination: { address: '::ffff:192.0.2.1', port: 2 }, length: 52 }],
  ['UNIX stream', encodeV2({ family: 'unix', source: { address: '/run/client.sock', port: 0 }, destination: { address: '/run/ambrosia.sock', port: 0 } }), { family: 'unix', source: { address: '/run/client.sock', port: 0 }, destination: { address: '/run/ambrosia.sock', port: 0 }, length: 232 }],
  ['UNIX abstract', encodeV2({ family: 'unix', source: { address: '\0abstract', port: 0 }, destination: { address: '/d', port: 0 } }), { source: { address: '@abstract', port: 0 } }],
  ['LOCAL (health check)', encodeV2({ command: 'local' }), { command: 'local', family: 'unspec', source: undefined, length: 16 }],
  ['LOCAL with an address block: addresses ignored', encodeV2({ command: 'local', family: 'ipv4', source: { address: '1.2.3.4', port: 1 }, destination: { address: '5.6.7.8', port: 2 } }), { command: 'local', family: 'ipv4', source: undefined }],
  ['PROXY with AF_UNSPEC', encodeV2({ family: 'unspec' }), { command: 'proxy', family: 'unspec', source: undefined }],
  ['IPv4 with the UNSPEC transport: addresses ignored', encodeV2({ transport: 'unspec', source: { address: '1.2.3.4', port: 1 }, destination: { address: '5.6.7.8', port: 2 } }), { family: 'ipv4', transport: 'unspec', source: undefined }],
  ['every TLV, CRC32c verified', TLV_RICH, { family: 'ipv6', source: { address: '2001:db8::42', port: 51000 } }],
];

describe('v2 decoding', () => {
  for (const [name, header, expected] of V2_CASES) {
    it(`${name}: decodes at every split offset and leaves the application bytes`, () => {
      const bytes = Buffer.concat([header, APP]);
      for (let cut = 0; cut <= bytes.length; cut++) {
        const decoded = headerOf(feedSplit(bytes, [cut]));
        const { source, ...others } = expected;
        expect(decoded).toMatchObject({ version: 2, ...others });
        if ('source' in expected) expect(decoded.source).toEqual(source);
        if (source === undefined) expect(decoded.destination).toBeUndefined();
        expect(decoded.length).toBe(header.length);
        expect(decoded.rest.equals(APP)).toBe(true);
      }
    });
  }

  it('exposes every registered TLV', () => {
    const { tlvs } = headerOf(decodeProxyHeader(TLV_RICH));
    expect(tlvs.alpn?.toString()).toBe('xmpp-client');
    expect(tlvs.authority).toBe('chat.example.com');
    expect(tlvs.uniqueId?.equals(Buffer.alloc(128, 7))).toBe(true);
    expect(tlvs.netns).toBe('blue');
    expect(tlvs.crc32c).toBe(TLV_RICH.readUInt32BE(TLV_RICH.length - 4));
    expect(tlvs.other).toEqual([{ type: 0xe0, value: Buffer.from('custom') }]);
    expect(tlvs.ssl).toMatchObject({ client: 3, tls: true, certInConnection: true, certInSession: false, verify: 0, version: 'TLSv1.3', commonName: 'juliet@example.com', cipher: 'TLS_AES_128_GCM_SHA256', signatureAlgorithm: 'SHA256', keyAlgorithm: 'EC256', other: [] });
  });

  it('decodes byte by byte (every byte its own chunk)', () => {
    const bytes = Buffer.concat([TLV_RICH, APP]);
    const decoder = new ProxyHeaderDecoder();
    let step: DecodeStep | undefined;
    let i = 0;
    for (; i < bytes.length && decoder.result === undefined; i++) step = decoder.push(bytes.subarray(i, i + 1));
    expect(headerOf(step!).source).toEqual({ address: '2001:db8::42', port: 51000 });
    expect(i).toBe(TLV_RICH.length);
  });
});

describe('CRC32c', () => {
  it('matches the RFC 4960 check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });
});

describe('no PROXY header at all', () => {
  for (const [name, text] of [['an XMPP stream header', "<?xml version='1.0'?>"], ['a TLS ClientHello', '\x16\x03\x01\x02\x00'], ['"PROX" then something else', 'PROX-Y'], ['the v2 signature broken at byte 11', '\r\n\r\n\0\r\nQUIX']] as const) {
    it(`${name}: "absent", with every byte handed back`, () => {
      const bytes = Buffer.from(text, 'latin1');
      for (let cut = 0; cut <= bytes.length; cut++) {
        const decoder = new ProxyHeaderDecoder();
        let step = decoder.push(bytes.subarray(0, cut));
        let leftover = bytes.subarray(cut);
        if (decoder.result === undefined) {
          step = decoder.push(leftover);
          leftover = Buffer.alloc(0);
        }
        expect(step.status).toBe('absent');
        if (step.status === 'absent') expect(Buffer.concat([step.rest, leftover]).equals(bytes)).toBe(true);
      }
    });
  }
});

const v2 = (verCmd: number, fam: number, body: Buffer): Buffer => {
  const fixed = Buffer.alloc(16);
  V2_SIGNATURE.copy(fixed);
  fixed[12] = verCmd;
  fixed[13] = fam;
  fixed.writeUInt16BE(body.length, 14);
  return Buffer.concat([fixed, body]);
};
const ipv4Block = Buffer.from([192, 0, 2, 1, 192, 0, 2, 2, 0, 1, 0, 2]);
const tlvBytes = (type: number, value: Buffer, declared = value.length): Buffer => Buffer.concat([Buffer.from([type, declared >> 8, declared & 0xff]), value]);
const withBadCrc = (() => {
  const h = encodeV2({ source: { address: '1.2.3.4', port: 1 }, destination: { address: '5.6.7.8', port: 2 }, tlvs: { crc32c: true } });
  h[h.length - 1] = h[h.length - 1]! ^ 1;
  return h;
})();
const withTamperedAddress = (() => {
  const h = encodeV2({ source: { address: '1.2.3.4', port: 1 }, destination: { address: '5.6.7.8', port: 2 }, tlvs: { crc32c: true } });
  h[16] = 9; // the source address changed after the checksum was computed
  return h;
})();

const MALFORMED: Array<[string, Buffer, string]> = [
  // v1
  ['v1: "PROXY" not followed by a space', Buffer.from('PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: unknown protocol', Buffer.from('PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: lower-case protocol', Buffer.from('PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: double space', Buffer.from('PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: missing port', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: extra field', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: trailing space', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv4 with a heading zero', Buffer.from('PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv4 octet above 255', Buffer.from('PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv4 with 3 octets', Buffer.from('PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv6 address under TCP4', Buffer.from('PROXY TCP4 ::1 5.6.7.8 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv4 address under TCP6', Buffer.from('PROXY TCP6 1.2.3.4 ::1 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv6 with two "::"', Buffer.from('PROXY TCP6 1::2::3 ::1 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv6 with a zone', Buffer.from('PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv6 with 9 groups', Buffer.from('PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: IPv6 group of 5 digits', Buffer.from('PROXY TCP6 12345::1 ::1 1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: port above 65535', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: port with a heading zero', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: negative port', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n'), ProxyErrorCode.MALFORMED],
  ['v1: LF without CR', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'), ProxyErrorCode.MALFORMED],
  ['v1: CR without LF', Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX'), ProxyErrorCode.MALFORMED],
  ['v1: a NUL byte', Buffer.from('PROXY TCP4 1.2.3.4\x005.6.7.8 1 2\r\n', 'latin1'), ProxyErrorCode.MALFORMED],
  ['v1: non-ASCII', Buffer.from('PROXY UNKNOWN é\r\n', 'utf8'), ProxyErrorCode.MALFORMED],
  ['v1: no CRLF within 107 bytes', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(200)}`), ProxyErrorCode.TOO_LONG],
  ['v1: CRLF at byte 108', Buffer.from(`PROXY UNKNOWN ${'x'.repeat(92)}\r\n`), ProxyErrorCode.TOO_LONG],
  // v2
  ['v2: version 1 in the version nibble', v2(0x11, 0x11, ipv4Block), ProxyErrorCode.UNSUPPORTED],
  ['v2: version 3', v2(0x31, 0x11, ipv4Block), ProxyErrorCode.UNSUPPORTED],
  ['v2: unassigned command 2', v2(0x22, 0x11, ipv4Block), ProxyErrorCode.UNSUPPORTED],
  ['v2: unassigned family 4', v2(0x21, 0x41, ipv4Block), ProxyErrorCode.UNSUPPORTED],
  ['v2: unassigned transport 3', v2(0x21, 0x13, ipv4Block), ProxyErrorCode.UNSUPPORTED],
  ['v2: length too short for IPv4', v2(0x21, 0x11, ipv4Block.subarray(0, 11)), ProxyErrorCode.MALFORMED],
  ['v2: length too short for IPv6', v2(0x21, 0x21, Buffer.alloc(35)), ProxyErrorCode.MALFORMED],
  ['v2: length too short for UNIX', v2(0x21, 0x31, Buffer.alloc(215)), ProxyErrorCode.MALFORMED],
  ['v2: header longer than the limit', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x04, Buffer.alloc(1100))])), ProxyErrorCode.TOO_LONG],
  ['v2: truncated TLV header', v2(0x21, 0x11, Buffer.concat([ipv4Block, Buffer.from([0x04, 0x00])])), ProxyErrorCode.MALFORMED],
  ['v2: TLV overruns the header', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x01, Buffer.from('ab'), 3)])), ProxyErrorCode.MALFORMED],
  ['v2: CRC32c of 3 bytes', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x03, Buffer.alloc(3))])), ProxyErrorCode.MALFORMED],
  ['v2: CRC32c mismatch', withBadCrc, ProxyErrorCode.CHECKSUM],
  ['v2: address changed under the CRC32c', withTamperedAddress, ProxyErrorCode.CHECKSUM],
  ['v2: unique id of 129 bytes', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x05, Buffer.alloc(129))])), ProxyErrorCode.MALFORMED],
  ['v2: duplicate authority', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x02, Buffer.from('a')), tlvBytes(0x02, Buffer.from('b'))])), ProxyErrorCode.MALFORMED],
  ['v2: authority not UTF-8', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x02, Buffer.from([0xc3, 0x28]))])), ProxyErrorCode.MALFORMED],
  ['v2: SSL TLV shorter than 5 bytes', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x20, Buffer.alloc(4))])), ProxyErrorCode.MALFORMED],
  ['v2: SSL sub-TLV overruns the SSL TLV', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x20, Buffer.concat([Buffer.alloc(5), tlvBytes(0x22, Buffer.from('cn'), 9)]))])), ProxyErrorCode.MALFORMED],
  ['v2: duplicate SSL CN', v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x20, Buffer.concat([Buffer.alloc(5), tlvBytes(0x22, Buffer.from('a')), tlvBytes(0x22, Buffer.from('b'))]))])), ProxyErrorCode.MALFORMED],
];

describe('malformed, too long and unsupported headers', () => {
  for (const [name, bytes, code] of MALFORMED) {
    it(`${name} → ${code}, whatever the split`, () => {
      for (let cut = 0; cut <= bytes.length; cut += bytes.length > 300 ? 37 : 1) {
        const step = feedSplit(bytes, [cut]);
        expect(step.status, `cut at ${cut}`).toBe('error');
        if (step.status === 'error') expect(step.error.code).toBe(code);
      }
    });
  }

  it('rejects a long v2 header as soon as its length field arrives, before its body', () => {
    const decoder = new ProxyHeaderDecoder({ maxV2Bytes: 64 });
    const fixed = v2(0x21, 0x11, Buffer.alloc(1000)).subarray(0, 16);
    const step = decoder.push(fixed);
    expect(step.status === 'error' && step.error.code).toBe(ProxyErrorCode.TOO_LONG);
  });

  it('accepts a header of exactly maxV2Bytes and refuses one byte more', () => {
    const exact = v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x04, Buffer.alloc(64 - 16 - 12 - 3))]));
    expect(exact.length).toBe(64);
    expect(decodeProxyHeader(exact, { maxV2Bytes: 64 }).status).toBe('header');
    const over = v2(0x21, 0x11, Buffer.concat([ipv4Block, tlvBytes(0x04, Buffer.alloc(64 - 16 - 12 - 2))]));
    const step = decodeProxyHeader(over, { maxV2Bytes: 64 });
    expect(step.status === 'error' && step.error.code).toBe(ProxyErrorCode.TOO_LONG);
  });

  it('fails a bad version at byte 13, without waiting for more', () => {
    const step = decodeProxyHeader(v2(0x11, 0x11, ipv4Block).subarray(0, 13));
    expect(step.status === 'error' && step.error.code).toBe(ProxyErrorCode.UNSUPPORTED);
  });

  it('validates its options and refuses to be fed after deciding', () => {
    expect(() => new ProxyHeaderDecoder({ maxV2Bytes: 15 })).toThrow(RangeError);
    expect(() => new ProxyHeaderDecoder({ maxV2Bytes: 65552 })).toThrow(RangeError);
    const decoder = new ProxyHeaderDecoder();
    decoder.push(encodeV1());
    expect(() => decoder.push(Buffer.from('x'))).toThrow();
  });
});

describe('encoders', () => {
  it('encode v1 as the spec writes it', () => {
    expect(encodeV1().toString()).toBe('PROXY UNKNOWN\r\n');
    expect(encodeV1({ source: { address: '192.0.2.1', port: 56324 }, destination: { address: '192.0.2.11', port: 443 } }).toString()).toBe('PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n');
    expect(() => encodeV1({ source: { address: '192.0.2.1', port: 1 }, destination: { address: '::1', port: 2 } })).toThrow(TypeError);
    expect(() => encodeV1({ source: { address: '192.0.2.1', port: 70000 }, destination: { address: '1.1.1.1', port: 2 } })).toThrow(RangeError);
  });

  it('encode v2 with the signature, version 2 and the family byte', () => {
    const h = encodeV2({ source: { address: '192.0.2.1', port: 1 }, destination: { address: '192.0.2.2', port: 2 } });
    expect(h.subarray(0, 12).equals(V2_SIGNATURE)).toBe(true);
    expect([h[12], h[13], h.readUInt16BE(14)]).toEqual([0x21, 0x11, 12]);
    expect([...encodeV2({ command: 'local' })].slice(12)).toEqual([0x20, 0x00, 0, 0]);
  });
});
