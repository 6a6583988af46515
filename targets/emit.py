"""Canonical YAML: ``apiVersion, kind, metadata`` first, labels and annotations sorted, other keys
in the order the patterns build them; two-space block style, literal blocks for multi-line text,
LF endings, a final newline.

kc writes YAML itself rather than through PyYAML's representer: manifests are only mappings,
sequences, text, numbers, booleans and nulls, and a direct writer with a cached quoting decision
per string is several times faster (docs/performance.md). Whether a string may stay plain is still
PyYAML's resolver's call, so what is written reads back as exactly the same data (a property test
checks the round trip).
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

import yaml

_FIRST = ("apiVersion", "kind", "metadata")
_META_FIRST = ("name", "namespace", "labels", "annotations")
_STR_TAG = "tag:yaml.org,2002:str"
# A plain scalar must not start with an indicator, and must not hold ": " or " #" (a mapping value
# or a comment would start there); anything else printable may follow.
_PLAIN = re.compile(r"(?:[A-Za-z0-9_./~+=$(]|-(?=[^ ]))[^\x00-\x1f\x7f]*")
_UNSAFE_INSIDE = (": ", " #", "\t")
_resolver = yaml.resolver.Resolver()
# What YAML cannot hold raw, plus the characters it reads as line breaks or a byte-order mark.
_ESCAPE_ASCII = re.compile("[^\x09\x0a\x20-\x7e]")


@functools.cache
def _escape_unicode() -> re.Pattern[str]:
    # Compiling this class costs more than the rest of the module; most output is ASCII.
    return re.compile("[^\x09\x0a\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]")


def _escape(text: str) -> re.Pattern[str]:
    return _ESCAPE_ASCII if text.isascii() else _escape_unicode()


def _printable(text: str) -> bool:
    return not _escape(text).search(text)


def _quoted(value: str) -> str:
    """JSON's double-quoted form is YAML's too; escape what YAML would not keep as it is."""
    text = json.dumps(value, ensure_ascii=False)
    return _escape(text).sub(lambda m: f"\\u{ord(m.group()):04x}", text)


@functools.cache
def _text(value: str) -> str:
    """A string as a plain scalar when it reads back as the same string, else double-quoted."""
    if (
        _PLAIN.fullmatch(value)
        and _printable(value)
        and not value.endswith((" ", ":"))
        and not value.startswith(("---", "..."))  # a document marker at the start of a line
        and not any(bad in value for bad in _UNSAFE_INSIDE)
        and _resolver.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG  # type: ignore[no-untyped-call]
    ):
        return value
    return _quoted(value)


def _literal(value: str, indent: str) -> str | None:
    """Multi-line text as a literal block, when a literal block can hold it exactly."""
    if value.startswith((" ", "\n")) or value.endswith("\n\n") or "\r" in value or not _printable(value):
        return None
    body = value[:-1] if value.endswith("\n") else value
    lines = body.split("\n")
    if any(line.strip(" ") == "" and line for line in lines):
        return None  # a line of only spaces would read back empty
    if lines[0].startswith("\t"):
        return None  # libyaml finds a block's indentation on its first line, and refuses a tab there
    chomp = "" if value.endswith("\n") else "-"
    inner = indent + "  "
    return f"|{chomp}\n" + "\n".join(inner + line if line else "" for line in lines)


def _float(value: float) -> str:
    if math.isnan(value):
        return ".nan"
    if math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    text = repr(value)
    # YAML 1.1 floats need a dot ("1e-05" would read back as text).
    return text if "." in text else text.replace("e", ".0e", 1)


def _scalar(value: Any, indent: str) -> str:
    if isinstance(value, str):
        if "\n" in value:
            block = _literal(value, indent)
            if block is not None:
                return block
        return _text(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def scalar(value: str | int | float | bool | None, indent: str) -> str:
    """A scalar as ``document`` writes it after ``key: `` at ``indent``."""
    return _text(value) if type(value) is str and "\n" not in value else _scalar(value, indent)


def _block(value: dict[str, Any] | list[Any], indent: str, out: list[str]) -> None:
    # Every write's hot path: a one-line string is written without _scalar's checks.
    if isinstance(value, dict):
        for key, item in value.items():
            name = _text(str(key))
            kind = type(item)
            if kind is str and "\n" not in item:
                out.append(f"{indent}{name}: {_text(item)}\n")
            elif kind is int:
                out.append(f"{indent}{name}: {item}\n")
            elif kind is bool:
                out.append(f"{indent}{name}: {'true' if item else 'false'}\n")
            elif isinstance(item, dict) and item:
                out.append(f"{indent}{name}:\n")
                _block(item, indent + "  ", out)
            elif isinstance(item, list) and item:
                # Sequences in mappings sit at the key's own indentation, as kubectl writes them.
                out.append(f"{indent}{name}:\n")
                _block(item, indent, out)
            else:
                out.append(f"{indent}{name}: {_scalar(item, indent)}\n")
        return
    for item in value:
        if type(item) is str and "\n" not in item:
            out.append(f"{indent}- {_text(item)}\n")
        elif isinstance(item, dict | list) and item:
            start = len(out)
            _block(item, indent + "  ", out)
            out[start] = f"{indent}- {out[start][len(indent) + 2 :]}"
        else:
            out.append(f"{indent}- {_scalar(item, indent + '  ')}\n")


def _metadata(meta: dict[str, Any]) -> dict[str, Any]:
    out = {k: meta[k] for k in _META_FIRST if k in meta}
    for key in ("labels", "annotations"):
        if key in out:
            out[key] = dict(sorted(out[key].items()))
    out.update((k, v) for k, v in meta.items() if k not in out)
    return out


def canonical(manifest: dict[str, Any]) -> dict[str, Any]:
    out = {k: manifest[k] for k in _FIRST if k in manifest}
    if "metadata" in out:
        out["metadata"] = _metadata(out["metadata"])
    out.update((k, v) for k, v in manifest.items() if k not in out)
    return out


def document(data: dict[str, Any] | list[Any]) -> str:
    """One YAML document for a mapping or sequence, without a leading ``---``."""
    if not data:
        return _scalar(data, "") + "\n"
    out: list[str] = []
    _block(data, "", out)
    return "".join(out)


def dump(manifests: list[dict[str, Any]]) -> str:
    """Documents, each opened by ``---``."""
    return "".join("---\n" + document(canonical(m)) for m in manifests)
