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


def display(doc: source.Document, entry: str, found: str = "") -> str:
    """A fragment's name in diagnostics: beside the spec's own name, as the user would type it
    (a fragment ``found`` in an imported folder, under the folder's name)."""
    named = os.path.join(entry, os.path.basename(found)) if found else entry
    return os.path.normpath(os.path.join(os.path.dirname(doc.file), named))


# The spec fragments in an imported folder: its files ending in this, in name order (pattern
# folders beside them hold YAML templates, which are no fragments).
FRAGMENT_SUFFIX = ".spec"


def fragments_in(doc: source.Document, folder: str) -> list[str]:
    """The spec fragments directly in ``folder``, in name order; the spec itself is not one."""
    own = os.path.realpath(doc.file) if doc.file != source.STDIN else ""
    names = sorted(n for n in os.listdir(folder) if n.endswith(FRAGMENT_SUFFIX))
    paths = [os.path.join(folder, n) for n in names]
    return [p for p in paths if os.path.isfile(p) and os.path.realpath(p) != own]


def empty_folder(entry: str, pos: Pos) -> diag.Diagnostic:
    return diag.error(
        "KC208",
        pos,
        f"import '{entry}' holds neither patterns nor spec fragments",
        "a folder import holds pattern folders (each with pattern.yaml) or spec fragments "
        f"('*{FRAGMENT_SUFFIX}' files with 'stages:'); name a fragment file itself to import one of another name",
    )
