// Observability of the edge: fixed event names and fields, never stanza content, SASL payloads
// or passwords (the stream package's rule). Compatible with @ambrosia/stream's StreamLogger.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, string | number | boolean | undefined>>;
export type GatewayLogger = (level: LogLevel, event: string, fields?: LogFields) => void;

export const silentLogger: GatewayLogger = () => {};

/** A logger that never throws into the caller. */
export function safeLogger(logger: GatewayLogger | undefined): GatewayLogger {
  if (logger === undefined) return silentLogger;
  return (level, event, fields) => {
    try {
      logger(level, event, fields);
    } catch {
      // A broken logger must not break the gateway.
    }
  };
}

/** A short name for an error in logs: its code when it has one (never its message, which may quote input). */
export function errorName(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return typeof error;
}
