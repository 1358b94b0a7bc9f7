import { StreamParser, serialize } from '../src/index.js';
import type { StreamHeader, XmlLimits, XmlStreamError } from '../src/index.js';
import type { Element } from '../src/index.js';

/** What a stream produced, in a form that compares with toEqual. */
export type ParseEvent =
  | { type: 'start'; name: string; namespace: string; attrs: Record<string, string>; namespaces: Record<string, string> }
  | { type: 'element'; xml: string }
  | { type: 'end' }
  | { type: 'error'; condition: string; code: string };

export interface Transcript {
  events: ParseEvent[];
  elements: Element[];
  headers: StreamHeader[];
  errors: XmlStreamError[];
}

export function newTranscript(): Transcript {
  return { events: [], elements: [], headers: [], errors: [] };
}

export function recordingParser(t: Transcript, limits?: Partial<XmlLimits>): StreamParser {
  return new StreamParser(
    {
      streamStart(header) {
        t.headers.push(header);
        t.events.push({
          type: 'start',
          name: header.name,
          namespace: header.namespace,
          attrs: { ...header.attrs },
          namespaces: { ...header.namespaces },
        });
      },
      element(el) {
        t.elements.push(el);
        t.events.push({ type: 'element', xml: serialize(el) });
      },
      streamEnd() {
        t.events.push({ type: 'end' });
      },
      error(err) {
        t.errors.push(err);
        t.events.push({ type: 'error', condition: err.condition, code: err.code });
      },
    },
    limits,
  );
}

/** Feeds `chunks` then end(); never lets an exception escape unnoticed (write/end must not throw). */
export function parseChunks(chunks: Buffer[], limits?: Partial<XmlLimits>): Transcript {
  const t = newTranscript();
  const parser = recordingParser(t, limits);
  for (const chunk of chunks) parser.write(chunk);
  parser.end();
  return t;
}

export function parseWhole(input: Buffer | string, limits?: Partial<XmlLimits>): Transcript {
  return parseChunks([typeof input === 'string' ? Buffer.from(input) : input], limits);
}

/** Splits at the given offsets (sorted, within bounds). */
export function splitAt(buf: Buffer, offsets: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let last = 0;
  for (const o of offsets) {
    chunks.push(buf.subarray(last, o));
    last = o;
  }
  chunks.push(buf.subarray(last));
  return chunks;
}

export function bytewise(buf: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i++) chunks.push(buf.subarray(i, i + 1));
  return chunks;
}

export function chunked(buf: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) chunks.push(buf.subarray(i, i + size));
  return chunks;
}

/** Asserts-free helper: the events for every single split point (and every pair when `pairs`). */
export function* splits(buf: Buffer, pairs: boolean): Generator<Buffer[]> {
  for (let i = 0; i <= buf.length; i++) yield splitAt(buf, [i]);
  if (pairs) {
    for (let i = 1; i < buf.length; i++) for (let j = i + 1; j < buf.length; j++) yield splitAt(buf, [i, j]);
  }
}

export const STREAM_NS = 'http://etherx.jabber.org/streams';
export const CLIENT_HEADER =
  "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>";
