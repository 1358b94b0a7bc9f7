/**
 * A deliberately tiny RESP2 client for administration: readiness probes, INFO, SENTINEL and CLUSTER
 * commands. One short-lived connection per call, no reconnects, no retries: the caller decides
 * what a failure means (a readiness probe retries, a teardown gives up). Tests that exercise Redis
 * itself use a real client (ioredis); this one keeps the package free of npm dependencies, so the
 * launcher also runs where only Node is present.
 *
 * Protocol: RESP2 as specified at https://redis.io/docs/latest/develop/reference/protocol-spec/
 * (arrays of bulk strings out; simple strings, errors, integers, bulk strings and arrays in).
 */
import { connect } from 'node:net';
import { RedisReplyError, TestingRedisError } from './errors.js';

/** A decoded reply. Bulk strings are decoded as UTF-8; nil bulk strings and nil arrays are `null`. */
export type RespValue = string | number | null | RedisReplyError | RespValue[];

export type RespArgument = string | number | Buffer;

export interface RedisAddress {
  /** Defaults to 127.0.0.1. */
  host?: string;
  port: number;
}

export interface CommandOptions {
  /** Bound on connect + all replies, in milliseconds. Default 5000. */
  timeoutMs?: number;
  /** Abandons the call (closing its connection) when aborted. */
  signal?: AbortSignal;
}

/** Bytes buffered for the replies of one call; beyond it the call fails (admin replies are small). */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;
/** Longest header line (`+OK`, `-ERR ...`, `$123`) accepted before its CRLF. */
const MAX_LINE_BYTES = 64 * 1024;
/** Deepest nesting of arrays accepted (CLUSTER SLOTS uses 3 levels). */
const MAX_DEPTH = 16;
/** Most elements accepted in one array. */
const MAX_ARRAY_LENGTH = 1 << 20;
const DEFAULT_TIMEOUT_MS = 5000;

export function encodeCommand(args: readonly RespArgument[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.isBuffer(arg) ? arg : Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

interface Parsed {
  value: RespValue;
  end: number;
}

function protocolError(message: string): TestingRedisError {
  return new TestingRedisError('ERR_REDIS_PROTOCOL', `RESP: ${message}`);
}

function parseInteger(text: string): number {
  if (!/^-?\d{1,16}$/.test(text)) throw protocolError(`bad integer ${JSON.stringify(text.slice(0, 32))}`);
  return Number(text);
}

/**
 * Parses one value starting at `offset`; undefined when `buffer` does not hold all of it yet.
 * Incomplete input is not an error: the caller appends the next chunk and parses again.
 */
export function parseReply(buffer: Buffer, offset = 0, depth = 0): Parsed | undefined {
  if (offset >= buffer.length) return undefined;
  if (depth > MAX_DEPTH) throw protocolError(`arrays nested deeper than ${MAX_DEPTH}`);
  const lineEnd = buffer.indexOf('\r\n', offset + 1, 'latin1');
  if (lineEnd === -1) {
    if (buffer.length - offset > MAX_LINE_BYTES) throw protocolError(`line longer than ${MAX_LINE_BYTES} bytes`);
    return undefined;
  }
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (buffer[offset]) {
    case 0x2b /* + */:
      return { value: line, end: afterLine };
    case 0x2d /* - */:
      return { value: new RedisReplyError(line), end: afterLine };
    case 0x3a /* : */:
      return { value: parseInteger(line), end: afterLine };
    case 0x24 /* $ */: {
      const length = parseInteger(line);
      if (length === -1) return { value: null, end: afterLine };
      if (length < 0 || length > MAX_REPLY_BYTES) throw protocolError(`bulk length ${length} out of bounds`);
      const end = afterLine + length + 2;
      if (buffer.length < end) return undefined;
      if (buffer[end - 2] !== 0x0d || buffer[end - 1] !== 0x0a) throw protocolError('bulk string not followed by CRLF');
      return { value: buffer.toString('utf8', afterLine, afterLine + length), end };
    }
    case 0x2a /* * */: {
      const count = parseInteger(line);
      if (count === -1) return { value: null, end: afterLine };
      if (count < 0 || count > MAX_ARRAY_LENGTH) throw protocolError(`array length ${count} out of bounds`);
      const items: RespValue[] = [];
      let cursor = afterLine;
      for (let index = 0; index < count; index += 1) {
        const item = parseReply(buffer, cursor, depth + 1);
        if (item === undefined) return undefined;
        items.push(item.value);
        cursor = item.end;
      }
      return { value: items, end: cursor };
    }
    default:
      throw protocolError(`unknown type byte 0x${(buffer[offset] ?? 0).toString(16)}`);
  }
}

/**
 * Sends `commands` pipelined on one fresh connection and resolves with one reply per command, in
 * order. Error replies come back as `RedisReplyError` values, not rejections, so a MULTI/EXEC
 * block or a batch can be inspected as a whole. Rejects (code ERR_REDIS_CONNECTION) when the
 * connection fails or `timeoutMs` passes first.
 */
export function sendCommands(
  address: RedisAddress,
  commands: ReadonlyArray<readonly RespArgument[]>,
  options: CommandOptions = {},
): Promise<RespValue[]> {
  const host = address.host ?? '127.0.0.1';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = `${host}:${address.port}`;
  return new Promise<RespValue[]>((resolve, reject) => {
    const replies: RespValue[] = [];
    let pending: Buffer = Buffer.alloc(0);
    let settled = false;
    const socket = connect({ host, port: address.port });
    socket.setNoDelay(true);

    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    const timer = setTimeout(() => {
      finish(new TestingRedisError('ERR_REDIS_CONNECTION', `${where}: no complete reply within ${timeoutMs} ms`));
    }, timeoutMs);
    const onAbort = (): void => finish(new TestingRedisError('ERR_REDIS_CONNECTION', `${where}: abandoned`));
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });

    socket.on('connect', () => {
      socket.write(Buffer.concat(commands.map((args) => encodeCommand(args))));
    });
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (pending.length > MAX_REPLY_BYTES) {
        finish(protocolError(`${where}: replies exceed ${MAX_REPLY_BYTES} bytes`));
        return;
      }
      try {
        let parsed = parseReply(pending);
        while (parsed !== undefined) {
          replies.push(parsed.value);
          pending = pending.subarray(parsed.end);
          if (replies.length === commands.length) {
            finish(undefined);
            return;
          }
          parsed = parseReply(pending);
        }
      } catch (error) {
        finish(error as Error);
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      finish(new TestingRedisError('ERR_REDIS_CONNECTION', `${where}: ${error.code ?? error.message}`, { cause: error }));
    });
    socket.on('close', () => {
      finish(new TestingRedisError('ERR_REDIS_CONNECTION', `${where}: connection closed after ${replies.length} of ${commands.length} replies`));
    });
    if (commands.length === 0) finish(undefined);
  });
}

/** Sends one command; an error reply rejects with a `RedisReplyError` (code ERR_REDIS_REPLY). */
export async function sendCommand(
  address: RedisAddress,
  args: readonly RespArgument[],
  options: CommandOptions = {},
): Promise<RespValue> {
  const [reply] = await sendCommands(address, [args], options);
  if (reply instanceof RedisReplyError) throw reply;
  return reply ?? null;
}

/** Parses `INFO` output into field → value (section headers and blank lines dropped). */
export function parseInfo(text: RespValue): Map<string, string> {
  const fields = new Map<string, string>();
  if (typeof text !== 'string') return fields;
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** Turns a flat `[field, value, field, value...]` reply (SENTINEL MASTER) into a map. */
export function pairsToMap(reply: RespValue): Map<string, string> {
  const fields = new Map<string, string>();
  if (!Array.isArray(reply)) return fields;
  for (let index = 0; index + 1 < reply.length; index += 2) {
    const field = reply[index];
    const value = reply[index + 1];
    if (typeof field === 'string') fields.set(field, typeof value === 'string' ? value : String(value));
  }
  return fields;
}
