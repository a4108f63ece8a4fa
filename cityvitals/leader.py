"""One leader per periodic role, however many processes run: a Redis lock the holder keeps renewing.

A process that does not hold the lock stands by; when the holder stops renewing (it died or
hangs), the lock expires after ``ttl_s`` and the next process to ask takes the role over.
"""

from __future__ import annotations

import threading
import time

import redis
from redis.exceptions import LockError

from cityvitals import store


class Leadership:
    """Who leads ``role``: ask :meth:`held` before each round of the role's work.

    Once taken, the lock is renewed by a thread every third of its TTL, so a round that lasts
    longer than the TTL (the first tick at scale takes tens of seconds) keeps the role. Renewal
    stops when no round has begun for ``max_round_s``: a leader that hangs lets the lock lapse.
    """

    def __init__(self, client: redis.Redis, role: str, ttl_s: float, max_round_s: float = 600.0) -> None:
        self.role, self.ttl_s, self.max_round_s = role, ttl_s, max_round_s
        # thread_local=False: rounds and the renewal run on different threads of this process
        self.lock = client.lock(f"{store.PREFIX}:lock:{role}", timeout=ttl_s, blocking=False, thread_local=False)
        self._round_began = time.monotonic()
        self._renewer: threading.Thread | None = None

    def held(self) -> bool:
        """Renew the lock if this process holds it, else try to take it; True if this process leads now."""
        self._round_began = time.monotonic()
        try:
            if self.lock.owned():
                self.lock.reacquire()
                return True
            if not self.lock.acquire(blocking=False):
                return False
        except (LockError, redis.RedisError):
            return False
        if self._renewer is None or not self._renewer.is_alive():
            self._renewer = threading.Thread(target=self._renew, name=f"lead-{self.role}", daemon=True)
            self._renewer.start()
        return True

    def _renew(self) -> None:
        while time.monotonic() - self._round_began < self.max_round_s:
            time.sleep(self.ttl_s / 3)
            try:
                if not self.lock.owned():
                    return
                self.lock.reacquire()
            except (LockError, redis.RedisError):
                return
