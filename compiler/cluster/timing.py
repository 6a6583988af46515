"""How long things took, and the polling that waits use (durations are read by schemas/units.py).

Gates watch where the cluster lets them; the rest of kc's waits (and gates on a cluster that
refuses watches) poll: quickly at first, then every couple of seconds, never more than
``MAX_INTERVAL``."""

from __future__ import annotations

import time
from collections.abc import Iterator

MAX_INTERVAL = 2.0


def text(seconds: float) -> str:
    """``4s``, ``2m05s``: how long something took or may take."""
    whole = round(seconds)
    if whole < 60:
        return f"{seconds:.1f}s" if seconds < 10 and seconds != whole else f"{whole}s"
    minutes, rest = divmod(whole, 60)
    return f"{minutes}m{rest:02d}s"


def intervals(first: float = 0.1) -> Iterator[float]:
    """How long to sleep between polls: doubling from ``first`` up to ``MAX_INTERVAL``."""
    interval = first
    while True:
        yield interval
        interval = min(interval * 2, MAX_INTERVAL)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    @property
    def left(self) -> float:
        return self.seconds - self.elapsed

    @property
    def passed(self) -> bool:
        return self.left <= 0

    def sleep(self, interval: float) -> None:
        """Sleep ``interval``, but not past the deadline."""
        time.sleep(max(0.0, min(interval, self.left)))
