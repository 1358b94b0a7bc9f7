// Parser throughput: Ambrosia's StreamParser against @xmpp/xml's lenient Parser, on the same
// deterministic 10 MB client stream fed in the same 4 KiB..64 KiB chunks, in the same process.
//
// Runs against the BUILT package: `npx tsc -p packages/xml/tsconfig.build.json` first, then
// `node packages/xml/bench/parser-bench.mjs`. Exports run() for the repository's bench runner.
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Parser as XmppXmlParser } from '@xmpp/xml';
import { StreamParser, serialize } from '../dist/index.js';

const TARGET_BYTES = 10 * 1024 * 1024;
const ITERATIONS = 9;

/** mulberry32: a tiny seeded PRNG so the stream and the chunking are the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = [
  'hello', 'world', 'meeting', 'tomorrow', 'at', 'noon', 'see', 'you', 'there', 'thanks', 'ok', 'sure',
  'Grüße', 'aus', 'München', 'привет', 'как', 'дела', '你好', '世界', 'こんにちは', '😀', '👍🏽', '🎉',
  '&amp;', '&lt;3', '&quot;quoted&quot;', 'l&apos;été', '&#x263A;', '&#233;t&#233;',
];
const SHOWS = ['away', 'chat', 'dnd', 'xa'];
const GROUPS = ['Friends', 'Work', 'Family', 'Ünïcödé', 'Коллеги'];

export function generateClientStream(targetBytes = TARGET_BYTES, seed = 0x5eed) {
  const rand = prng(seed);
  const pick = (list) => list[Math.floor(rand() * list.length)];
  const id = () => Math.floor(rand() * 0xffffffff).toString(36);
  const jid = () => `${pick(['romeo', 'juliet', 'benvolio', 'mercutio', 'nurse'])}${Math.floor(rand() * 1000)}@example.com`;
  const sentence = (n) => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const parts = [
    "<?xml version='1.0' encoding='UTF-8'?>",
    "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " +
      "to='example.com' version='1.0' xml:lang='en'>",
  ];
  let size = parts.join('').length;
  let h = 0;
  while (size < targetBytes) {
    const r = rand();
    let s;
    if (r < 0.4) {
      s =
        `<message type='chat' to='${jid()}/phone' id='${id()}' xml:lang='en'>` +
        `<body>${sentence(3 + Math.floor(rand() * 25))}</body>` +
        "<request xmlns='urn:xmpp:receipts'/><active xmlns='http://jabber.org/protocol/chatstates'/>" +
        `<origin-id xmlns='urn:xmpp:sid:0' id='${id()}-${id()}'/></message>`;
    } else if (r < 0.5) {
      s =
        `<message to='${jid()}' id='${id()}'><received xmlns='urn:xmpp:receipts' id='${id()}'/></message>` +
        `<message type='chat' to='${jid()}'><composing xmlns="http://jabber.org/protocol/chatstates"/></message>`;
    } else if (r < 0.7) {
      s =
        `<presence><show>${pick(SHOWS)}</show><status>${sentence(2 + Math.floor(rand() * 6))}</status>` +
        `<priority>${Math.floor(rand() * 10)}</priority>` +
        "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://conversations.im' " +
        `ver='${id()}${id()}='/></presence>`;
    } else if (r < 0.78) {
      let items = '';
      const n = 5 + Math.floor(rand() * 40);
      for (let i = 0; i < n; i++) {
        items +=
          `<item jid='${jid()}' name='${pick(WORDS)} ${pick(WORDS)}' subscription='both'>` +
          `<group>${pick(GROUPS)}</group></item>`;
      }
      s = `<iq type='result' id='${id()}' to='juliet@example.com/balcony'><query xmlns='jabber:iq:roster' ver='v${id()}'>${items}</query></iq>`;
    } else if (r < 0.88) {
      s = `<iq type='get' id='ping-${id()}' to='example.com'><ping xmlns='urn:xmpp:ping'/></iq>`;
    } else if (r < 0.95) {
      s = `<r xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='${h++}'/>`;
    } else {
      s = '\n  '; // whitespace keepalive
    }
    parts.push(s, '\n');
    size += Buffer.byteLength(s) + 1;
  }
  parts.push('</stream:stream>');
  return Buffer.from(parts.join(''), 'utf8');
}

export function chunk(buffer, seed = 42) {
  const rand = prng(seed);
  const chunks = [];
  for (let pos = 0; pos < buffer.length; ) {
    const n = 4096 + Math.floor(rand() * (65536 - 4096 + 1));
    chunks.push(buffer.subarray(pos, pos + n));
    pos += n;
  }
  return chunks;
}

function runAmbrosia(chunks) {
  let elements = 0;
  let error = null;
  const parser = new StreamParser({
    streamStart() {},
    element() {
      elements++;
    },
    streamEnd() {},
    error(e) {
      error = e;
    },
  });
  for (const c of chunks) parser.write(c);
  parser.end();
  if (error) throw error;
  return elements;
}

function runXmppXml(chunks) {
  let elements = 0;
  const parser = new XmppXmlParser();
  parser.on('element', () => {
    elements++;
  });
  parser.on('error', (e) => {
    throw e;
  });
  for (const c of chunks) parser.write(c);
  return elements;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Runs the two parsers alternately (so neither gets the quieter moments) and returns median MB/s. */
function measurePair(chunks, bytes) {
  const ours = [];
  const theirs = [];
  let oursCount = runAmbrosia(chunks); // warm up both
  let theirsCount = runXmppXml(chunks);
  for (let i = 0; i < ITERATIONS; i++) {
    let t0 = performance.now();
    oursCount = runAmbrosia(chunks);
    ours.push(bytes / 1e6 / ((performance.now() - t0) / 1000));
    t0 = performance.now();
    theirsCount = runXmppXml(chunks);
    theirs.push(bytes / 1e6 / ((performance.now() - t0) / 1000));
  }
  return { ours: median(ours), theirs: median(theirs), oursCount, theirsCount };
}

export async function run() {
  const stream = generateClientStream();
  const chunks = chunk(stream);
  const result = measurePair(chunks, stream.length);
  if (result.oursCount !== result.theirsCount) {
    throw new Error(`element counts differ: ambrosia ${result.oursCount}, @xmpp/xml ${result.theirsCount}`);
  }

  // Serializer throughput over the stanzas of the same stream.
  const stanzas = [];
  const collector = new StreamParser({
    streamStart() {},
    element(el) {
      stanzas.push(el);
    },
    streamEnd() {},
    error(e) {
      throw e;
    },
  });
  collector.write(stream);
  const serializeRates = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    let bytes = 0;
    for (const el of stanzas) bytes += serialize(el).length;
    serializeRates.push(bytes / 1e6 / ((performance.now() - t0) / 1000));
  }

  return [
    { name: 'xml.parse.ambrosia', value: round(result.ours), unit: 'MB/s' },
    { name: 'xml.parse.xmpp-xml', value: round(result.theirs), unit: 'MB/s' },
    { name: 'xml.parse.ratio', value: round(result.ours / result.theirs), unit: 'x' },
    { name: 'xml.serialize.ambrosia', value: round(median(serializeRates)), unit: 'MB/s' },
    { name: 'xml.parse.stream-bytes', value: stream.length, unit: 'B' },
    { name: 'xml.parse.stanzas', value: result.oursCount, unit: 'count' },
  ];
}

function round(x) {
  return Math.round(x * 100) / 100;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await run();
  for (const r of results) console.log(`${r.name.padEnd(28)} ${String(r.value).padStart(12)} ${r.unit}`);
}
