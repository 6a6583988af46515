"""JSON text exactly as ``json.dumps`` writes it, in less time: what kc writes a thousand times in
a compile (each ``tojson``, each object's digest) and ``kc/plan.json``.

``json.dumps`` sets up an encoder for every call, which costs as much as encoding a small value;
``compact`` and ``canonical`` set theirs up once. With ``indent`` the standard library gives up
its C encoder for one made of Python generators; ``dumps`` walks the nesting in Python instead,
and each container that holds only scalars (most of them: ``kc/plan.json`` is mostly a list of
flat object entries) is written by the C encoder, whose item separator carries the line break
and the indentation (docs/performance.md). Whatever the C encoder refuses (a value that is not
JSON, a cycle) is left to ``json.dumps``, so errors are the standard library's own."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

_SCALARS = frozenset({str, int, bool, float, type(None)})
_CONTAINERS = frozenset({dict, list, tuple})
_quoted: Callable[[str], str] = json.encoder.encode_basestring


def compact(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False)``."""
    try:
        return "".join(_encoder(", ", ": ", False, False)(value, 0))
    except (TypeError, ValueError, RecursionError):
        return json.dumps(value, ensure_ascii=False)


def canonical(value: Any) -> str:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"))``: ASCII, keys sorted."""
    try:
        return "".join(_encoder(",", ":", True, True)(value, 0))
    except (TypeError, ValueError, RecursionError):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))


def dumps(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``."""
    out: list[str] = []
    try:
        _value(value, "", out)
    except (TypeError, RecursionError):  # not a plain tree: the standard library says why
        return json.dumps(value, indent=2, ensure_ascii=False)
    return "".join(out)


@functools.cache
def _encoder(item: str, key: str, ascii_only: bool, sort: bool) -> Callable[[Any, int], list[str]]:
    """The C encoder as ``json.dumps`` sets it up, without the check for cycles (a cycle
    recurses until the caller hands the value to ``json.dumps``), so that it keeps no state."""
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if make is None:
        raise TypeError("no C encoder")
    quote = json.encoder.encode_basestring_ascii if ascii_only else _quoted
    return make(None, _refuse, quote, None, key, item, sort, False, True)  # type: ignore[no-any-return]


def _refuse(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


def _flat(values: Any) -> bool:
    """Only scalars and empty containers, which the C encoder writes as ``indent`` would."""
    return _SCALARS.issuperset(map(type, values)) or all(
        type(v) in _SCALARS or (not v and type(v) in _CONTAINERS) for v in values
    )


def _value(value: Any, indent: str, out: list[str]) -> None:
    kind = type(value)
    if kind not in _CONTAINERS or not value:
        out.extend(_encoder(",\n", ": ", False, False)(value, 0))
        return
    inner = indent + "  "
    mapping = kind is dict
    if _flat(value.values() if mapping else value):
        text = "".join(_encoder(",\n" + inner, ": ", False, False)(value, 0))
        out.append(f"{text[0]}\n{inner}{text[1:-1]}\n{indent}{text[-1]}")
        return
    opening, closing = ("{", "}") if mapping else ("[", "]")
    separator = f"{opening}\n{inner}"
    if mapping:
        for key, item in value.items():
            if type(key) is not str:
                raise TypeError("a key that is not text")
            if type(item) is str:  # most values: text, written here rather than by a call
                out.append(f"{separator}{_quoted(key)}: {_quoted(item)}")
            else:
                out.append(f"{separator}{_quoted(key)}: ")
                _value(item, inner, out)
            separator = f",\n{inner}"
    else:
        for item in value:
            out.append(separator)
            _value(item, inner, out)
            separator = f",\n{inner}"
    out.append(f"\n{indent}{closing}")
