"""Imports: folders of patterns and spec fragments, named relative to the spec and kept inside
its directory tree unless ``--allow-outside`` is given."""

from __future__ import annotations

import os

from kc.compiler import diagnostics as diag
from kc.compiler import source
from kc.compiler.diagnostics import Pos


def resolve(
    doc: source.Document, entry: str, pos: Pos, allow_outside: bool
) -> tuple[str | None, diag.Diagnostic | None]:
    """The real path of an import, or the error that forbids it."""
    root = os.path.realpath(os.path.dirname(os.path.abspath(doc.file)))
    path = os.path.realpath(os.path.join(root, entry))
    if not allow_outside and os.path.commonpath([root, path]) != root:
        return None, diag.error(
            "KC207",
            pos,
            f"import '{entry}' is outside the spec's directory",
            "move it under the spec's directory, or pass --allow-outside",
        )
    if not os.path.exists(path):
        return None, diag.error("KC208", pos, f"import '{entry}' does not exist")
    return path, None


def entries(doc: source.Document) -> list[tuple[int, str]]:
    """The import entries that are text; validation reports the others."""
    found = doc.data.get("imports") if isinstance(doc.data, dict) else None
    return [(i, e) for i, e in enumerate(found) if isinstance(e, str)] if isinstance(found, list) else []


def display(doc: source.Document, entry: str) -> str:
    """A fragment's name in diagnostics: beside the spec's own name, as the user would type it."""
    return os.path.normpath(os.path.join(os.path.dirname(doc.file), entry))
