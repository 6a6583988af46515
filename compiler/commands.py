"""What every kc command shares: its exit codes, diagnostics on the console, and the spec
compiled from its arguments."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from kc.compiler import diagnostics as diag
from kc.compiler import ir, passes, source
from kc.compiler.passes import profiles as overlays

EXIT_OK, EXIT_DIFFERENT, EXIT_INVALID, EXIT_CLUSTER, EXIT_TIMEOUT = 0, 1, 2, 3, 4
EXIT_INTERNAL = 70


class _Sources:
    """File contents for diagnostics, read on first use."""

    def __init__(self) -> None:
        self.cache: dict[str, str | None] = {}

    def get(self, path: str) -> str | None:
        if path == source.STDIN:
            return source.stdin_text()
        if path not in self.cache:
            try:
                with open(path, encoding="utf-8") as f:
                    self.cache[path] = f.read()
            except (OSError, UnicodeDecodeError):
                self.cache[path] = None
        return self.cache[path]


def use_color(stream: object) -> bool:
    """Colour only on a terminal, never with NO_COLOR (https://no-color.org) or TERM=dumb."""
    isatty = getattr(stream, "isatty", lambda: False)
    return bool(isatty()) and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def report(diagnostics: Sequence[diag.Diagnostic], fmt: str = "text", pending: str = "") -> None:
    """The diagnostics; ``pending`` names the checks that run once these are fixed."""
    if fmt == "json":
        sys.stdout.write(diag.render_json(diagnostics, pending))
    elif diagnostics:
        sys.stderr.write(diag.render_text(diagnostics, _Sources(), use_color(sys.stderr)))  # type: ignore[arg-type]
        if pending:
            sys.stderr.write(f"note: more checks ({pending}) run once these errors are fixed\n")


def options(args: argparse.Namespace) -> ir.Options:
    profiles = tuple(p for group in (args.profile or []) for p in group.split(",") if p)
    sets = [overlays.split_set(item) for item in args.set or []]
    return ir.Options(
        profiles=profiles,
        instance=args.instance,
        sets=tuple(sets),
        params=tuple(args.param or ()),
        policy_file=args.policy,
        ordering_annotations=args.ordering_annotations,
        allow_outside=args.allow_outside,
    )


def build(args: argparse.Namespace) -> ir.Program:
    """Load and compile the spec named on the command line."""
    return passes.run(source.load_file(args.spec), options(args))
