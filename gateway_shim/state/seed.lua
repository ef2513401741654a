-- The elected replica writes the month-to-date spend it read from the lake, then marks the month done
-- and starts a new epoch (the key batch.lua checks to notice a Redis that lost its data).
-- ARGV[1] key prefix, ARGV[2] month, ARGV[3] the claim token this replica set with SET NX,
-- ARGV[4] records "tenant\31spent nano-USD" separated by \30, one per configured tenant (may be empty),
-- ARGV[5] the new epoch.
-- Returns 1 when written, 0 when the claim is no longer this replica's (it lapsed and another took it).
local prefix, month, token, epoch = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local marker = prefix .. 'seed:' .. month
local KEEP = 70 * 86400000
if redis.call('GET', marker) ~= token then return 0 end
for record in string.gmatch(ARGV[4], '[^\30]+') do
  local tenant, spent = string.match(record, '^([^\31]+)\31(%-?%d+)$')
  local base = prefix .. 'b:' .. tenant .. ':' .. month
  redis.call('HINCRBY', base, 's', spent)
  redis.call('HSET', base, 'l', spent, 'le', epoch)
  redis.call('PEXPIRE', base, KEEP)
end
redis.call('SET', marker, 'done', 'PX', KEEP)
redis.call('SET', prefix .. 'epoch', epoch)
return 1
