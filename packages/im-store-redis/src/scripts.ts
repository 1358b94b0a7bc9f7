// Lua scripts: every read-modify-write the IM store needs, atomic on the server. Each script
// names every key it touches in KEYS, and all of them are one account's keys, which share a hash
// tag (one Redis Cluster slot).
//
// Lua subtleties that matter here:
//  - a number passed to redis.call is converted with "%.14g": 16-digit ids would lose digits, so
//    ids always travel as strings (`int`, `pad`);
//  - HGET of a missing field is false; false inside a returned table becomes a nil reply;
//  - time is the server's (TIME; Redis >= 5 replicates script effects, so that is safe): every
//    service instance stamps with one clock, and ids from different instances stay ordered.
// The ids, versions and stored forms are those of packages/im-store/src/model.ts.

import { LUA_PRELUDE, type ScriptDefinition } from '@ambrosia/redis-connection';

// now_ms() and int() come from the shared prelude; pad() and next_id() are this store's.
const PRELUDE = `${LUA_PRELUDE}
local function pad(n)
  return string.format('%016d', n)
end
-- The account's sequence: max(last + 1, now_ms * 1000).
local function next_id(meta)
  local last = tonumber(redis.call('HGET', meta, 'id') or '0')
  local id = math.max(last + 1, now_ms() * 1000)
  redis.call('HSET', meta, 'id', int(id))
  return id
end
`;

export const SCRIPTS = {
  // KEYS: meta, roster, pending, revisions. ARGV: jid.
  // -> {item|nil, pending|nil, revision|nil, epoch|nil, version|nil}
  contactGet: {
    numberOfKeys: 4,
    lua: `
local jid = ARGV[1]
local m = redis.call('HMGET', KEYS[1], 're', 'rv')
return {redis.call('HGET', KEYS[2], jid), redis.call('HGET', KEYS[3], jid), redis.call('HGET', KEYS[4], jid), m[1], m[2]}
`,
  },

  // KEYS: meta, roster, pending, revisions, changeLog.
  // ARGV: jid, expected revision, item mode (k|d|s), encoded item, pending mode (k|d|s),
  //       has status (0|1), status, maxRosterItems, maxPendingSubscriptions, rosterChangeLogSize.
  // -> {'conflict'} | {'roster-full'} | {'pending-full'}
  //  | {'ok', item changed 0|1, revision, epoch|nil, version|nil, item|nil, pending|nil}
  contactCompareAndSet: {
    numberOfKeys: 5,
    lua: `${PRELUDE}
local meta, roster, pending, revisions, changelog = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local jid = ARGV[1]
if (redis.call('HGET', revisions, jid) or '0') ~= ARGV[2] then return {'conflict'} end
local old_item = redis.call('HGET', roster, jid)
local old_pending = redis.call('HGET', pending, jid)

local item_mode, new_item = ARGV[3], ARGV[4]
local item_changed = false
if item_mode == 's' then
  if old_item ~= new_item then
    if not old_item and redis.call('HLEN', roster) >= tonumber(ARGV[8]) then return {'roster-full'} end
    item_changed = true
  end
elseif item_mode == 'd' and old_item then
  item_changed = true
end

local pending_mode = ARGV[5]
local pending_changed = false
local new_pending = false
if pending_mode == 's' then
  local status = nil
  if ARGV[6] == '1' then status = ARGV[7] end
  local same = false
  if old_pending then
    local nl = string.find(old_pending, '\\n', 1, true)
    local old_status = nil
    if nl then old_status = string.sub(old_pending, nl + 1) end
    same = old_status == status
  end
  if not same then
    if not old_pending and redis.call('HLEN', pending) >= tonumber(ARGV[9]) then return {'pending-full'} end
    new_pending = int(now_ms())
    if status then new_pending = new_pending .. '\\n' .. status end
    pending_changed = true
  end
elseif pending_mode == 'd' and old_pending then
  pending_changed = true
end

if item_changed then
  if item_mode == 's' then redis.call('HSET', roster, jid, new_item) else redis.call('HDEL', roster, jid) end
  if not redis.call('HGET', meta, 're') then
    redis.call('HSET', meta, 're', int(next_id(meta)), 'rv', '0', 'rf', '0')
  end
  local version = redis.call('HINCRBY', meta, 'rv', 1)
  redis.call('ZADD', changelog, int(version), jid)
  -- Forget the oldest changes beyond the log size; deltas since an older version become full rosters.
  local excess = redis.call('ZCARD', changelog) - tonumber(ARGV[10])
  if excess > 0 then
    local dropped = redis.call('ZRANGE', changelog, 0, excess - 1, 'WITHSCORES')
    redis.call('HSET', meta, 'rf', dropped[#dropped])
    redis.call('ZREMRANGEBYRANK', changelog, 0, excess - 1)
  end
end
if pending_changed then
  if new_pending then redis.call('HSET', pending, jid, new_pending) else redis.call('HDEL', pending, jid) end
end

local item_now = redis.call('HGET', roster, jid)
local pending_now = redis.call('HGET', pending, jid)
local revision = redis.call('HGET', revisions, jid) or '0'
if item_changed or pending_changed then
  -- A contact with neither item nor request is forgotten: revision 0 again, which is safe (a
  -- writer holding revision 0 computed its change from that same empty state).
  if item_now or pending_now then
    revision = int(next_id(meta))
    redis.call('HSET', revisions, jid, revision)
  else
    revision = '0'
    redis.call('HDEL', revisions, jid)
  end
end
local m = redis.call('HMGET', meta, 're', 'rv')
local changed = '0'
if item_changed then changed = '1' end
return {'ok', changed, revision, m[1], m[2], item_now, pending_now}
`,
  },

  // KEYS: meta, roster, changeLog. ARGV: since epoch ('' for none), since counter.
  // -> {epoch|nil, version, 'delta', jid, item|nil, ...} | {epoch|nil, version, 'full', jid, item, ...}
  rosterRead: {
    numberOfKeys: 3,
    lua: `
local m = redis.call('HMGET', KEYS[1], 're', 'rv', 'rf')
local epoch, version, floor = m[1], tonumber(m[2] or '0'), tonumber(m[3] or '0')
if epoch and ARGV[1] ~= '' and ARGV[1] == epoch then
  local since = tonumber(ARGV[2])
  if since and since >= floor and since <= version then
    local out = {epoch, m[2], 'delta'}
    for _, jid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. ARGV[2], '+inf')) do
      out[#out + 1] = jid
      out[#out + 1] = redis.call('HGET', KEYS[2], jid)
    end
    return out
  end
end
local out = {epoch, m[2] or '0', 'full'}
if not epoch then out[1] = false end
local all = redis.call('HGETALL', KEYS[2])
for i = 1, #all do out[#out + 1] = all[i] end
return out
`,
  },

  // KEYS: meta, offlineIds, offlineData. ARGV: xml, maxOfflineMessages, maxOfflineBytes.
  // -> {'messages'} | {'bytes'} | {'ok', id, count, bytes}
  offlinePush: {
    numberOfKeys: 3,
    lua: `${PRELUDE}
local count = redis.call('ZCARD', KEYS[2])
if count >= tonumber(ARGV[2]) then return {'messages'} end
local bytes = tonumber(redis.call('HGET', KEYS[1], 'ob') or '0')
local size = string.len(ARGV[1])
if bytes + size > tonumber(ARGV[3]) then return {'bytes'} end
local id = pad(next_id(KEYS[1]))
redis.call('ZADD', KEYS[2], id, id)
redis.call('HSET', KEYS[3], id, ARGV[1])
redis.call('HSET', KEYS[1], 'ob', int(bytes + size))
return {'ok', id, int(count + 1), int(bytes + size)}
`,
  },

  // KEYS: offlineIds, offlineData. ARGV: after id ('' for the start), max (>= 1).
  // -> {id, xml, id, xml, ...}
  offlinePeek: {
    numberOfKeys: 2,
    lua: `
local min = '-inf'
if ARGV[1] ~= '' then min = '(' .. ARGV[1] end
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], min, '+inf', 'LIMIT', 0, tonumber(ARGV[2]))) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', KEYS[2], id)
end
return out
`,
  },

  // KEYS: meta, offlineIds, offlineData. ARGV: highest id to remove ('+inf' for all). -> removed
  offlineAck: {
    numberOfKeys: 3,
    lua: `${PRELUDE}
local ids = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if #ids == 0 then return 0 end
local bytes = 0
for _, id in ipairs(ids) do
  bytes = bytes + redis.call('HSTRLEN', KEYS[3], id)
  redis.call('HDEL', KEYS[3], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'ob', int(-bytes))
return #ids
`,
  },

  // KEYS: meta, offlineIds, offlineData. ARGV: ids. -> removed
  offlineRemove: {
    numberOfKeys: 3,
    lua: `${PRELUDE}
local removed, bytes = 0, 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[i]) == 1 then
    bytes = bytes + redis.call('HSTRLEN', KEYS[3], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    removed = removed + 1
  end
end
if removed > 0 then redis.call('HINCRBY', KEYS[1], 'ob', int(-bytes)) end
return removed
`,
  },

  // KEYS: meta, offlineIds. -> {count, bytes}
  offlineStats: {
    numberOfKeys: 2,
    lua: `return {redis.call('ZCARD', KEYS[2]), redis.call('HGET', KEYS[1], 'ob') or '0'}`,
  },

  // KEYS: meta, archiveIds, archiveData, archiveByWith.
  // ARGV: direction (i|o), encoded with, xml, maxArchiveMessages, maxArchiveBytes. -> {id, dropped}
  archiveAppend: {
    numberOfKeys: 4,
    lua: `${PRELUDE}
local meta, ids, data, bywith = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local id = pad(next_id(meta))
redis.call('ZADD', ids, id, id)
redis.call('HSET', data, id, ARGV[1] .. ARGV[2] .. '\\n' .. ARGV[3])
redis.call('ZADD', bywith, 0, ARGV[2] .. '|' .. id)
local bytes = redis.call('HINCRBY', meta, 'ab', string.len(ARGV[3]))
local count = redis.call('ZCARD', ids)
local max_count, max_bytes = tonumber(ARGV[4]), tonumber(ARGV[5])
-- Retention: drop the oldest until both bounds hold (the new message alone always fits).
local dropped = 0
while count > max_count or bytes > max_bytes do
  local oldest = redis.call('ZRANGE', ids, 0, 0)[1]
  if not oldest or oldest == id then break end
  local record = redis.call('HGET', data, oldest)
  redis.call('ZREM', ids, oldest)
  redis.call('HDEL', data, oldest)
  if record then
    local nl = string.find(record, '\\n', 1, true)
    redis.call('ZREM', bywith, string.sub(record, 2, nl - 1) .. '|' .. oldest)
    bytes = redis.call('HINCRBY', meta, 'ab', int(nl - string.len(record)))
  end
  count = count - 1
  dropped = dropped + 1
end
return {id, dropped}
`,
  },

  // KEYS: archiveIds, archiveData, archiveByWith.
  // ARGV: encoded with ('' for all), count range empty (0|1), countLo, countHi, page range empty
  //       (0|1), lo, hi, backward (0|1), max + 1, after id (''), before id ('').
  // All ids are 16-digit strings, so they compare the same as strings and as numbers.
  // -> {'not-found', id} | {'ok', count, id, record, id, record, ...} (ids in fetch order)
  archiveQuery: {
    numberOfKeys: 3,
    lua: `
local ids, data, bywith = KEYS[1], KEYS[2], KEYS[3]
local w = ARGV[1]
for _, probe in ipairs({ARGV[10], ARGV[11]}) do
  if probe ~= '' and redis.call('HEXISTS', data, probe) == 0 then return {'not-found', probe} end
end
local count = 0
if ARGV[2] == '0' then
  if w ~= '' then
    count = redis.call('ZLEXCOUNT', bywith, '[' .. w .. '|' .. ARGV[3], '[' .. w .. '|' .. ARGV[4])
  else
    count = redis.call('ZCOUNT', ids, ARGV[3], ARGV[4])
  end
end
local out = {'ok', count}
if ARGV[5] == '1' then return out end
local lo, hi, backward, limit = ARGV[6], ARGV[7], ARGV[8] == '1', tonumber(ARGV[9])
local found
if w ~= '' then
  local min, max = '[' .. w .. '|' .. lo, '[' .. w .. '|' .. hi
  if backward then
    found = redis.call('ZREVRANGEBYLEX', bywith, max, min, 'LIMIT', 0, limit)
  else
    found = redis.call('ZRANGEBYLEX', bywith, min, max, 'LIMIT', 0, limit)
  end
  for i = 1, #found do found[i] = string.sub(found[i], string.len(w) + 2) end
elseif backward then
  found = redis.call('ZREVRANGEBYSCORE', ids, hi, lo, 'LIMIT', 0, limit)
else
  found = redis.call('ZRANGEBYSCORE', ids, lo, hi, 'LIMIT', 0, limit)
end
for _, id in ipairs(found) do
  out[#out + 1] = id
  out[#out + 1] = redis.call('HGET', data, id)
end
return out
`,
  },

  // KEYS: meta, archiveIds, archiveData, archiveByWith. -> removed
  archiveClear: {
    numberOfKeys: 4,
    lua: `
local count = redis.call('ZCARD', KEYS[2])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('HDEL', KEYS[1], 'ab')
return count
`,
  },

  // KEYS: blocked. ARGV: maxBlockedJids, jids (distinct). -> {'full'} | {'ok', added...}
  blockAdd: {
    numberOfKeys: 1,
    lua: `
local added = {}
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 0 then added[#added + 1] = ARGV[i] end
end
if redis.call('SCARD', KEYS[1]) + #added > tonumber(ARGV[1]) then return {'full'} end
local out = {'ok'}
for _, jid in ipairs(added) do
  redis.call('SADD', KEYS[1], jid)
  out[#out + 1] = jid
end
return out
`,
  },

  // KEYS: blocked. ARGV: jids. -> removed jids
  blockRemove: {
    numberOfKeys: 1,
    lua: `
local out = {}
for i = 1, #ARGV do
  if redis.call('SREM', KEYS[1], ARGV[i]) == 1 then out[#out + 1] = ARGV[i] end
end
return out
`,
  },

  // KEYS: blocked. ARGV: jids. -> those present
  blockAmong: {
    numberOfKeys: 1,
    lua: `
local out = {}
for i = 1, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then out[#out + 1] = ARGV[i] end
end
return out
`,
  },

  // KEYS: blocked. -> what it held
  blockClear: {
    numberOfKeys: 1,
    lua: `
local all = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return all
`,
  },

  // KEYS: meta, privateXml. ARGV: field, xml, maxPrivateBytes. -> 1 stored | 0 over quota
  privateSet: {
    numberOfKeys: 2,
    lua: `${PRELUDE}
local old = redis.call('HGET', KEYS[2], ARGV[1])
local total = tonumber(redis.call('HGET', KEYS[1], 'pb') or '0') + string.len(ARGV[1]) + string.len(ARGV[2])
if old then total = total - string.len(ARGV[1]) - string.len(old) end
if total > tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'pb', int(total))
return 1
`,
  },

  // KEYS: meta, privateXml. ARGV: field. -> 1 removed | 0 absent
  privateRemove: {
    numberOfKeys: 2,
    lua: `${PRELUDE}
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'pb', int(-(string.len(ARGV[1]) + string.len(old))))
return 1
`,
  },

  // Presence: KEYS[1] is the account's presence hash, resource → "<expiresAt> <stamp>\n<xml>".
  // Every script drops the expired fields it sees first (at most maxPresenceResources + 1 of them
  // exist), so they never count and never come back. The key itself expires with its newest field.

  // KEYS: presence. ARGV: resource, xml, maxPresenceResources, presenceTtlMs. -> 'ok' | 'too-many'
  presenceSet: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local now = now_ms()
local all = redis.call('HGETALL', KEYS[1])
local live, present = 0, false
for i = 1, #all, 2 do
  if tonumber(string.match(all[i + 1], '^(%d+)')) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    live = live + 1
    if all[i] == ARGV[1] then present = true end
  end
end
if not present and live >= tonumber(ARGV[3]) then return 'too-many' end
local ttl = tonumber(ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], int(now + ttl) .. ' ' .. int(now) .. '\\n' .. ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
return 'ok'
`,
  },

  // KEYS: presence. ARGV: resource to remove ('' for none), '1' to remove everything after reading.
  // -> {removed 0|1, resource, value, ...live fields}
  presenceList: {
    numberOfKeys: 1,
    lua: `${PRELUDE}
local now = now_ms()
local all = redis.call('HGETALL', KEYS[1])
local out = {0}
for i = 1, #all, 2 do
  if tonumber(string.match(all[i + 1], '^(%d+)')) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] == ARGV[1] then
    redis.call('HDEL', KEYS[1], all[i])
    out[1] = 1
  else
    out[#out + 1] = all[i]
    out[#out + 1] = all[i + 1]
  end
end
if ARGV[2] == '1' then redis.call('DEL', KEYS[1]) end
return out
`,
  },
} as const satisfies Record<string, ScriptDefinition>;

export type ScriptName = keyof typeof SCRIPTS;
