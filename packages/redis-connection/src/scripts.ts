// Lua scripts as named commands: ioredis runs each with EVALSHA and falls back to EVAL when the
// server's script cache is empty (after a restart or a failover), so callers never see NOSCRIPT.

import type { RedisConnection } from './connection.js';

export interface ScriptDefinition {
  /** How many of the arguments are keys (KEYS), the rest being ARGV. */
  numberOfKeys: number;
  lua: string;
}

/**
 * Lua helpers every adapter's scripts start with: `now_ms()`, the server's clock (TIME; Redis >= 5
 * replicates script effects, so that is safe), and `int(n)`, an integer as a decimal string
 * (redis.call and cjson print numbers with 14 significant digits only).
 */
export const LUA_PRELUDE = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function int(n)
  return string.format('%d', n)
end
`;

export type ScriptCaller = (...args: Array<string | number>) => Promise<unknown>;

/** Defines every script on the connection and returns a caller per name, bound to it. */
export function defineScripts<Name extends string>(connection: RedisConnection, scripts: Record<Name, ScriptDefinition>): Record<Name, ScriptCaller> {
  const callers = {} as Record<Name, ScriptCaller>;
  for (const name of Object.keys(scripts) as Name[]) {
    connection.defineCommand(name, scripts[name]);
    const method = (connection as unknown as Record<string, unknown>)[name];
    if (typeof method !== 'function') throw new Error(`ioredis did not define the script command ${name}`);
    callers[name] = (method as ScriptCaller).bind(connection);
  }
  return callers;
}
