"""What one template render may cost. Patterns come from other people (a colleague's folder, a
pull request that ``kc compile --check`` runs on), so a template must not be able to hang kc or
exhaust its memory: strings and lists it builds, the loops it runs, the text it writes and its
time are all bounded. Each limit ends the render with a SecurityError, which the caller reports
at the template's line (KC502). docs/patterns.md lists the limits.

The limits live here, free of Jinja2, because both renderers enforce them: Jinja2's sandbox
(``sandbox.py``) raises, and the generated code (``runtime.py``) gives up and leaves the render to
Jinja2 well before a limit, so the error is always Jinja2's own."""

from __future__ import annotations

import contextvars
import time
from typing import Any

MAX_LENGTH = 1 << 20  # characters of a string, items of a list, that one operation may build
MAX_LOOPS = 1_000_000  # range() iterations in one render, all loops together
MAX_OUTPUT = 1 << 20  # characters one render may write (Kubernetes refuses larger objects anyway)
MAX_SECONDS = 5.0
MAX_RANGE = 100_000  # one range() at most: Jinja2's sandbox refuses longer ones (sandbox.MAX_RANGE)


class Budget:
    def __init__(self) -> None:
        self.loops = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def tick(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            from jinja2.exceptions import SecurityError  # only Jinja2's renders tick; it is loaded

            raise SecurityError(f"the template ran longer than {MAX_SECONDS:g}s ({what})")


_current: contextvars.ContextVar[Budget] = contextvars.ContextVar("budget")


def start() -> Budget:
    """A fresh budget for the render about to begin."""
    budget = Budget()
    _current.set(budget)
    return budget


def current() -> Budget:
    return _current.get()


_SEQUENCES = (str, bytes, list, tuple)


def built(operator: str, left: Any, right: Any) -> int:
    """How many characters or items ``left <operator> right`` builds (0: not a sequence)."""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, _SEQUENCES) and isinstance(count, int):
                return len(seq) * count
    if operator == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        return len(left) + len(right)
    return 0


def huge_power(left: Any, right: Any) -> bool:
    """``left ** right`` would have more than a thousand digits."""
    return isinstance(right, int) and right > 4096 and isinstance(left, int) and abs(left) > 1
