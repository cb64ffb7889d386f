"""Who has a device in a meeting right now, across every server process.

Each process counts its own sockets joined to each meeting, per user. The counts that decide
"online" are kept in a store: in memory for one process, in Redis when several processes
share rooms. In Redis each meeting is one hash with a field ``<user>:<process>`` holding that
process's socket count; a script changes a count and sums the user's counts over the processes
that are alive (each process refreshes a heartbeat key), atomically, so exactly one process sees
a user's first device arrive and one sees the last leave. A crashed process's counts stop
counting once its heartbeat expires; the others' sweeps delete them and announce who went
offline. A user's first device joining and last device leaving emit ``presence.changed`` to the
meeting's staff (outside the log); the staff's join and resync answers carry the whole list.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from ecabinet.core.clock import utcnow
from ecabinet.core.logs import get_logger
from ecabinet.realtime.publisher import publish
from ecabinet.services.kernel.context import Actor, OutEvent
from ecabinet.services.room.attendance import PresenceChanged

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from ecabinet.runtime import Runtime

log = get_logger(__name__)
PART = "presence"


class Store(Protocol):
    async def change(self, meeting_id: int, user_id: int, delta: int) -> int:
        """Apply ``delta`` to this process's count; the user's devices on all processes after."""

    async def online(self, meeting_id: int) -> dict[int, int]:
        """Devices per online user of the meeting."""

    async def sweep(self) -> list[tuple[int, int]]:
        """Forget dead processes' counts; the (meeting, user) pairs that went offline."""

    async def close(self) -> None: ...


class LocalStore:
    """One process: the counts are this process's own."""

    def __init__(self) -> None:
        self.counts: dict[int, dict[int, int]] = {}

    async def change(self, meeting_id: int, user_id: int, delta: int) -> int:
        users = self.counts.setdefault(meeting_id, {})
        n = users.get(user_id, 0) + delta
        if n > 0:
            users[user_id] = n
        else:
            users.pop(user_id, None)
            if not users:
                self.counts.pop(meeting_id, None)
        return max(n, 0)

    async def online(self, meeting_id: int) -> dict[int, int]:
        return dict(self.counts.get(meeting_id, {}))

    async def sweep(self) -> list[tuple[int, int]]:
        return []

    async def close(self) -> None:
        return None


# KEYS: meeting hash, meetings set, processes set.
# ARGV: user, process, delta, alive-key prefix, meeting id, hash ttl.
CHANGE = """
local field = ARGV[1] .. ':' .. ARGV[2]
local n = redis.call('HINCRBY', KEYS[1], field, ARGV[3])
if n <= 0 then redis.call('HDEL', KEYS[1], field) end
redis.call('EXPIRE', KEYS[1], ARGV[6])
redis.call('SADD', KEYS[2], ARGV[5])
redis.call('SADD', KEYS[3], ARGV[2])
local total = 0
for _, proc in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if proc == ARGV[2] or redis.call('EXISTS', ARGV[4] .. proc) == 1 then
    local c = redis.call('HGET', KEYS[1], ARGV[1] .. ':' .. proc)
    if c then total = total + tonumber(c) end
  end
end
return total
"""
# KEYS: meeting hash. ARGV: process, hash ttl, then user, count, user, count, ... (this
# process's true counts). Sets them and drops this process's fields for anybody else.
RESTORE = """
local suffix = ':' .. ARGV[1]
local keep = {}
for i = 3, #ARGV, 2 do
  keep[ARGV[i] .. suffix] = ARGV[i + 1]
end
local fields = redis.call('HKEYS', KEYS[1])
for _, f in ipairs(fields) do
  if string.sub(f, -#suffix) == suffix and keep[f] == nil then redis.call('HDEL', KEYS[1], f) end
end
for f, n in pairs(keep) do redis.call('HSET', KEYS[1], f, n) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return #fields
"""
# KEYS: meeting hash. ARGV: alive-key prefix. Returns user, devices, user, devices, ...
ONLINE = """
local all = redis.call('HGETALL', KEYS[1])
local alive, counts, out = {}, {}, {}
for i = 1, #all, 2 do
  local sep = string.find(all[i], ':', 1, true)
  local uid, proc = string.sub(all[i], 1, sep - 1), string.sub(all[i], sep + 1)
  if alive[proc] == nil then alive[proc] = redis.call('EXISTS', ARGV[1] .. proc) == 1 end
  if alive[proc] then counts[uid] = (counts[uid] or 0) + tonumber(all[i + 1]) end
end
for uid, n in pairs(counts) do
  if n > 0 then table.insert(out, uid); table.insert(out, n) end
end
return out
"""
# KEYS: meeting hash, meetings set. ARGV: alive-key prefix, meeting id. Returns users now offline.
SWEEP = """
local all = redis.call('HGETALL', KEYS[1])
local alive, counts, dropped, out = {}, {}, {}, {}
for i = 1, #all, 2 do
  local sep = string.find(all[i], ':', 1, true)
  local uid, proc = string.sub(all[i], 1, sep - 1), string.sub(all[i], sep + 1)
  if alive[proc] == nil then alive[proc] = redis.call('EXISTS', ARGV[1] .. proc) == 1 end
  if alive[proc] then
    counts[uid] = (counts[uid] or 0) + tonumber(all[i + 1])
  else
    redis.call('HDEL', KEYS[1], all[i])
    dropped[uid] = true
  end
end
for uid, _ in pairs(dropped) do
  if (counts[uid] or 0) == 0 then table.insert(out, uid) end
end
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return out
"""


class RedisStore:
    """Counts shared by the server processes through Redis (see the module docstring)."""

    HEARTBEAT = 10.0  # seconds between heartbeats (and sweeps)
    ALIVE_TTL = 30  # a process missing three heartbeats is dead
    HASH_TTL = 12 * 3600  # forgotten meetings' hashes vanish; live ones are touched each beat

    def __init__(self, url: str, prefix: str, process: str | None = None) -> None:
        from redis.asyncio import Redis

        self.redis: Redis = Redis.from_url(url, decode_responses=True)
        self.prefix = f"{prefix}:presence"
        self.process = process or uuid.uuid4().hex[:12]
        self.mine: dict[int, dict[int, int]] = {}  # this process's counts, to heal after a stall
        self._change = self.redis.register_script(CHANGE)
        self._online = self.redis.register_script(ONLINE)
        self._sweep = self.redis.register_script(SWEEP)
        self._restore = self.redis.register_script(RESTORE)
        self._beat: asyncio.Task[None] | None = None
        self.dirty = False  # a change failed to reach Redis: restore our counts next beat

    def _hash(self, meeting_id: int) -> str:
        return f"{self.prefix}:m:{meeting_id}"

    @property
    def _alive_prefix(self) -> str:
        return f"{self.prefix}:alive:"

    async def start(self) -> None:
        """Announce this process alive and keep it so (idempotent)."""
        if self._beat is None:
            await self.heartbeat()
            self._beat = asyncio.get_running_loop().create_task(self._beat_forever())

    async def heartbeat(self) -> None:
        was = await self.redis.set(
            self._alive_prefix + self.process, "1", ex=self.ALIVE_TTL, get=True
        )
        await self.redis.sadd(f"{self.prefix}:procs", self.process)
        # After a lapse (a long stall: others may have swept our counts) or a failed change,
        # write this process's true counts back; otherwise only keep the hashes from expiring.
        restore, self.dirty = was is None or self.dirty, False
        for meeting_id, users in list(self.mine.items()):
            if restore:
                counts = [str(v) for uid, n in users.items() for v in (uid, n)]
                await self._restore(
                    keys=[self._hash(meeting_id)], args=[self.process, self.HASH_TTL, *counts]
                )
            else:
                await self.redis.expire(self._hash(meeting_id), self.HASH_TTL)
            if not users:
                self.mine.pop(meeting_id, None)

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.HEARTBEAT)
            try:
                await self.heartbeat()
            except Exception as exc:  # Redis away for a while: try again next beat
                log.warning("presence.heartbeat_failed", error=str(exc))

    async def change(self, meeting_id: int, user_id: int, delta: int) -> int:
        await self.start()
        users = self.mine.setdefault(meeting_id, {})
        users[user_id] = users.get(user_id, 0) + delta
        if users[user_id] <= 0:
            del users[user_id]
        try:
            total = await self._change(
                keys=[self._hash(meeting_id), f"{self.prefix}:meetings", f"{self.prefix}:procs"],
                args=[user_id, self.process, delta, self._alive_prefix, meeting_id, self.HASH_TTL],
            )
        except Exception:
            self.dirty = True
            raise
        return int(total)

    async def online(self, meeting_id: int) -> dict[int, int]:
        flat = await self._online(keys=[self._hash(meeting_id)], args=[self._alive_prefix])
        return {int(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}

    async def sweep(self) -> list[tuple[int, int]]:
        gone: list[tuple[int, int]] = []
        meetings = await self.redis.smembers(f"{self.prefix}:meetings")
        for raw in meetings:
            users = await self._sweep(
                keys=[self._hash(int(raw)), f"{self.prefix}:meetings"],
                args=[self._alive_prefix, raw],
            )
            gone.extend((int(raw), int(uid)) for uid in users)
        for raw_proc in await self.redis.smembers(f"{self.prefix}:procs"):
            proc = str(raw_proc)
            if proc != self.process and not await self.redis.exists(self._alive_prefix + proc):
                await self.redis.srem(f"{self.prefix}:procs", proc)
        return gone

    async def close(self) -> None:
        """Stop the heartbeat and say this process is gone, so the others sweep its counts."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat
            self._beat = None
        with contextlib.suppress(Exception):
            await self.redis.delete(self._alive_prefix + self.process)
        await self.redis.aclose()


class Presence:
    """This process's sockets per meeting, the store's totals, and the staff's announcements."""

    def __init__(self, runtime: Runtime, store: Store) -> None:
        self.runtime = runtime
        self.store = store
        self.sockets: dict[str, dict[int, int]] = {}  # sid -> {meeting id: user id}
        self._sweeper: asyncio.Task[None] | None = None

    @classmethod
    def create(cls, runtime: Runtime) -> Presence:
        settings = runtime.settings
        if settings.redis_url:
            store: Store = RedisStore(settings.redis_url, settings.redis_channel)
        else:
            store = LocalStore()
        return cls(runtime, store)

    async def joined(self, sid: str, meeting_id: int, actor: Actor) -> None:
        """A socket joined a meeting (joining again on the same socket counts once)."""
        if actor.participant_id is None:
            return  # an admin looking in is nobody's presence
        if not self.runtime.sio.manager.is_connected(sid, "/"):
            return  # the socket dropped while its join was being answered
        meetings = self.sockets.setdefault(sid, {})
        if meeting_id in meetings:
            return
        meetings[meeting_id] = actor.user_id
        await self._change(meeting_id, actor.user_id, +1)
        if isinstance(self.store, RedisStore) and self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def left(self, sid: str, meeting_id: int) -> None:
        user_id = self.sockets.get(sid, {}).pop(meeting_id, None)
        if not self.sockets.get(sid):
            self.sockets.pop(sid, None)
        if user_id is not None:
            await self._change(meeting_id, user_id, -1)

    async def disconnected(self, sid: str) -> None:
        for meeting_id in list(self.sockets.get(sid, {})):
            await self.left(sid, meeting_id)

    async def part(self, meeting_id: int) -> dict[str, Any]:
        """The staff's snapshot part: every online user and their device count."""
        try:
            online = await self.store.online(meeting_id)
        except Exception as exc:
            log.warning("presence.read_failed", meeting=meeting_id, error=str(exc))
            online = {}
        return {"online": [{"user_id": u, "devices": n} for u, n in sorted(online.items())]}

    async def attach(self, answer: dict[str, Any], meeting_id: int, actor: Actor) -> None:
        """Add the presence part to a staff member's join or resync answer."""
        if not (actor.is_staff or actor.is_admin):
            return
        key = "snapshot" if answer.get("mode") == "snapshot" else "private"
        where = answer.get(key)
        if isinstance(where, dict):
            where[PART] = await self.part(meeting_id)

    async def _change(self, meeting_id: int, user_id: int, delta: int) -> None:
        try:
            devices = await self.store.change(meeting_id, user_id, delta)
        except Exception as exc:  # presence is a hint: never fail a join or a disconnect on it
            log.warning("presence.change_failed", meeting=meeting_id, error=str(exc))
            return
        if (delta > 0 and devices == delta) or (delta < 0 and devices == 0):
            await self.announce(meeting_id, user_id, devices)

    async def announce(self, meeting_id: int, user_id: int, devices: int) -> None:
        payload = PresenceChanged(user_id=user_id, online=devices > 0, devices=devices)
        event = OutEvent(
            meeting_id,
            None,
            "presence.changed",
            payload.model_dump(mode="json"),
            "staff",
            utcnow(),
        )
        await publish(self.runtime, [event])

    async def sweep(self) -> None:
        for meeting_id, user_id in await self.store.sweep():
            await self.announce(meeting_id, user_id, 0)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(RedisStore.HEARTBEAT)
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("presence.sweep_failed", error=str(exc))

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await self.store.close()
