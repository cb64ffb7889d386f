"""Page rendering scheduled: the render queue port, the local pool, the Redis-backed queue."""
