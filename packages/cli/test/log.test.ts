// The pino adapter: JSON lines, per-session child loggers bound with fixed keys, fields checked
// again (names, sizes), secrets blanked, the SDK's errors without their causes' text.
import { describe, expect, it } from 'vitest';
import { createRuntimeLog, MAX_FIELD_CHARS, prettyLine } from '../src/runtime/log.js';

function capture(level: 'debug' | 'info' = 'debug', pretty = false) {
  const lines: string[] = [];
  const log = createRuntimeLog({ config: { level, pretty }, role: 'gateway', bindings: { worker: 2 }, write: (line) => lines.push(line) });
  const records = (): Array<Record<string, unknown>> => lines.join('').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, records };
}

describe('runtime log', () => {
  it('writes one JSON line per event with the level name, role, worker and event', () => {
    const { log, records } = capture('info');
    log.gateway()('info', 'gateway-started', { gateway: 'gw-1', c2s: 5222 });
    log.gateway()('debug', 'below-the-level', {});
    const [record] = records();
    expect(records()).toHaveLength(1);
    expect(record).toMatchObject({ level: 'info', role: 'gateway', worker: 2, event: 'gateway-started', gateway: 'gw-1', c2s: 5222, pid: process.pid });
    expect(typeof record!.time).toBe('string');
  });

  it('logs session events through a child bound with the fixed key `session` only', () => {
    const { log, records } = capture();
    const logger = log.gateway();
    logger('info', 'stream-authenticated', { session: 's-1', mechanism: 'PLAIN' });
    logger('debug', 'stream-sm-enabled', { session: 's-1', resumable: true });
    logger('info', 'stream-closed', { session: 's-1', reason: 'normal' });
    const lines = records();
    expect(lines.map((r) => [r.session, r.event])).toEqual([
      ['s-1', 'stream-authenticated'],
      ['s-1', 'stream-sm-enabled'],
      ['s-1', 'stream-closed'],
    ]);
    expect(Object.keys(lines[0]!).sort()).toEqual(['event', 'hostname', 'level', 'mechanism', 'pid', 'role', 'session', 'time', 'worker']);
  });

  it('drops field names that are not fixed identifiers or that would overwrite ours, and cuts long values', () => {
    const { log, records } = capture();
    log.gateway()('warn', 'odd', {
      'romeo@example.org': 'x',
      'with space': 'x',
      level: 'fatal',
      event: 'forged',
      role: 'admin',
      reason: 'y'.repeat(1000),
      ok: true,
    });
    const [record] = records();
    expect(record).toMatchObject({ level: 'warn', event: 'odd', role: 'gateway', ok: true });
    expect(record).not.toHaveProperty('romeo@example.org');
    expect(record).not.toHaveProperty('with space');
    expect((record!.reason as string).length).toBe(MAX_FIELD_CHARS + 1);
  });

  it('blanks secrets wherever they would appear', () => {
    const { log, lines } = capture();
    log.logger.info({ event: 'x', password: 'hunter2', nested: { payload: 'AGp1bGlldAByMG0zMA==' }, secret: 'abc' });
    const text = lines.join('');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('AGp1bGlldAByMG0zMA==');
    expect(text).not.toContain('"abc"');
    expect(text).toContain('[redacted]');
  });

  it('logs service SDK errors by code, without a failing handler’s text', () => {
    const { log, records } = capture();
    const onError = log.serviceErrors();
    onError(Object.assign(new Error('cannot reach gateway gw-1 (127.0.0.1:5347): ECONNREFUSED'), { code: 'gateway-link', gateway: 'gw-1', cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }));
    onError(Object.assign(new Error('handler failed: <message><body>private words</body></message>'), { code: 'handler-failed', cause: new TypeError('private words') }));
    const [link, handler] = records();
    expect(link).toMatchObject({ level: 'warn', event: 'service-error', code: 'gateway-link', gateway: 'gw-1', cause: 'ECONNREFUSED' });
    expect(handler).toMatchObject({ code: 'handler-failed', cause: 'TypeError', error: 'a handler failed' });
    expect(JSON.stringify(handler)).not.toContain('private words');
  });

  it('prints one human line per event with log.pretty', () => {
    const { log, lines } = capture('info', true);
    log.gateway()('warn', 'gateway-stop-timeout', { gateway: 'gw-1', sessions: 3 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} WARN  gateway-stop-timeout role=gateway worker=2 gateway=gw-1 sessions=3\n$/);
    expect(prettyLine('not json')).toBe('not json');
  });
});
