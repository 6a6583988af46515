"""What ``kc patterns`` and ``kc explain`` show of the patterns a user can name (the front end's
``known_patterns`` finds them)."""

from __future__ import annotations

import os

from kc.compiler.patterns import explain, registry


def public(patterns: dict[str, str]) -> dict[str, registry.Pattern]:
    """The patterns a stage may name, loaded, by name (kc's internal ones are left out)."""
    loaded = {name: registry.load(folder) for name, folder in sorted(patterns.items())}
    return {name: p for name, p in loaded.items() if not p.manifest.internal}


def listing(patterns: dict[str, str]) -> str:
    """One line per pattern: its name, its summary, and where it comes from unless built in."""
    lines = []
    for name, pattern in public(patterns).items():
        origin = "" if pattern.builtin else f"  [{os.path.relpath(pattern.folder)}]"
        if not pattern.builtin and name in registry.builtins():
            origin += " (overrides the built-in)"
        lines.append(f"{name:<12} {explain.summary(pattern)}{origin}")
    return "\n".join(lines) + "\n"
