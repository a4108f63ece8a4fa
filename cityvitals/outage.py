"""Say once when a repeating job starts failing and once when it works again, not on every round."""

from __future__ import annotations

import logging


class Outage:
    """Whether a repeating job (a feed round, an archive write) is failing, logged at its edges only."""

    def __init__(self, log: logging.Logger) -> None:
        self.log = log
        self.failing = False

    def failed(self, message: str, *args: object) -> None:
        """Record a failed round; log ``message`` (a warning) only if the previous round worked."""
        if not self.failing:
            self.log.warning(message, *args)
        self.failing = True

    def worked(self, message: str, *args: object) -> None:
        """Record a round that worked; log ``message`` only if the previous one failed."""
        if self.failing:
            self.log.info(message, *args)
        self.failing = False
