// Types of ambrosia-system.mjs, for the TypeScript tests that use it.
export interface AmbrosiaSystem {
  host: string;
  port: number;
  caPem: string;
  scramSeeds: Array<{ hash: 'sha1'; username: string; password: string; saltBase64: string; iterations: number; saltedPassword: Buffer }>;
  stop(): Promise<void>;
}
export function startAmbrosiaSystem(options: {
  users: ReadonlyArray<{ username: string; password: string }>;
  domain?: string;
  iterations?: number;
  /** Gateway, service and IM warnings and errors as JSON lines on stderr. */
  log?: boolean;
}): Promise<AmbrosiaSystem | { pending: string }>;
