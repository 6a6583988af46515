"""Progress on standard error: one line that updates in place on a terminal, plain lines that
say when something starts or ends otherwise (CI logs), and never anything on standard output."""

from __future__ import annotations

import os
import shutil
from typing import TextIO

_CLEAR = "\r\033[K"


class Progress:
    def __init__(self, stream: TextIO, color: bool = False, live: bool | None = None) -> None:
        self.stream = stream
        isatty = getattr(stream, "isatty", lambda: False)
        self.live = bool(isatty()) and os.environ.get("TERM") != "dumb" if live is None else live
        self.color = color
        self._shown = False

    def status(self, text: str, end: str = "") -> None:
        """A transient state ("waiting … 3/4 ready (12s)"): shown only on a terminal, cut to its
        width; ``end`` ("(12s)") is never cut."""
        if not self.live:
            return
        width = max(shutil.get_terminal_size().columns - 1 - len(end), 20)
        self.stream.write(_CLEAR + (text if len(text) <= width else text[: width - 1] + "…") + end)
        self.stream.flush()
        self._shown = True

    def note(self, text: str) -> None:
        """A state worth one line in a log (a wait begins), and a transient one on a terminal."""
        if self.live:
            self.status(text)
        else:
            self.line(text)

    def line(self, text: str, code: str = "") -> None:
        """A line that stays: what was applied, which gate passed, what was kept."""
        if self._shown:
            self.stream.write(_CLEAR)
            self._shown = False
        self.stream.write((f"\033[{code}m{text}\033[0m" if code and self.color else text) + "\n")
        self.stream.flush()

    def clear(self) -> None:
        if self._shown:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._shown = False
