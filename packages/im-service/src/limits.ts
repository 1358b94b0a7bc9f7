// The IM service's own bounds (the store's per-account bounds are in @ambrosia/im-store). Every
// one: its default and what happens when it is reached (README.md, "Limits").

export interface ImServiceLimits {
  /** Offline messages delivered per page at initial presence (XEP-0160). Default 100. */
  offlineBatch?: number;
  /** Pages delivered in one flush; the rest waits for the next initial presence. Default 50. */
  offlinePagesPerFlush?: number;
  /** Offline flushes running at once on this instance; beyond it a flush is skipped (messages stay stored). Default 1000. */
  maxConcurrentFlushes?: number;
  /** Waiting for the delivery reports of one offline page; after it, the unreported rest stays stored. Default 120 s. */
  offlineReportTimeoutMs?: number;
  /** JIDs in one XEP-0191 block/unblock request. More: bad-request (the store's per-call bound). Default 1000. */
  maxBlockItemsPerRequest?: number;
  /** Bytes of a stanza body the service stores offline or archives (the store has its own byte bounds). Default 256 KiB. */
  maxStoredStanzaBytes?: number;
  /** Contacts probed at once when a user comes online (probes beyond it wait for the previous batch). Default 64. */
  probeConcurrency?: number;
  /** Entities one resource's directed presence is remembered for (RFC 6121 §4.6.3); the oldest is forgotten beyond it. Default 100. */
  maxDirectedPresences?: number;
  /** Waiting for `stop()` to see running offline flushes end. Default 5 s. */
  stopTimeoutMs?: number;
}

export type ResolvedImServiceLimits = Required<ImServiceLimits>;

export const DEFAULT_IM_SERVICE_LIMITS: Readonly<ResolvedImServiceLimits> = Object.freeze({
  offlineBatch: 100,
  offlinePagesPerFlush: 50,
  maxConcurrentFlushes: 1000,
  offlineReportTimeoutMs: 120_000,
  maxBlockItemsPerRequest: 1000,
  maxStoredStanzaBytes: 256 * 1024,
  probeConcurrency: 64,
  maxDirectedPresences: 100,
  stopTimeoutMs: 5000,
});

export function resolveImServiceLimits(limits: ImServiceLimits = {}): ResolvedImServiceLimits {
  const resolved: ResolvedImServiceLimits = { ...DEFAULT_IM_SERVICE_LIMITS };
  for (const [name, value] of Object.entries(limits) as Array<[keyof ImServiceLimits, unknown]>) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_IM_SERVICE_LIMITS)) throw new TypeError(`unknown IM service limit ${name}`);
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) throw new TypeError(`limit ${name} must be a positive integer`);
    resolved[name] = value;
  }
  return resolved;
}
