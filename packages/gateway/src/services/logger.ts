// The hub logs through one function, as the stream package does: events are stable names,
// fields are flat values (client-supplied identifiers only under fixed keys).
export type HubLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type HubLogger = (level: HubLogLevel, event: string, fields?: Readonly<Record<string, string | number | boolean | undefined>>) => void;

export const silentLogger: HubLogger = () => {};

/** A logger that throws must not break routing. */
export function safeLogger(logger: HubLogger | undefined): HubLogger {
  if (logger === undefined) return silentLogger;
  return (level, event, fields) => {
    try {
      logger(level, event, fields);
    } catch {
      // ignored: logging is best effort
    }
  };
}
