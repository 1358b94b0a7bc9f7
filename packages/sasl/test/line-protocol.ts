// A minimal transport for interoperability tests: one SASL message per line, the XMPP base64
// framing (RFC 6120 §6.4.2) for payloads. It stands in for the stream layer, which does the
// same with <auth/>, <challenge/>, <response/>, <success/> and <failure/> elements.
//
//   client → server   "<MECHANISM> <payload>"  first line (payload may be empty or "=")
//                     "<payload>"              later lines, or "abort"
//   server → client   "challenge <payload>" | "success <payload>" | "failure <condition>"

import { decodeSaslPayload, encodeSaslPayload, type SaslContext, type SaslServer, type SaslStep } from '../src/index.js';

export interface LineChannel {
  readLine(): Promise<string | undefined>;
  writeLine(line: string): void;
}

/** Turns a readable byte stream into a line reader (bounded, so a peer cannot grow it forever). */
export function lineReader(stream: NodeJS.ReadableStream, maxLineBytes = 64 * 1024): () => Promise<string | undefined> {
  let buffered = '';
  let ended = false;
  const waiting: Array<() => void> = [];
  const wake = () => waiting.splice(0).forEach((resolve) => resolve());
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    buffered += chunk;
    if (buffered.length > maxLineBytes && !buffered.includes('\n')) {
      ended = true;
      buffered = '';
    }
    wake();
  });
  stream.on('end', () => {
    ended = true;
    wake();
  });
  stream.on('error', () => {
    ended = true;
    wake();
  });
  return async () => {
    for (;;) {
      const newline = buffered.indexOf('\n');
      if (newline >= 0) {
        const line = buffered.slice(0, newline).replace(/\r$/, '');
        buffered = buffered.slice(newline + 1);
        return line;
      }
      if (ended) return undefined;
      await new Promise<void>((resolve) => waiting.push(resolve));
    }
  };
}

function render(step: SaslStep): string {
  switch (step.kind) {
    case 'challenge':
      return `challenge ${encodeSaslPayload(step.data)}`;
    case 'success':
      return `success ${encodeSaslPayload(step.data)}`;
    case 'failure':
      return `failure ${step.condition}`;
  }
}

/** Serve one authentication over a line channel; resolves with the final step. */
export async function serveSasl(channel: LineChannel, server: SaslServer, ctx: SaslContext): Promise<SaslStep | undefined> {
  const first = await channel.readLine();
  if (first === undefined) return undefined;
  const space = first.indexOf(' ');
  const mechanism = space < 0 ? first : first.slice(0, space);
  const decoded = decodeSaslPayload(space < 0 ? '' : first.slice(space + 1));
  let step: SaslStep = decoded.ok
    ? await server.start(mechanism, decoded.data, ctx)
    : { kind: 'failure', condition: decoded.condition };
  for (;;) {
    channel.writeLine(render(step));
    if (step.kind !== 'challenge') return step;
    const line = await channel.readLine();
    if (line === undefined) return undefined;
    if (line === 'abort') {
      step = server.abort();
      continue;
    }
    const response = decodeSaslPayload(line);
    step = response.ok ? await server.step(response.data) : { kind: 'failure', condition: response.condition };
  }
}
