// Lua scripts: every compare-and-set the registry needs, atomic on the server. Each script names
// its keys in KEYS and all of them share one hash tag (one Redis Cluster slot).
//
// Time is the server's (TIME; Redis >= 5 replicates script effects, so that is safe): leases are
// judged by one clock whatever the skew between nodes. Integers that must stay exact (times,
// epochs, sequences) travel inside JSON as decimal strings: cjson prints numbers with 14
// significant digits only.

import { LUA_PRELUDE as PRELUDE, type ScriptDefinition } from '@ambrosia/redis-connection';

// Gateways: one hash; per gateway id the fields i:<id> (announcement JSON), e:<id> (lease end),
// s:<id> (start of this incarnation), n:<id> (incarnation).
const PURGE_GATEWAYS = `
local function purge_gateways(key, now)
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local field = all[i]
    if string.sub(field, 1, 2) == 'e:' and tonumber(all[i + 1]) <= now then
      local id = string.sub(field, 3)
      redis.call('HDEL', key, 'i:' .. id, 'e:' .. id, 's:' .. id, 'n:' .. id)
    end
  end
end
`;

const SESSIONS = `
-- Drops entries whose lease ended; returns the decoded live entries, their raw JSON, the latest lease end.
local function live_sessions(key, now)
  local all = redis.call('HGETALL', key)
  local entries, raws, latest = {}, {}, 0
  for i = 1, #all, 2 do
    local e = cjson.decode(all[i + 1])
    local lease = tonumber(e.l)
    if lease <= now then
      redis.call('HDEL', key, all[i])
    else
      entries[all[i]] = e
      raws[all[i]] = all[i + 1]
      if lease > latest then latest = lease end
    end
  end
  return entries, raws, latest
end
local function expire_at_latest(key, entries, now)
  local latest = 0
  for _, e in pairs(entries) do
    local lease = tonumber(e.l)
    if lease > latest then latest = lease end
  end
  if latest > now then redis.call('PEXPIRE', key, int(latest - now)) end
end
`;


export const SCRIPTS = {
  // KEYS: gateways. ARGV: id, incarnation, announcement JSON, ttl.
  // -> {now, startedAt, expiresAt, previous JSON|nil, previous lease end|nil, previous start|nil, previous incarnation|nil}
  gatewayPut: {
    numberOfKeys: 1,
    lua: `${PRELUDE}${PURGE_GATEWAYS}
local key, id, inc, json, ttl = KEYS[1], ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local now = now_ms()
purge_gateways(key, now)
local prev = redis.call('HMGET', key, 'i:' .. id, 'e:' .. id, 's:' .. id, 'n:' .. id)
local started = now
if prev[4] == inc and prev[3] then started = tonumber(prev[3]) end
local expires = now + ttl
redis.call('HSET', key, 'i:' .. id, json, 'e:' .. id, int(expires), 's:' .. id, int(started), 'n:' .. id, inc)
return {int(now), int(started), int(expires), prev[1], prev[2], prev[3], prev[4]}`,
  },
  // KEYS: gateways. ARGV: id, incarnation, ttl. -> 1 renewed, 0 missing/expired/another incarnation
  gatewayRenew: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local key, id, inc, ttl = KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local cur = redis.call('HMGET', key, 'e:' .. id, 'n:' .. id)
if not cur[1] or tonumber(cur[1]) <= now or cur[2] ~= inc then return 0 end
redis.call('HSET', key, 'e:' .. id, int(now + ttl))
return 1`,
  },
  // KEYS: gateways. ARGV: id, incarnation or ''. -> 1 if a live lease was removed
  gatewayRemove: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local key, id, inc = KEYS[1], ARGV[1], ARGV[2]
local now = now_ms()
local cur = redis.call('HMGET', key, 'e:' .. id, 'n:' .. id)
if not cur[1] then return 0 end
if inc ~= '' and cur[2] ~= inc then return 0 end
redis.call('HDEL', key, 'i:' .. id, 'e:' .. id, 's:' .. id, 'n:' .. id)
if tonumber(cur[1]) > now then return 1 end
return 0`,
  },
  // Read-only. KEYS: any hash. -> {now, field, value, ...}
  hashWithTime: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local out = {int(now_ms())}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do out[#out + 1] = all[i] end
return out`,
  },

  // KEYS: the domain/type hash. ARGV: instanceId, gatewayId, weight, draining 1|0, epoch or '', epochFloor, ttl.
  // Value JSON: {w: weight, d: draining, e: "epoch", u: "updatedAt", g: {gatewayId: "lease end"}}.
  // -> {now, instance JSON, accepted 1|0, joined 1|0}
  serviceRegister: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local key, inst, gw = KEYS[1], ARGV[1], ARGV[2]
local weight, draining, epoch = tonumber(ARGV[3]), ARGV[4] == '1', ARGV[5]
local floor, ttl = tonumber(ARGV[6]), tonumber(ARGV[7])
local now = now_ms()
local all = redis.call('HGETALL', key)
local latest, rec = 0, nil
for i = 1, #all, 2 do
  local r = cjson.decode(all[i + 1])
  local live = false
  for g, e in pairs(r.g) do
    local ends = tonumber(e)
    if ends <= now then r.g[g] = nil else
      live = true
      if ends > latest then latest = ends end
    end
  end
  if all[i] == inst then
    if live then rec = r end
  elseif not live then
    redis.call('HDEL', key, all[i])
  end
end
local joined, accepted = 0, 1
if rec == nil then
  joined = 1
  local first = floor + 1
  if epoch ~= '' then first = tonumber(epoch) end
  rec = {w = weight, d = draining, e = int(first), u = int(now), g = {}}
elseif epoch ~= '' then
  local given = tonumber(epoch)
  if given >= tonumber(rec.e) then
    if given > tonumber(rec.e) or rec.w ~= weight or rec.d ~= draining then rec.u = int(now) end
    rec.w, rec.d, rec.e = weight, draining, int(given)
  else
    accepted = 0
  end
else
  rec.e = int(math.max(tonumber(rec.e), floor) + 1)
  rec.w, rec.d, rec.u = weight, draining, int(now)
end
local expires = now + ttl
rec.g[gw] = int(expires)
if expires > latest then latest = expires end
local encoded = cjson.encode(rec)
redis.call('HSET', key, inst, encoded)
redis.call('PEXPIRE', key, int(latest - now))
return {int(now), encoded, accepted, joined}`,
  },
  // KEYS: the domain/type hash. ARGV: instanceId, weight or '', draining 1|0|'', epochFloor.
  // Memberships and the key's expiry are left alone (HSET keeps the TTL). -> {now, instance JSON} or {now} if not live
  serviceSetAttributes: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local key, inst = KEYS[1], ARGV[1]
local now = now_ms()
local raw = redis.call('HGET', key, inst)
if not raw then return {int(now)} end
local r = cjson.decode(raw)
local live = false
for _, e in pairs(r.g) do if tonumber(e) > now then live = true end end
if not live then return {int(now)} end
r.e = int(math.max(tonumber(r.e), tonumber(ARGV[4])) + 1)
if ARGV[2] ~= '' then r.w = tonumber(ARGV[2]) end
if ARGV[3] ~= '' then r.d = ARGV[3] == '1' end
r.u = int(now)
local encoded = cjson.encode(r)
redis.call('HSET', key, inst, encoded)
return {int(now), encoded}`,
  },
  // KEYS: the domain/type hash. ARGV: instanceId, gatewayId or ''. -> {instance removed 1|0, instances left}
  serviceUnregister: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local key, inst, gw = KEYS[1], ARGV[1], ARGV[2]
local now = now_ms()
local raw = redis.call('HGET', key, inst)
if not raw then return {0, redis.call('HLEN', key)} end
local r = cjson.decode(raw)
local was_live = false
for _, e in pairs(r.g) do if tonumber(e) > now then was_live = true end end
if not was_live then
  redis.call('HDEL', key, inst)
  return {0, redis.call('HLEN', key)}
end
if gw ~= '' then
  r.g[gw] = nil
  local live = false
  for g, e in pairs(r.g) do
    if tonumber(e) <= now then r.g[g] = nil else live = true end
  end
  if live then
    redis.call('HSET', key, inst, cjson.encode(r))
    return {0, redis.call('HLEN', key)}
  end
end
redis.call('HDEL', key, inst)
return {1, redis.call('HLEN', key)}`,
  },

  // KEYS: the bare JID's hash. ARGV: resource, entry JSON {g, s, p, a, n}, expectation ''|'absent'|'seq', expected seq, lease.
  // -> {ok 1|0, written JSON|nil, current JSON|nil}
  sessionBind: {
    numberOfKeys: 1,
    lua: `${PRELUDE}${SESSIONS}
local key, res, mode, expected, lease = KEYS[1], ARGV[1], ARGV[3], ARGV[4], tonumber(ARGV[5])
local now = now_ms()
local entries, raws, latest = live_sessions(key, now)
local cur = entries[res]
if mode == 'absent' and cur then return {0, false, raws[res]} end
if mode == 'seq' and (not cur or tonumber(cur.q) ~= tonumber(expected)) then return {0, false, raws[res] or false} end
local seq = now
if cur and tonumber(cur.q) + 1 > seq then seq = tonumber(cur.q) + 1 end
local e = cjson.decode(ARGV[2])
e.q, e.b, e.l = int(seq), int(now), int(now + lease)
local encoded = cjson.encode(e)
redis.call('HSET', key, res, encoded)
if now + lease > latest then latest = now + lease end
redis.call('PEXPIRE', key, int(latest - now))
return {1, encoded, raws[res] or false}`,
  },
  // KEYS: the bare JID's hash. ARGV: resource, entry JSON with q and b, lease. -> 1 written, 0 superseded
  sessionReassert: {
    numberOfKeys: 1,
    lua: `${PRELUDE}${SESSIONS}
local key, res, lease = KEYS[1], ARGV[1], tonumber(ARGV[3])
local now = now_ms()
local entries, raws, latest = live_sessions(key, now)
local cur = entries[res]
local e = cjson.decode(ARGV[2])
if cur and tonumber(cur.q) > tonumber(e.q) then return 0 end
e.l = int(now + lease)
redis.call('HSET', key, res, cjson.encode(e))
if now + lease > latest then latest = now + lease end
redis.call('PEXPIRE', key, int(latest - now))
return 1`,
  },
  // KEYS: the bare JID's hash. ARGV: resource, sessionId, priority or '', available 1|0|''. -> entry JSON or nil
  sessionUpdate: {
    numberOfKeys: 1,
    lua: `${PRELUDE}${SESSIONS}
local key, res, sid = KEYS[1], ARGV[1], ARGV[2]
local now = now_ms()
local entries = live_sessions(key, now)
local cur = entries[res]
if not cur or cur.s ~= sid then return false end
if ARGV[3] ~= '' then cur.p = tonumber(ARGV[3]) end
if ARGV[4] ~= '' then cur.a = ARGV[4] == '1' end
local encoded = cjson.encode(cur)
redis.call('HSET', key, res, encoded)
return encoded`,
  },
  // KEYS: the bare JID's hash. ARGV: resource, sessionId, seq or ''. -> 1 removed, 0 not that session's
  sessionUnbind: {
    numberOfKeys: 1,
    lua: `${PRELUDE}${SESSIONS}
local key, res, sid, seq = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local now = now_ms()
local entries = live_sessions(key, now)
local cur = entries[res]
if not cur or cur.s ~= sid or (seq ~= '' and tonumber(cur.q) ~= tonumber(seq)) then return 0 end
redis.call('HDEL', key, res)
entries[res] = nil
expire_at_latest(key, entries, now)
return 1`,
  },

  // KEYS: the record. ARGV: record JSON (with e), epoch or '' (create only), ttl. -> {ok, now, expiresAt}
  resumptionPut: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local key, epoch, ttl = KEYS[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local raw = redis.call('GET', key)
if raw then
  if epoch == '' then return {0, int(now)} end
  if tonumber(cjson.decode(raw).e) > tonumber(epoch) then return {0, int(now)} end
end
redis.call('SET', key, ARGV[1], 'PX', int(ttl))
return {1, int(now), int(now + ttl)}`,
  },
  // Read-only. KEYS: a string with a ttl. -> {value|nil, pttl, now}
  stringWithTtl: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local raw = redis.call('GET', KEYS[1])
return {raw, redis.call('PTTL', KEYS[1]), int(now_ms())}`,
  },
  // KEYS: the record. ARGV: gatewayId, sessionId. -> {previous JSON, new JSON, now, expiresAt} or nil
  resumptionClaim: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local key = KEYS[1]
local now = now_ms()
local raw = redis.call('GET', key)
if not raw then return false end
local pttl = redis.call('PTTL', key)
if pttl <= 0 then return false end
local r = cjson.decode(raw)
r.g, r.s, r.e = ARGV[1], ARGV[2], tonumber(r.e) + 1
local encoded = cjson.encode(r)
redis.call('SET', key, encoded, 'KEEPTTL')
return {raw, encoded, int(now), int(now + pttl)}`,
  },
  // KEYS: the record. ARGV: epoch, inbound or '', outbound or '', ttl or ''. -> 1 updated, 0 not that epoch
  resumptionUpdate: {
    numberOfKeys: 1,
    lua: `
local key = KEYS[1]
local raw = redis.call('GET', key)
if not raw then return 0 end
local r = cjson.decode(raw)
if tonumber(r.e) ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] ~= '' then r['in'] = tonumber(ARGV[2]) end
if ARGV[3] ~= '' then r.out = tonumber(ARGV[3]) end
if ARGV[4] ~= '' then
  redis.call('SET', key, cjson.encode(r), 'PX', ARGV[4])
else
  redis.call('SET', key, cjson.encode(r), 'KEEPTTL')
end
return 1`,
  },
  // KEYS: the record. ARGV: epoch or ''. -> 1 deleted
  resumptionDelete: {
    numberOfKeys: 1,
    lua: `
local key = KEYS[1]
if ARGV[1] == '' then return redis.call('DEL', key) end
local raw = redis.call('GET', key)
if not raw then return 0 end
if tonumber(cjson.decode(raw).e) ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', key)
return 1`,
  },

  // KEYS: users hash, users index (one slot). ARGV: user, record JSON, onlyIfAbsent 1|0. -> 1 written
  credentialPut: {
    numberOfKeys: 2,
    lua: `
if ARGV[3] == '1' and redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1`,
  },
  // KEYS: users hash, users index. ARGV: user. -> 1 deleted
  credentialDelete: {
    numberOfKeys: 2,
    lua: `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 1
end
return 0`,
  },

  // KEYS: the counter. ARGV: by, window. Fixed window: the expiry is set by the first increment only.
  counterIncrement: {
    numberOfKeys: 1,
    lua: `
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value`,
  },
} satisfies Record<string, ScriptDefinition>;

export type ScriptName = keyof typeof SCRIPTS;
