"""One leader per periodic role, however many processes run: a Redis lock the holder keeps renewing.

A process that does not hold the lock stands by; when the holder stops renewing (it died or
hangs), the lock expires after ``ttl_s`` and the next process to ask takes the role over.
"""

from __future__ import annotations

import redis
from redis.exceptions import LockError

from cityvitals import store


class Leadership:
    """Who leads ``role``: ask :meth:`held` before each round of the role's work."""

    def __init__(self, client: redis.Redis, role: str, ttl_s: float) -> None:
        self.role = role
        # thread_local=False: the scheduler runs rounds on different threads of this process
        self.lock = client.lock(f"{store.PREFIX}:lock:{role}", timeout=ttl_s, blocking=False, thread_local=False)

    def held(self) -> bool:
        """Renew the lock if this process holds it, else try to take it; True if this process leads now."""
        try:
            if self.lock.owned():
                self.lock.reacquire()
                return True
            return bool(self.lock.acquire(blocking=False))
        except (LockError, redis.RedisError):
            return False
