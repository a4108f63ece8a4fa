"""One leader per periodic role, however many processes run: a Redis lock the holder keeps renewing.

A process that does not hold the lock stands by; when the holder stops renewing (it died or
hangs), the lock expires after ``ttl_s`` and the next process to ask takes the role over.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import redis
from apscheduler.schedulers.base import BaseScheduler
from redis.cluster import RedisCluster
from redis.exceptions import LockError, WatchError

from cityvitals import store

log = logging.getLogger(__name__)

MAX_LEASE_S = 15.0  # a led job's lock: a crashed leader holds its role this long at most (the engine's at 5 s ticks)


class Leadership:
    """Who leads ``role``: ask :meth:`held` before each round of the role's work.

    Once taken, the lock is renewed by a thread every third of its TTL, so a round that lasts
    longer than the TTL (the first tick at scale takes tens of seconds) keeps the role. Renewal
    stops when no round has begun for ``max_round_s``: a leader that hangs lets the lock lapse.
    """

    def __init__(self, client: redis.Redis, role: str, ttl_s: float, max_round_s: float = 600.0) -> None:
        self.role, self.ttl_s, self.max_round_s = role, ttl_s, max_round_s
        # thread_local=False: rounds and the renewal run on different threads of this process
        self.lock = client.lock(store.lock_key(role), timeout=ttl_s, blocking=False, thread_local=False)
        self._round_began = time.monotonic()
        self._renewer: threading.Thread | None = None
        self._released = threading.Event()

    def held(self) -> bool:
        """Renew the lock if this process holds it, else try to take it; True if this process leads now."""
        try:
            return self.take()
        except redis.RedisError:
            return False

    def take(self) -> bool:
        """:meth:`held`, but a Redis error is raised: "Redis is away" is not "another process leads"."""
        self._round_began = time.monotonic()
        self._released.clear()
        try:
            if self.lock.owned():
                self.lock.reacquire()
            elif not self.lock.acquire(blocking=False):
                return False
        except LockError:
            return False
        if self._renewer is None or not self._renewer.is_alive():  # it ends on a Redis error
            self._renewer = threading.Thread(target=self._renew, name=f"lead-{self.role}", daemon=True)
            self._renewer.start()
        return True

    def write(self, queue: Callable[[redis.client.Pipeline], None]) -> bool:
        """Write what ``queue`` puts on a pipeline only while this process leads; False (nothing written) if not.

        On one Redis server the writes are a transaction that WATCHes the lock: if the lock lapsed or
        changed hands since it was checked (this process stalled in between, say), nothing is written.
        A Redis Cluster cannot watch a key in another slot than the writes': there the lock is checked
        just before the write, and a stall between the two can still let one write through.
        """
        client = self.lock.redis
        while self.take():
            if isinstance(client, RedisCluster):
                pipe = client.pipeline(transaction=False)
                queue(pipe)
                pipe.execute()
                return True
            with client.pipeline(transaction=True) as pipe:
                try:
                    pipe.watch(self.lock.name)
                    if not self._owned_on(pipe):
                        continue
                    pipe.multi()
                    queue(pipe)
                    pipe.execute()
                    return True
                except WatchError:  # the lock was touched meanwhile (renewed, or taken over): ask again
                    continue
        return False

    def _owned_on(self, pipe: redis.client.Pipeline) -> bool:
        """Whether the lock holds this process's token, read on a pipeline that WATCHes it."""
        stored = pipe.get(self.lock.name)
        if isinstance(stored, str):
            stored = stored.encode()
        return stored is not None and stored == self.lock.local.token

    def release(self) -> None:
        """Stop leading: end the renewal and free the lock at once, so a standby need not wait for it to lapse."""
        self._released.set()
        try:
            self.lock.release()
        except (LockError, redis.RedisError):
            pass  # not held (any more): nothing to free
        if self._renewer is not None:
            self._renewer.join()

    def _renew(self) -> None:
        while time.monotonic() - self._round_began < self.max_round_s:
            if self._released.wait(self.ttl_s / 3):
                return
            try:
                if not self.lock.owned():
                    return
                self.lock.reacquire()
            except (LockError, redis.RedisError):
                return


class LedJob:
    """A periodic job that runs only in the process leading its role (one feed's rounds, say).

    The lock lives three periods but at most :data:`MAX_LEASE_S`: the renewal thread keeps it between
    rounds and through a slow one, so a long period needs no long lease, and a standby (or the same
    process restarted after a crash) takes the job over within that and one period of the leader's
    death. ``on_loss`` is called when another
    process took the role over (a subscription to close, say); while Redis does not answer,
    nobody is known to lead and nothing changes but that the job is not run.
    """

    def __init__(self, client: redis.Redis, role: str, period_s: float, job: Callable[[], object],
                 on_loss: Callable[[], object] | None = None) -> None:
        self.leadership = Leadership(client, role, ttl_s=min(max(3 * period_s, 3.0), MAX_LEASE_S),
                                     max_round_s=max(600.0, 3 * period_s))
        self.role, self.job, self.on_loss = role, job, on_loss
        self.leading: bool | None = None  # not asked yet: the first answer is logged either way

    def __call__(self) -> None:
        """Run the job if this process leads its role (taking the role if nobody holds it)."""
        try:
            leads = self.leadership.take()
        except redis.RedisError:
            return
        if leads != self.leading:
            log.info("%s: %s", self.role, "leading now" if leads else "standing by (another process leads)")
            if self.leading and self.on_loss is not None:
                self.on_loss()
            self.leading = leads
        if leads:
            self.job()


def shut_down(scheduler: BaseScheduler, *held: Leadership, then: Callable[[], object] = lambda: None) -> None:
    """Stop ``scheduler`` (a round in progress ends first), call ``then``, and free every lock this process led by.

    The locks are those in ``held`` and those of the scheduler's :class:`LedJob` jobs. Freed at once, a
    standby or this process restarted takes each role at its next round: left to lapse, a clean restart
    stood by for a whole period (the simulator's 60 s). ``then`` runs while the locks still fence this
    process's writes (a feed writing what it holds, say).
    """
    led = [job.func.leadership for job in scheduler.get_jobs() if isinstance(job.func, LedJob)]
    scheduler.shutdown(wait=True)
    then()
    for leadership in (*held, *led):
        leadership.release()
