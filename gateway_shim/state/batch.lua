-- Many requests' admissions and settlements in one atomic call (gateway_shim/state/redis_backend.py).
-- Clock: the server's TIME, in ms, read once per call, so every replica shares one clock.
-- ARGV[1] key prefix, ARGV[2] lease ms, ARGV[3] records separated by \30, fields by \31:
--   A tenant month id tokens rpm tpm budget amount   admission: rate windows, then a leased reservation
--   S tenant month id actual token_delta             settlement of a reservation made by an A
--   J marker tenant month amount                     spend booked while Redis was away, applied once
--   F tenant month spent                             spend seen before Redis lost its state: a floor
-- ARGV[4] the epoch the replica knows ('' = not checked; '?' = not known yet). The key <prefix>epoch is
-- written when a month is seeded; a Redis that lost its data (restarted without persistence, flushed)
-- no longer has it. When it is not ARGV[4], nothing is applied and the reply is "!" followed by the
-- epoch found (empty when missing: the replica has the month seeded again from the lake); with '?',
-- only an epoch found is answered so.
-- Money is integer nano-USD. Reply: one record per op, same order, "code\31spent\31reserved\31retry_ms";
-- code 0 = admitted/applied, 1 = requests_per_min, 2 = tokens_per_min, 3 = budget, 4 = already applied.
local prefix, lease_ms, epoch = ARGV[1], tonumber(ARGV[2]), ARGV[4] or ''
if epoch ~= '' then
  local found = redis.call('GET', prefix .. 'epoch')
  if found ~= epoch and (found or epoch ~= '?') then return '!' .. (found or '') end
end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local WINDOW = 60000
local KEEP = 70 * 86400000
local CHUNK = 1000
local swept = {}

local function int(x)
  return string.format('%d', x)
end

local function sum_of(hash, ids)
  local total = 0
  local values = redis.call('HMGET', hash, unpack(ids))
  for i = 1, #values do total = total + (tonumber(values[i]) or 0) end
  return total
end

-- Entries at or before now - 60 s leave the window. A zset per tenant holds one entry per admitted
-- request (its time), another the token overages charged after an entry had left; the hash holds each
-- entry's tokens and, in field '#', the window's token sum. No expiry on these keys (an expiry could
-- split a zset from its hash): an idle tenant keeps at most its last minute's entries until its next call.
local function sweep_window(zset, rh)
  for _ = 1, 1000 do
    local old = redis.call('ZRANGEBYSCORE', zset, '-inf', now - WINDOW, 'LIMIT', 0, CHUNK)
    if #old == 0 then return end
    redis.call('HINCRBY', rh, '#', -sum_of(rh, old))
    redis.call('HDEL', rh, unpack(old))
    redis.call('ZREM', zset, unpack(old))
  end
end

-- Reservations past their lease are released; their amounts move to the lapsed hash so that a late
-- settlement still books its spend (once).
local function sweep_leases(base)
  for _ = 1, 1000 do
    local old = redis.call('ZRANGEBYSCORE', base .. ':l', '-inf', now, 'LIMIT', 0, CHUNK)
    if #old == 0 then return end
    local amounts = redis.call('HMGET', base .. ':v', unpack(old))
    local total = 0
    for i = 1, #old do
      local amount = tonumber(amounts[i]) or 0
      total = total + amount
      redis.call('HSET', base .. ':x', old[i], int(amount))
    end
    redis.call('PEXPIRE', base .. ':x', KEEP)
    redis.call('HINCRBY', base, 'r', -total)
    redis.call('HDEL', base .. ':v', unpack(old))
    redis.call('ZREM', base .. ':l', unpack(old))
  end
end

local function keys_of(tenant, month)
  local rz, rh = prefix .. 'rz:' .. tenant, prefix .. 'rh:' .. tenant
  local base = prefix .. 'b:' .. tenant .. ':' .. month
  if not swept[base] then
    swept[base] = true
    if not swept[rz] then
      swept[rz] = true
      sweep_window(rz, rh)
      sweep_window(rz .. '+', rh)
    end
    sweep_leases(base)
  end
  return rz, rh, base
end

local function answer(code, spent, reserved, retry_ms)
  return code .. '\31' .. int(spent) .. '\31' .. int(reserved) .. '\31' .. int(retry_ms)
end

local function reply(code, base, retry_ms)
  local totals = redis.call('HMGET', base, 's', 'r')
  return answer(code, tonumber(totals[1]) or 0, tonumber(totals[2]) or 0, retry_ms)
end

-- Milliseconds until enough of the oldest entries leave the window to free `excess` tokens.
local function tokens_wait(rz, rh, excess)
  local entries = redis.call('ZRANGE', rz, 0, 255, 'WITHSCORES')
  local freed, at = 0, now
  for i = 1, #entries, 2 do
    freed = freed + (tonumber(redis.call('HGET', rh, entries[i])) or 0)
    at = tonumber(entries[i + 1])
    if freed >= excess then break end
  end
  return math.max(1, at + WINDOW - now)
end

local function admit(tenant, month, id, tokens, rpm, tpm, budget, amount)
  local rz, rh, base = keys_of(tenant, month)
  local totals = redis.call('HMGET', base, 's', 'r')
  local spent, reserved = tonumber(totals[1]) or 0, tonumber(totals[2]) or 0
  local count = redis.call('ZCARD', rz)
  local used = tonumber(redis.call('HGET', rh, '#')) or 0
  local need = math.min(tokens, tpm)
  local wait_requests, wait_tokens = 0, 0
  if count >= rpm then
    local oldest = redis.call('ZRANGE', rz, count - rpm, count - rpm, 'WITHSCORES')
    wait_requests = math.max(1, tonumber(oldest[2]) + WINDOW - now)
  end
  if used + need > tpm then
    wait_tokens = tokens_wait(rz, rh, used + need - tpm)
  end
  if wait_requests > 0 or wait_tokens > 0 then
    if wait_requests >= wait_tokens then return answer(1, spent, reserved, wait_requests) end
    return answer(2, spent, reserved, wait_tokens)
  end
  redis.call('ZADD', rz, now, id)
  redis.call('HSET', rh, id, tokens)
  redis.call('HINCRBY', rh, '#', tokens)
  if spent + reserved + amount > budget then
    return answer(3, spent, reserved, 0)
  end
  redis.call('ZADD', base .. ':l', now + lease_ms, id)
  redis.call('HSET', base .. ':v', id, int(amount))
  reserved = redis.call('HINCRBY', base, 'r', amount)
  if not totals[1] and not totals[2] then redis.call('PEXPIRE', base, KEEP) end  -- the month's first
  return answer(0, spent, reserved, 0)
end

local function charge_tokens(rz, rh, id, delta)
  if delta == 0 then return end
  local weight = tonumber(redis.call('HGET', rh, id))
  if weight then
    delta = math.max(delta, -weight)
    redis.call('HINCRBY', rh, id, delta)
    redis.call('HINCRBY', rh, '#', delta)
  elseif delta > 0 then
    redis.call('ZADD', rz .. '+', now, id .. '+')
    redis.call('HSET', rh, id .. '+', delta)
    redis.call('HINCRBY', rh, '#', delta)
  end
end

-- Idempotent: the reservation (held or lapsed) is removed by the first settlement; a replay finds none.
local function settle(tenant, month, id, actual, delta)
  local rz, rh, base = keys_of(tenant, month)
  local held = tonumber(redis.call('HGET', base .. ':v', id))
  local reserved
  if held then
    redis.call('HDEL', base .. ':v', id)
    redis.call('ZREM', base .. ':l', id)
    reserved = redis.call('HINCRBY', base, 'r', -held)
  elseif redis.call('HDEL', base .. ':x', id) == 1 then
    reserved = tonumber(redis.call('HGET', base, 'r')) or 0
  else
    return reply(4, base, 0)
  end
  local spent = redis.call('HINCRBY', base, 's', actual)
  charge_tokens(rz, rh, id, delta)
  return answer(0, spent, reserved, 0)
end

local function journal(marker, tenant, month, amount)
  local _, _, base = keys_of(tenant, month)
  if not redis.call('SET', prefix .. 'j:' .. marker, '1', 'NX', 'PX', KEEP) then
    return reply(4, base, 0)
  end
  redis.call('HINCRBY', base, 's', amount)
  redis.call('PEXPIRE', base, KEEP)
  return reply(0, base, 0)
end

-- A month seeded again after a loss starts from the lake's figure (field 'l', written with the epoch in
-- 'le' by seed.lua); a replica's last view of the spend before the loss may be higher (events not yet
-- uploaded): the spend is raised to it, once, whatever was booked since staying on top.
local function floor(tenant, month, spent)
  local _, _, base = keys_of(tenant, month)
  local seeded = redis.call('HMGET', base, 'l', 'le')
  if seeded[2] ~= epoch then return reply(4, base, 0) end
  local known = tonumber(seeded[1]) or 0
  if spent > known then
    redis.call('HINCRBY', base, 's', spent - known)
    redis.call('HSET', base, 'l', int(spent))
  end
  return reply(0, base, 0)
end

local out = {}
for record in string.gmatch(ARGV[3], '[^\30]+') do
  local f = {}
  for field in string.gmatch(record, '[^\31]+') do f[#f + 1] = field end
  local op = f[1]
  if op == 'A' then
    out[#out + 1] = admit(f[2], f[3], f[4], tonumber(f[5]), tonumber(f[6]), tonumber(f[7]),
                          tonumber(f[8]), tonumber(f[9]))
  elseif op == 'S' then
    out[#out + 1] = settle(f[2], f[3], f[4], tonumber(f[5]), tonumber(f[6]))
  elseif op == 'J' then
    out[#out + 1] = journal(f[2], f[3], f[4], tonumber(f[5]))
  elseif op == 'F' then
    out[#out + 1] = floor(f[2], f[3], tonumber(f[4]))
  else
    return redis.error_reply('unknown op ' .. tostring(op))
  end
end
return table.concat(out, '\30')
