"""Writing a compiled plan into an output directory, and checking one for staleness.

Compilation finishes in memory before anything is written, so a failed compile never touches the
directory. The files are then rendered one at a time, each into a temporary file beside its
place, so a large plan's files are never all in memory at once; only when every one is written
do they replace the old ones. kc writes only into an empty directory or one it wrote before (it
has ``kc/plan.json``), and removes the bundle files of its own that the new plan no longer has.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Iterable

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


def write(root: str, files: Iterable[tuple[str, str]]) -> None:
    """Write ``files``, (relative path, content) pairs, into ``root``; a directory kc cannot
    write (read-only, immutable, or a path through a file) is a KC604 error, not a crash."""
    try:
        _write(root, files)
    except OSError as exc:
        raise diag.CompileError([_unwritable(root, exc)]) from None


def _unwritable(root: str, exc: OSError) -> diag.Diagnostic:
    where = (
        f" ({exc.filename})" if exc.filename and os.path.normpath(str(exc.filename)) != os.path.normpath(root) else ""
    )
    if exc.errno == errno.ENOTDIR:
        hint = "a part of the path is a file, not a directory: name a directory"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "the directory (or one above it) is read-only or immutable: name one kc may write"
    else:
        hint = "name another directory"
    return diag.error("KC604", Pos(root), f"cannot write the output directory: {exc.strerror or exc}{where}", hint)


def _write(root: str, files: Iterable[tuple[str, str]]) -> None:
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
    own = _own_files(root) if os.path.isdir(root) else set()
    written: list[str] = []
    try:
        for rel, content in files:
            path = os.path.join(root, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(f"{path}.tmp", "w", encoding="utf-8", newline="\n") as f:
                written.append(rel)
                f.write(content)
    except BaseException:
        for rel in written:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(root, f"{rel}.tmp"))
        raise
    for rel in sorted(written):
        path = os.path.join(root, rel)
        os.replace(f"{path}.tmp", path)
    for rel in sorted(own - set(written)):
        os.remove(os.path.join(root, rel))


def stale(root: str, files: Iterable[tuple[str, str]]) -> list[str]:
    """The paths whose content in ``root`` differs from ``files``, or that should not be there."""
    out, names = [], set()
    for rel, content in files:
        names.add(rel)
        if _read(os.path.join(root, rel)) != content:
            out.append(rel)
    if os.path.isdir(root):
        out += _own_files(root) - names
    return sorted(out)


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            return f.read()
    except OSError:
        return None
