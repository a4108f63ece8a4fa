"""Start a replay in the worker leading it, from its checkpoint to the end of the file."""

from __future__ import annotations

import logging
import threading

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from cityvitals import store
from cityvitals.metrics import registry
from feeds.ingest import Fenced, Ingestor
from feeds.registry import Adapter, FeedHost
from feeds.replay.config import ReplayFeedConfig
from feeds.replay.feed import ReplayFeed
from feeds.scheduling import lead

log = logging.getLogger(__name__)
REPLAY_CHECK_S = 2.0  # how often a standby asks for a replay's lead (its lock lapses 6 s after its leader's death)


def replay_feed(host: FeedHost, cfg: ReplayFeedConfig) -> ReplayFeed:
    """A replay feed over the host's store and grids (points located in them)."""
    ingestor = Ingestor(host.client, cfg.name, registry(), host.tree, locator=host.tree.grid_locator())
    return ReplayFeed(cfg, ingestor)


class LedReplay:
    """A replay run by the worker leading it: from the checkpoint to the end of the file, in a thread of its own.

    The leader's lock also fences the replay's writes (each is a transaction on the lock), so a worker
    that lost the lead mid-file stops; the next leader resumes at the checkpoint. The replay is done
    when the checkpoint (in Redis, whoever wrote it) reaches the end of the file.
    """

    def __init__(self, feed: ReplayFeed) -> None:
        self.feed = feed
        self.done = False
        self._thread: threading.Thread | None = None

    def __call__(self) -> None:
        """Start (or resume) the replay unless it runs or is done; called while this process leads it."""
        if self.done or self.feed.stopped or (self._thread is not None and self._thread.is_alive()):
            return
        self._thread = threading.Thread(target=self._run, name=f"replay-{self.feed.cfg.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        name = self.feed.cfg.name
        try:
            self.feed.run(progress=False)
            delivered = store.read_checkpoint(self.feed.ingestor.client, self.feed.checkpoint_field)
            self.done = self.feed.rows is not None and delivered >= self.feed.rows
        except Fenced:
            log.warning("replay %s: another worker leads it now; it resumes at the checkpoint", name)
        except redis.RedisError as exc:  # the next round (while this worker leads) resumes at the checkpoint
            log.warning("replay %s: stopped by a Redis error: %s", name, exc)
        except (OSError, ValueError):  # a file that cannot be read: said once, not retried every round
            log.exception("replay %s failed; not retried", name)
            self.done = True
            return
        if self.done:
            log.info("replay %s: the whole file is delivered", name)

    def stop(self) -> None:
        """Stop after the batch in progress (the checkpoint says where the next run resumes)."""
        self.feed.stopped = True
        if self._thread is not None:
            self._thread.join(15)


def start_replay(host: FeedHost, cfg: ReplayFeedConfig, scheduler: BackgroundScheduler) -> LedReplay:
    """Replay a file once, in the worker leading it, resuming from its checkpoint."""
    feed = replay_feed(host, cfg)
    runner = LedReplay(feed)
    feed.ingestor.fence = lead(host.client, cfg.name, REPLAY_CHECK_S, runner, scheduler).leadership
    return runner


ADAPTER = Adapter(ReplayFeedConfig, start_replay)
