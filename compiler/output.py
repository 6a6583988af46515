"""Writing a compiled plan into an output directory, and checking one for staleness.

Compilation finishes in memory before anything is written, so a failed compile never touches the
directory. kc writes only into an empty directory or one it wrote before (it has ``kc/plan.json``),
and removes the bundle files of its own that the new plan no longer has.
"""

from __future__ import annotations

import os
import re

from kc.compiler import contract
from kc.compiler import diagnostics as diag
from kc.compiler.diagnostics import Pos

_OWN = re.compile(r"^[0-9]{2,}-.+\.yaml$")


def _own_files(root: str) -> set[str]:
    """Files in ``root`` that kc writes: bundle files, and everything in ``kc/``."""
    found = {f for f in os.listdir(root) if _OWN.match(f) and os.path.isfile(os.path.join(root, f))}
    kc_dir = os.path.join(root, "kc")
    if os.path.isdir(kc_dir):
        found |= {f"kc/{f}" for f in os.listdir(kc_dir) if os.path.isfile(os.path.join(kc_dir, f))}
    return found


def write(root: str, files: dict[str, str]) -> None:
    if os.path.exists(root) and not os.path.isdir(root):
        raise diag.CompileError([diag.error("KC601", Pos(root), "the output path exists and is not a directory")])
    if os.path.isdir(root) and os.listdir(root) and not os.path.isfile(os.path.join(root, contract.PLAN)):
        raise diag.CompileError(
            [
                diag.error(
                    "KC601",
                    Pos(root),
                    "the output directory is not empty and kc did not write it",
                    "name an empty or new directory",
                )
            ]
        )
    stale = _own_files(root) - set(files) if os.path.isdir(root) else set()
    for rel, content in sorted(files.items()):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
        os.replace(tmp, path)
    for rel in sorted(stale):
        os.remove(os.path.join(root, rel))


def stale(root: str, files: dict[str, str]) -> list[str]:
    """The paths whose content in ``root`` differs from ``files``, or that should not be there."""
    if not os.path.isdir(root):
        return sorted(files)
    out = [rel for rel in files if _read(os.path.join(root, rel)) != files[rel]]
    out += sorted(_own_files(root) - set(files))
    return sorted(out)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except OSError:
        return None
