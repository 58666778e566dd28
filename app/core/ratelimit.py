"""Sliding-window budgets in Redis, shared by every worker: "at most N in any S seconds".

A platform's "9,000 a minute" is not promised to reset at the top of each minute, so counting per
calendar minute could send 18,000 within two seconds across a boundary. Each window is kept as buckets
(a second for a minute, a minute for an hour), one more than the window holds, so nothing spent in
the last window is ever forgotten early; a spend is checked against their sum and recorded in the same
Lua call, so two workers cannot both take the last of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

# ARGV: prefix, now, then per limit: name, amount, limit, bucket seconds, window seconds.
# Returns "0" when every limit had room (the amounts are then spent), else the seconds until all would.
_SPEND = """
local prefix, now = ARGV[1], tonumber(ARGV[2])
local limits, wait = {}, 0
for i = 3, #ARGV, 5 do
  local name, amount, limit = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local bucket, span = tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])
  -- count + 1 buckets: a spend late in the oldest bucket is still inside the window at the next one's start.
  local current, count = math.floor(now / bucket), math.floor(span / bucket)
  local used, buckets = 0, {}
  for b = current - count, current do
    local value = tonumber(redis.call('GET', prefix .. ':' .. name .. ':' .. b) or '0')
    buckets[#buckets + 1] = {b, value}
    used = used + value
  end
  if used + amount > limit then
    local excess, freed, until_free = used + amount - limit, 0, span
    for _, pair in ipairs(buckets) do
      freed = freed + pair[2]
      if freed >= excess then until_free = (pair[1] + count + 1) * bucket - now break end
    end
    if until_free > wait then wait = until_free end
  end
  limits[#limits + 1] = {prefix .. ':' .. name .. ':' .. current, amount, 2 * span}
end
if wait > 0 then return tostring(wait) end
for _, item in ipairs(limits) do
  redis.call('INCRBY', item[1], item[2])
  redis.call('EXPIRE', item[1], item[3])
end
return '0'
"""


@dataclass(frozen=True)
class Limit:
    """At most `limit` of `name` in any `window` seconds, counted in buckets of `bucket` seconds."""

    name: str
    limit: int
    window: int
    bucket: int


def spend(client: Redis, prefix: str, now: float, amounts: list[tuple[Limit, int]]) -> float:
    """Spend every amount if all their windows have room (0.0), else spend nothing: seconds to wait."""
    arguments: list[object] = [prefix, repr(now)]
    for limit, amount in amounts:
        arguments += [limit.name, amount, limit.limit, limit.bucket, limit.window]
    return float(client.eval(_SPEND, 0, *arguments))
