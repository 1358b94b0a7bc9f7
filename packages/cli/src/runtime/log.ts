// Logs of the long-running roles: pino, one JSON object per line on standard output (or one
// human line per event with `log.pretty`). The gateway and the service SDK log through small
// adapters: fixed event names, fields chosen by our code, per-session child loggers bound only
// with fixed keys, and never a SASL payload or a password (they are never passed, and the
// redaction list below would blank them if they ever were).
import { hostname } from 'node:os';
import { Writable } from 'node:stream';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { GatewayLogger } from '@ambrosia/gateway';
import type { LogConfig } from '@ambrosia/config';

/** Longest text value written for one field; longer ones are cut (they could come from a peer). */
export const MAX_FIELD_CHARS = 256;
/** Per-session child loggers kept; beyond it the least recently created is dropped (made again on next use). */
export const MAX_SESSION_LOGGERS = 10_000;
/** Field names a log line may carry: lower camelCase identifiers, so no peer-chosen name becomes a key. */
const FIELD_NAME = /^[a-z][A-Za-z0-9]{0,31}$/;
/** Keys pino or our adapters own: a field never overwrites them. */
const RESERVED = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'event', 'role', 'session', 'gateway', 'worker']);
/** Blanked wherever they appear (defence in depth: no code path logs them). */
export const REDACTED_KEYS = ['password', 'payload', 'response', 'challenge', 'initialResponse', 'authzid', 'secret', 'key', 'credentials', 'saslData'];
/** Events after which a session's child logger is no longer needed. */
const SESSION_END_EVENTS = new Set(['session-closed', 'stream-closed']);

export interface RuntimeLog {
  /** The process logger; bindings: role (and worker in a gateway worker). */
  logger: Logger;
  /** The gateway's `logger` option. */
  gateway(): GatewayLogger;
  /** The service SDK's (and createImService's) `onError`. */
  serviceErrors(): (error: Error) => void;
  /** Writes what is buffered (before exit). */
  flush(): void;
}

export interface CreateLogOptions {
  config: LogConfig;
  role: 'gateway' | 'gateway-primary' | 'im-service';
  /** Extra fixed bindings (worker number). */
  bindings?: Record<string, string | number>;
  /** Where lines go; default standard output. */
  write?: (line: string) => void;
}

function truncate(value: string): string {
  return value.length > MAX_FIELD_CHARS ? `${value.slice(0, MAX_FIELD_CHARS)}…` : value;
}

/** Fields our code passed, checked again: safe names, bounded values, nothing reserved. */
export function cleanFields(fields: Readonly<Record<string, unknown>> | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  if (fields === undefined) return out;
  for (const [name, value] of Object.entries(fields)) {
    if (!FIELD_NAME.test(name) || RESERVED.has(name)) continue;
    if (typeof value === 'string') out[name] = truncate(value);
    else if (typeof value === 'number' || typeof value === 'boolean') out[name] = value;
  }
  return out;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** `12:00:01.234 INFO  gateway-started gateway=gw-1 c2s=5222` */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const { level, time, event, pid: _pid, hostname: _hostname, ...rest } = record;
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const label = typeof level === 'string' ? level.toUpperCase() : LEVEL_NAMES[level as number] ?? String(level);
  const pairs = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  return `${clock} ${label.padEnd(5)} ${String(event ?? '')}${pairs.length > 0 ? ` ${pairs.join(' ')}` : ''}\n`;
}

function destination(options: CreateLogOptions): DestinationStream {
  const pretty = options.config.pretty;
  const write = options.write;
  if (write === undefined && !pretty) return pino.destination({ dest: 1, sync: true });
  const out = write ?? ((line: string) => process.stdout.write(line));
  return new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      const text = chunk.toString();
      out(pretty ? prettyLine(text.trimEnd()) : text);
      done();
    },
  });
}

export function createRuntimeLog(options: CreateLogOptions): RuntimeLog {
  const logger = pino(
    {
      level: options.config.level,
      base: { pid: process.pid, hostname: hostname(), role: options.role, ...options.bindings },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACTED_KEYS, ...REDACTED_KEYS.map((k) => `*.${k}`)], censor: '[redacted]' },
    },
    destination(options),
  );
  const sessions = new Map<string, Logger>();
  const sessionLogger = (session: string): Logger => {
    let child = sessions.get(session);
    if (child === undefined) {
      if (sessions.size >= MAX_SESSION_LOGGERS) sessions.delete(sessions.keys().next().value!);
      // The binding key is fixed and the value is the id the gateway generated, never a JID.
      child = logger.child({ session: truncate(session) });
      sessions.set(session, child);
    }
    return child;
  };
  return {
    logger,
    gateway: () => (level, event, fields) => {
      const session = typeof fields?.session === 'string' ? fields.session : undefined;
      // Debug events come per stanza: below the level, neither a child logger nor the fields are made.
      if (logger.isLevelEnabled(level)) {
        const target = session === undefined ? logger : sessionLogger(session);
        const gatewayId = typeof fields?.gateway === 'string' ? { gateway: truncate(fields.gateway) } : {};
        target[level]({ event, ...gatewayId, ...cleanFields(fields) });
      }
      if (session !== undefined && SESSION_END_EVENTS.has(event)) sessions.delete(session);
    },
    serviceErrors: () => (error: Error) => {
      const { code, gateway, cause } = error as Error & { code?: unknown; gateway?: unknown; cause?: unknown };
      const causeName = typeof cause === 'object' && cause !== null ? ((cause as { code?: unknown }).code ?? (cause as { name?: unknown }).name) : undefined;
      logger.warn({
        event: 'service-error',
        ...(typeof code === 'string' ? { code } : {}),
        ...(typeof gateway === 'string' ? { gateway: truncate(gateway) } : {}),
        ...(typeof causeName === 'string' ? { cause: truncate(causeName) } : {}),
        // The SDK's own sentence (host, port, codes); a handler's error is named by its cause only.
        error: truncate(code === 'handler-failed' ? 'a handler failed' : error.message),
      });
    },
    flush: () => {
      try {
        logger.flush();
      } catch {
        // nothing buffered to a closed stream matters at exit
      }
    },
  };
}
