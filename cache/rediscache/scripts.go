package rediscache

import "github.com/redis/go-redis/v9"

// The scripts below run atomically inside Redis. They treat keys as raw
// bytes: they compare and slice strings, and never hand a key to a Lua
// pattern function.
//
// Every script that touches the guard's state receives the same first three
// keys, in this order:
//
//	KEYS[1] seq    the invalidation sequence
//	KEYS[2] log    invalidation records, scored by their sequence number
//	KEYS[3] floor  the highest sequence number trimmed out of the log
//
// and relies on the invariant ZCARD(log) == seq - floor: the log holds
// exactly the records numbered floor+1 .. seq.

// luaGC is shared by the scripts that store values. store writes one value
// and adds its key to the index; gc samples n members of the index and
// removes those whose data key is gone (expired or evicted), so that keys
// written with a TTL do not make the index grow without bound.
const luaGC = `
local function gc(idx, dataPrefix, n)
  local sample = redis.call('ZRANDMEMBER', idx, n)
  for i = 1, #sample do
    if redis.call('EXISTS', dataPrefix .. sample[i]) == 0 then
      redis.call('ZREM', idx, sample[i])
    end
  end
end

local function store(idx, dataPrefix, key, value, ttl)
  if tonumber(ttl) > 0 then
    redis.call('SET', dataPrefix .. key, value, 'PX', ttl)
  else
    redis.call('SET', dataPrefix .. key, value)
  end
  redis.call('ZADD', idx, 0, key)
end
`

// luaGuard holds the guard's bookkeeping.
//
// ensure returns the current sequence number, creating the sequence when it
// does not exist (first use, or the store lost it to a flush or an
// eviction). A new sequence starts from the server's clock in microseconds,
// above every token issued before, and its floor starts there too: the
// guard has no record of anything earlier, so it refuses every older token.
//
// record appends an invalidation record and trims the log to logSize,
// moving the floor up to the highest sequence number it trimmed.
const luaGuard = `
local function ensure()
  local v = redis.call('GET', KEYS[1])
  if v then
    return v
  end
  local t = redis.call('TIME')
  local base = string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2]))
  redis.call('SET', KEYS[1], base)
  redis.call('SET', KEYS[3], base)
  redis.call('DEL', KEYS[2])
  return base
end

local function record(logSize, kind, target)
  ensure()
  local seq = redis.call('INCR', KEYS[1])
  redis.call('ZADD', KEYS[2], seq, string.format('%d|', seq) .. kind .. '|' .. target)
  local excess = redis.call('ZCARD', KEYS[2]) - tonumber(logSize)
  if excess > 0 then
    local popped = redis.call('ZPOPMIN', KEYS[2], excess)
    redis.call('SET', KEYS[3], popped[#popped])
  end
end
`

// tokenScript returns the current sequence number.
//
//	KEYS    seq, log, floor
var tokenScript = redis.NewScript(luaGuard + `
return ensure()
`)

// setScript stores one value and adds its key to the index.
//
//	KEYS[1] idx
//	ARGV    value, ttl in ms (0 = none), cache key, data key prefix
var setScript = redis.NewScript(luaGC + `
store(KEYS[1], ARGV[4], ARGV[3], ARGV[1], ARGV[2])
gc(KEYS[1], ARGV[4], 2)
return 1
`)

// deleteScript records the invalidation of one key and removes it.
//
//	KEYS    seq, log, floor, idx
//	ARGV    log size, cache key, data key prefix
var deleteScript = redis.NewScript(luaGuard + `
record(ARGV[1], 'k', ARGV[2])
redis.call('DEL', ARGV[3] .. ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[2])
return 1
`)

// deletePrefixScript records the invalidation of a prefix and removes every
// indexed key in the lexicographic range [lo, hi), which is exactly the keys
// that start with the prefix. It returns how many data keys DEL removed,
// which counts live entries only.
//
//	KEYS    seq, log, floor, idx
//	ARGV    log size, prefix, lo, hi, data key prefix
var deletePrefixScript = redis.NewScript(luaGuard + `
record(ARGV[1], 'p', ARGV[2])
local members = redis.call('ZRANGEBYLEX', KEYS[4], ARGV[3], ARGV[4])
local removed = 0
for i = 1, #members, 1000 do
  local batch = {}
  for j = i, math.min(i + 999, #members) do
    batch[#batch + 1] = ARGV[5] .. members[j]
  end
  removed = removed + redis.call('DEL', unpack(batch))
end
if #members > 0 then
  redis.call('ZREMRANGEBYLEX', KEYS[4], ARGV[3], ARGV[4])
end
return removed
`)

// setGuardedScript stores each entry unless an invalidation covering its key
// was recorded after the token, and returns the 0-based indexes of the
// entries it dropped.
//
//	KEYS    seq, log, floor, idx
//	ARGV    token, data key prefix, then key, value, ttl in ms per entry
//
// The decision, for a token t and the current sequence s:
//
//	s == t   nothing was invalidated since t: store everything
//	s <  t   the sequence went backwards (the store lost it): drop everything
//	t < floor  records after t were trimmed away: drop everything
//	otherwise  read the records after t and drop the covered entries
var setGuardedScript = redis.NewScript(luaGC + `
local token = tonumber(ARGV[1])
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = (#ARGV - 2) / 3
local dropAll = false
local exact = nil
local prefixes = nil

if seq < token then
  dropAll = true
elseif seq > token then
  local floor = tonumber(redis.call('GET', KEYS[3]) or '0')
  if redis.call('ZCARD', KEYS[2]) ~= seq - floor then
    -- The log no longer matches the sequence (it was evicted or flushed):
    -- forget it, and refuse every token older than now.
    redis.call('DEL', KEYS[2])
    redis.call('SET', KEYS[3], string.format('%d', seq))
    floor = seq
  end
  if token < floor then
    dropAll = true
  else
    exact = {}
    prefixes = {}
    local records = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[1], '+inf')
    for i = 1, #records do
      local r = records[i]
      local bar = string.find(r, '|', 1, true)
      local kind = string.sub(r, bar + 1, bar + 1)
      local target = string.sub(r, bar + 3)
      if kind == 'k' then
        exact[target] = true
      else
        prefixes[#prefixes + 1] = target
      end
    end
  end
end

if dropAll then
  local all = {}
  for i = 1, n do
    all[i] = i - 1
  end
  return all
end

local function covered(key)
  if exact == nil then
    return false
  end
  if exact[key] then
    return true
  end
  for i = 1, #prefixes do
    local p = prefixes[i]
    if string.sub(key, 1, #p) == p then
      return true
    end
  end
  return false
end

local dropped = {}
local stored = 0
for i = 3, #ARGV, 3 do
  local key = ARGV[i]
  if covered(key) then
    dropped[#dropped + 1] = (i - 3) / 3
  else
    store(KEYS[4], ARGV[2], key, ARGV[i + 1], ARGV[i + 2])
    stored = stored + 1
  end
end
if stored > 0 then
  gc(KEYS[4], ARGV[2], math.min(2 * stored, 100))
end
return dropped
`)
