// The windows of memory-window-store.ts as Redis scripts, one script call per observation, so
// instances counting at once never lose or double an update and a crossing is answered to exactly
// one of them (the script that reaches the threshold empties the key). Time is ARGV, never Redis'
// TIME: every instance passes its clock (tests inject one), and the scripts stay deterministic.
// Times are whole milliseconds: Lua turns numbers into strings with %.14g, exact for them.

/**
 * Distinct values: a sorted set, member = value (or its digest), score = when last seen.
 * KEYS[1]; ARGV: t, windowMs, limit, threshold (0: none), keepValues (0|1), member.
 * Returns {0, count} or, at the threshold, {1, count, values…} (values oldest first when kept).
 */
export const DISTINCT_SCRIPT = `
local t = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local threshold = tonumber(ARGV[4])
local member = ARGV[6]
-- Seen at or before t - window: out of the window (distinct-window-counter.ts keeps seen > t - window).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', t - window)
local count = redis.call('ZCARD', KEYS[1])
local seen = redis.call('ZSCORE', KEYS[1], member)
if seen then
  if tonumber(seen) < t then redis.call('ZADD', KEYS[1], t, member) end
elseif count < limit then
  -- Past the limit a key stores nothing more: its count is all a detector needs.
  redis.call('ZADD', KEYS[1], t, member)
  count = count + 1
end
if threshold > 0 and count >= threshold then
  local reply = {1, count}
  if ARGV[5] == '1' then
    local values = redis.call('ZRANGE', KEYS[1], 0, -1)
    for i = 1, #values do reply[i + 2] = values[i] end
  end
  redis.call('DEL', KEYS[1])
  return reply
end
if count > 0 then redis.call('PEXPIRE', KEYS[1], window) end
return {0, count}`;

/**
 * Empties a distinct-values key holding at least ARGV[3] values in the window.
 * KEYS[1]; ARGV: t, windowMs, atLeast. Returns 1 when this call emptied it, else 0.
 */
export const TAKE_SCRIPT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0`;

/**
 * Events in a ring of buckets (sliding-window-counter.ts): a hash, field = bucket number
 * (floor(t / bucketMs)), value = events; at most \`buckets\` fields stay.
 * KEYS[1]; ARGV: bucket, buckets, threshold, windowMs. Returns {crossed 0|1, count}.
 */
export const COUNTER_SCRIPT = `
local bucket = tonumber(ARGV[1])
local oldest = bucket - tonumber(ARGV[2])
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  if tonumber(fields[i]) <= oldest then
    redis.call('HDEL', KEYS[1], fields[i])
  else
    total = total + tonumber(fields[i + 1])
  end
end
if total >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
  return {1, total}
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return {0, total}`;

/**
 * A walk over consecutive numeric ids (createMemoryWalkWindow, step for step): a hash of last id,
 * step (+1, -1, 0 before two in a row), run length and when the run started.
 * KEYS[1]; ARGV: n, t, windowMs, run. Returns 0, or the run length once it reaches ARGV[4].
 */
export const WALK_SCRIPT = `
local n = tonumber(ARGV[1])
local t = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local w = redis.call('HMGET', KEYS[1], 'last', 'step', 'run', 'started')
if not w[1] then
  redis.call('HSET', KEYS[1], 'last', ARGV[1], 'step', 0, 'run', 1, 'started', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], window)
  return 0
end
local step = n - tonumber(w[1])
if step == 0 then return 0 end
local previous = tonumber(w[2])
local run = tonumber(w[3])
local started = w[4]
if t - tonumber(started) > window or (step ~= 1 and step ~= -1) or (previous ~= 0 and step ~= previous) then
  previous = 0
  run = 1
  started = ARGV[2]
else
  previous = step
  run = run + 1
end
if run >= tonumber(ARGV[4]) then
  redis.call('DEL', KEYS[1])
  return run
end
redis.call('HSET', KEYS[1], 'last', ARGV[1], 'step', previous, 'run', run, 'started', started)
redis.call('PEXPIRE', KEYS[1], window)
return 0`;
