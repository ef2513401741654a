-- The elected replica writes the month-to-date spend it read from the lake, then marks the month done.
-- ARGV[1] key prefix, ARGV[2] month, ARGV[3] the claim token this replica set with SET NX,
-- ARGV[4] records "tenant\31spent nano-USD" separated by \30 (may be empty).
-- Returns 1 when written, 0 when the claim is no longer this replica's (it lapsed and another took it).
local prefix, month, token = ARGV[1], ARGV[2], ARGV[3]
local marker = prefix .. 'seed:' .. month
local KEEP = 70 * 86400000
if redis.call('GET', marker) ~= token then return 0 end
for record in string.gmatch(ARGV[4], '[^\30]+') do
  local tenant, spent = string.match(record, '^([^\31]+)\31(%-?%d+)$')
  local base = prefix .. 'b:' .. tenant .. ':' .. month
  redis.call('HINCRBY', base, 's', spent)
  redis.call('PEXPIRE', base, KEEP)
end
redis.call('SET', marker, 'done', 'PX', KEEP)
return 1
