import { describe, expect, it } from 'vitest';
import { encodeCommand, parseReply, type RespValue } from '../src/resp.js';
import { RedisReplyError } from '../src/errors.js';

function parseAll(bytes: Buffer): RespValue[] {
  const values: RespValue[] = [];
  let offset = 0;
  for (;;) {
    const parsed = parseReply(bytes, offset);
    if (parsed === undefined) break;
    values.push(parsed.value);
    offset = parsed.end;
  }
  expect(offset).toBe(bytes.length);
  return values;
}

describe('RESP2 codec', () => {
  it('encodes a command as an array of bulk strings, counting bytes not characters', () => {
    expect(encodeCommand(['SET', 'clé', 42]).toString('utf8')).toBe('*3\r\n$3\r\nSET\r\n$4\r\nclé\r\n$2\r\n42\r\n');
  });

  const wire = Buffer.from(
    '+OK\r\n' +
      '-READONLY You can\'t write against a read only replica.\r\n' +
      ':-12\r\n' +
      '$-1\r\n' +
      '*-1\r\n' +
      '$6\r\nhé\r\nx\r\n' + // a bulk string holding CRLF and a 2-byte character
      '*3\r\n$1\r\na\r\n*2\r\n:1\r\n$0\r\n\r\n+b\r\n',
    'utf8',
  );

  it('decodes every reply type', () => {
    const values = parseAll(wire);
    expect(values[0]).toBe('OK');
    expect(values[1]).toBeInstanceOf(RedisReplyError);
    expect((values[1] as RedisReplyError).prefix).toBe('READONLY');
    expect((values[1] as RedisReplyError).code).toBe('ERR_REDIS_REPLY');
    expect(values.slice(2)).toEqual([-12, null, null, 'hé\r\nx', ['a', [1, ''], 'b']]);
  });

  it('waits for more bytes at every split point, then yields the same values', () => {
    const whole = parseAll(wire);
    for (let cut = 0; cut < wire.length; cut += 1) {
      // Parsing the prefix must never throw nor produce a value past the cut.
      const head = wire.subarray(0, cut);
      let offset = 0;
      for (;;) {
        const parsed = parseReply(head, offset);
        if (parsed === undefined) break;
        expect(parsed.end).toBeLessThanOrEqual(cut);
        offset = parsed.end;
      }
      // Appending the rest completes exactly the same replies.
      const resumed = parseAll(Buffer.concat([head, wire.subarray(cut)]));
      expect(resumed).toEqual(whole);
    }
  });

  it('rejects bytes that are not RESP2, and lengths beyond its bounds', () => {
    expect(() => parseReply(Buffer.from('?what\r\n'))).toThrow(expect.objectContaining({ code: 'ERR_REDIS_PROTOCOL' }));
    expect(() => parseReply(Buffer.from(':12x\r\n'))).toThrow(expect.objectContaining({ code: 'ERR_REDIS_PROTOCOL' }));
    expect(() => parseReply(Buffer.from('$999999999\r\n'))).toThrow(expect.objectContaining({ code: 'ERR_REDIS_PROTOCOL' }));
    expect(() => parseReply(Buffer.from('$1\r\nab\r\n'))).toThrow(expect.objectContaining({ code: 'ERR_REDIS_PROTOCOL' }));
    expect(() => parseReply(Buffer.from(`${'*1\r\n'.repeat(40)}:1\r\n`))).toThrow(expect.objectContaining({ code: 'ERR_REDIS_PROTOCOL' }));
    expect(() => parseReply(Buffer.from(`+${'a'.repeat(70_000)}`))).toThrow(expect.objectContaining({ code: 'ERR_REDIS_PROTOCOL' }));
  });
});
