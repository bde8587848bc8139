"""Where the lab's real components keep their state: a Redis server, or an embedded one.

Like the classroom's store, the lab needs no server to run: by default it uses fakeredis, an
in-process Redis that also runs Lua scripts (through lupa), shared by everything in the process.
With REDIS_URL set it uses that server instead, so two app processes share one cache and one
limiter, as two replicas of a real application would.
"""

from __future__ import annotations

import os
import threading

_embedded = None
_lock = threading.Lock()


def connect(url: str | None = None):
    """Return a client (bytes in, bytes out) for `url`, REDIS_URL, or this process's embedded server."""
    url = url or os.environ.get("REDIS_URL")
    if url:
        import redis

        return redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=2.0)
    global _embedded
    with _lock:
        if _embedded is None:
            import fakeredis

            _embedded = fakeredis.FakeServer()
    import fakeredis

    return fakeredis.FakeRedis(server=_embedded)


def where(client) -> str:
    """Name the server a client talks to, for the page (never the password)."""
    kwargs = client.connection_pool.connection_kwargs
    if type(client).__module__.startswith("fakeredis"):
        return "embedded (fakeredis, this process only)"
    return f"redis://{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"


def vector_index(client) -> str | None:
    """Return the name of the server's own vector index, if it has one (RediSearch's FT.*, or vector sets).

    Debian's redis-server 7 and fakeredis have neither; Redis Stack and Redis 8 do.
    """
    try:
        modules = client.execute_command("MODULE", "LIST") or []
    except Exception:  # noqa: BLE001 - fakeredis and restricted servers refuse MODULE; that means "none"
        modules = []
    for module in modules:
        fields = module if isinstance(module, dict) else dict(zip(module[::2], module[1::2]))
        name = fields.get(b"name", fields.get("name", b""))
        name = name.decode() if isinstance(name, bytes) else str(name)
        if name.lower() in ("search", "ft", "searchlight"):
            return "RediSearch (FT.SEARCH with a vector field)"
        if name.lower() == "vectorset":
            return "vector sets (VSIM)"
    try:
        if client.execute_command("COMMAND", "INFO", "VSIM")[0]:
            return "vector sets (VSIM)"
    except Exception:  # noqa: BLE001 - an unknown command or a server without COMMAND INFO
        pass
    return None
