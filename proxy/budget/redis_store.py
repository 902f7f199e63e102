"""The budget store in Redis, shared by every worker and replica.

Per key two kinds of Redis keys, both under the key's hash tag (one slot in a cluster):
``cg:{key}:w:{work}``, a set of the work's positions, created with the window as its TTL;
``cg:{key}:spent``, a sorted set of spent works scored by the time their window ends.  Each
update is one Lua script (atomic: two workers adding at once count each position once).
The key space is bounded: a set never holds more than ``limit + 1`` positions, and expires.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from proxy.budget.ledger import Take
from proxy.budget.store import StoreError

_ADD = """
local limit = tonumber(ARGV[2])
local have = redis.call('SCARD', KEYS[1])
local room = limit + 1 - have
if room > 0 and #ARGV > 3 then
  local last = math.min(#ARGV, 3 + room)
  for i = 4, last, 500 do
    redis.call('SADD', KEYS[1], unpack(ARGV, i, math.min(i + 499, last)))
  end
end
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local n = redis.call('SCARD', KEYS[1])
if n >= limit then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local ends = now + redis.call('PTTL', KEYS[1])
  redis.call('ZADD', KEYS[2], ends, ARGV[3])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[1]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[1])
  end
end
return n
"""

_SPENT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""


class RedisStore:
    """Counts in Redis (``redis://`` or ``rediss://`` URL); every failure is ``StoreError``."""

    def __init__(self, url: str, window: float, timeout: float = 0.5) -> None:
        self._window_ms = max(1, int(window * 1000))
        self._client: Any = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry_on_timeout=False,
            health_check_interval=30,
        )
        self._add = self._client.register_script(_ADD)
        self._spent = self._client.register_script(_SPENT)

    async def spent(self, key: str) -> frozenset[str]:
        try:
            works = await self._spent(keys=[f"cg:{{{key}}}:spent"])
        except (RedisError, OSError) as e:
            raise StoreError(f"redis: {type(e).__name__}") from e
        return frozenset(w.decode() if isinstance(w, bytes) else str(w) for w in works)

    async def add(self, key: str, takes: Mapping[str, Take]) -> dict[str, int]:
        if not takes:
            return {}
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for work, take in takes.items():
                    args: list[int | str] = [
                        self._window_ms,
                        take.limit,
                        work,
                        *sorted(take.positions),
                    ]
                    await self._add(
                        keys=[f"cg:{{{key}}}:w:{work}", f"cg:{{{key}}}:spent"],
                        args=args,
                        client=pipe,
                    )
                counts = await pipe.execute()
        except (RedisError, OSError) as e:
            raise StoreError(f"redis: {type(e).__name__}") from e
        return {work: int(n) for work, n in zip(takes, counts, strict=True)}

    async def close(self) -> None:
        await self._client.aclose()
