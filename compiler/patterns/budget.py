"""What one template render may cost. Patterns come from other people (a colleague's folder, a
pull request that ``kc compile --check`` runs on), so a template must not be able to hang kc or
exhaust its memory: strings and lists it builds, the loops it runs, the text it writes and its
time are all bounded. Each limit ends the render with a SecurityError, which the caller reports
at the template's line (KC502). docs/patterns.md lists the limits."""

from __future__ import annotations

import contextvars
import time
from collections.abc import Iterator
from typing import Any

from jinja2 import runtime, sandbox
from jinja2.exceptions import SecurityError

MAX_LENGTH = 1 << 20  # characters of a string, items of a list, that one operation may build
MAX_LOOPS = 1_000_000  # range() iterations in one render, all loops together
MAX_OUTPUT = 1 << 20  # characters one render may write (Kubernetes refuses larger objects anyway)
MAX_SECONDS = 5.0


class Budget:
    def __init__(self) -> None:
        self.loops = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def tick(self, what: str) -> None:
        if time.monotonic() > self.deadline:
            raise SecurityError(f"the template ran longer than {MAX_SECONDS:g}s ({what})")


_current: contextvars.ContextVar[Budget] = contextvars.ContextVar("budget")


def start() -> Budget:
    """A fresh budget for the render about to begin."""
    budget = Budget()
    _current.set(budget)
    return budget


_SEQUENCES = (str, bytes, list, tuple)


def _built(operator: str, left: Any, right: Any) -> int:
    """How many characters or items ``left <operator> right`` builds (0: not a sequence)."""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, _SEQUENCES) and isinstance(count, int):
                return len(seq) * count
    if operator == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        return len(left) + len(right)
    return 0


def _range(*args: int) -> Iterator[int]:
    budget = _current.get()
    for number in sandbox.safe_range(*args):  # itself at most MAX_RANGE long
        budget.loops += 1
        if budget.loops > MAX_LOOPS:
            raise SecurityError(f"the template's loops ran more than {MAX_LOOPS} times")
        if budget.loops % 4096 == 0:
            budget.tick("in a loop")
        yield number


class Sandbox(sandbox.ImmutableSandboxedEnvironment):
    """The immutable sandbox, with the size of what ``*``, ``+`` and ``**`` build checked first."""

    intercepted_binops = frozenset({"*", "+", "**"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _range

    def call_binop(self, context: runtime.Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and right > 4096 and isinstance(left, int) and abs(left) > 1:
            raise SecurityError(f"{left} ** {right} is too large for a template")  # 1000+ digits
        size = _built(operator, left, right)
        if size > MAX_LENGTH:
            raise SecurityError(f"the template builds a value of {size} items (at most {MAX_LENGTH})")
        return super().call_binop(context, operator, left, right)
