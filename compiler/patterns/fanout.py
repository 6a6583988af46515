"""Fan-out: a stage with ``each: [a, b, c]`` or ``shards: N`` runs as an Indexed Job, one pod per
item (docs/patterns.md, "Fan-out and fan-in").

Every pod learns its completion index from the annotation the Job controller sets on it, as
``KC_INDEX``. For shards the item is the index, so ``KC_ITEM`` comes from the same annotation and
``${item}`` becomes ``$(KC_ITEM)``, which the kubelet expands: any image works. A list of items
needs a table from index to item, which nothing in a pod spec can look up, so the container runs
its command through ``/bin/sh`` with one line per item: the command and arguments with the item
written in, and ``KC_ITEM`` exported. Items are DNS labels, safe as words and directory names.

An item's outputs are the directory ``<stage>/<output>/<index>`` on the data claim, mounted where
an unfanned stage's output is; a reader mounts each item's directory under the input's, by item.
"""

from __future__ import annotations

import re
from typing import Any

INDEX = "KC_INDEX"
ITEM = "KC_ITEM"
REFERENCE = "${item}"
INDEX_FIELD = "metadata.annotations['batch.kubernetes.io/job-completion-index']"
# What the kubelet would expand in the script's text: kc's own variables, given to sh instead.
_VARIABLE = re.compile(r"\$\((KC_[A-Z0-9_]+)\)")


def _from_index(name: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": INDEX_FIELD}}}


def _word(text: str) -> str:
    """``text`` as one sh word: literal parts single-quoted, kc's variables read by sh."""
    parts = []
    for index, piece in enumerate(_VARIABLE.split(text)):
        if index % 2:
            parts.append(f'"${piece}"')
        elif piece:
            parts.append("'" + piece.replace("'", "'\\''") + "'")
    return "".join(parts) or "''"


def _script(items: list[str], argv: list[str], env: list[tuple[str, str]]) -> str:
    lines = [f'case "${INDEX}" in']
    for index, item in enumerate(items):
        exports = "".join(f"export {name}={_word(value.replace(REFERENCE, item))}; " for name, value in env)
        words = " ".join(_word(arg.replace(REFERENCE, item)) for arg in argv)
        lines.append(f"{index}) {ITEM}={item}; {exports}set -- {words};;")
    lines.append(f'*) echo "kc: no item for completion index ${INDEX}" >&2; exit 1;;')
    lines += ["esac", f"export {ITEM}", 'exec "$@"']
    return "\n".join(lines) + "\n"


def container(main: dict[str, Any], items: list[str], shards: bool) -> dict[str, Any]:
    """The main container of every item's pod; for a list of items, run through sh."""
    out = dict(main)
    env = list(main.get("env") or [])
    if shards:
        out["env"] = [_from_index(INDEX), _from_index(ITEM), *_substituted(env)]
        for key in ("command", "args"):
            if key in main:
                out[key] = [a.replace(REFERENCE, f"$({ITEM})") for a in main[key]]
        return out
    if "command" not in main:  # expand reports it: sh has nothing to run
        return out
    per_item = [(e["name"], e["value"]) for e in env if REFERENCE in str(e.get("value", ""))]
    fixed = [e for e in env if REFERENCE not in str(e.get("value", ""))]
    out["env"] = [_from_index(INDEX), *fixed]
    argv = [*main["command"], *(main.get("args") or [])]
    out["command"] = ["sh", "-c", _script(items, argv, per_item)]
    out.pop("args", None)
    return out


def _substituted(env: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**e, "value": e["value"].replace(REFERENCE, f"$({ITEM})")} if REFERENCE in str(e.get("value", "")) else e
        for e in env
    ]


def writer_mount(stage: str, output: str) -> dict[str, Any]:
    """One item's output directory, where an unfanned stage's output is mounted."""
    return {"name": "data", "mountPath": f"/data/out/{output}", "subPathExpr": f"{stage}/{output}/$({INDEX})"}


def reader_mounts(name: str, producer: str, output: str, items: list[str]) -> list[dict[str, Any]]:
    """A fanned-out output read as input ``name``: every item's directory, under its item."""
    return [
        {
            "name": "data",
            "mountPath": f"/data/in/{name}/{item}",
            "subPath": f"{producer}/{output}/{index}",
            "readOnly": True,
        }
        for index, item in enumerate(items)
    ]
