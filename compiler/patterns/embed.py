"""Carrying structured values through template text without parsing them back.

``{{ container | tojson }}`` writes JSON, which is YAML, so the rendered text reads back to the
very value that went in. Reading it back is most of a pattern's cost, though: a container is the
bulk of a workload's text. So when a ``tojson`` mapping or list is written straight into the
output (not passed on to another filter), the text gets a short placeholder scalar instead and
the value itself is put back after parsing. A placeholder that lands inside other text (a
literal block, say) turns back into the JSON text, and a template whose YAML needs the value while
parsing (a merge key, ``<<: {{ base | tojson }}``) is rendered again without placeholders; so the
result is always the data the plain text would give, only parsed faster (docs/performance.md).
"""

from __future__ import annotations

import re
from typing import Any

MARK = "\ue000kc"  # a private-use character: no value kc renders starts with it
TABLE = "_kc_embedded"  # the context entry holding this render's values, or None for plain text
_INLINE = re.compile(f'"{MARK}([0-9]+)"')


class JSON(str):
    """``tojson``'s result: JSON text that still knows the value it was made from."""

    value: Any

    def __new__(cls, text: str, value: Any) -> JSON:
        out = super().__new__(cls, text)
        out.value = value
        return out


def placeholder(table: list[JSON] | None, value: Any) -> Any:
    """What a ``{{ … }}`` output writes for ``value``: an embedded structure becomes a placeholder.
    Both renderers call this on every output (Jinja2 through its ``finalize``, with this render's
    table from the context entry ``TABLE``), so they write the same text."""
    if table is not None and isinstance(value, JSON) and isinstance(value.value, dict | list) and value.value:
        table.append(value)
        return f'"{MARK}{len(table) - 1}"'
    return value


def restore(data: Any, table: list[JSON]) -> Any:
    """Put the embedded values back where their placeholders were parsed."""
    if isinstance(data, str):
        if MARK not in data:
            return data
        if data.startswith(MARK) and data[len(MARK) :].isdigit():
            return table[int(data[len(MARK) :])].value
        return _INLINE.sub(lambda m: str(table[int(m.group(1))]), data)
    if isinstance(data, dict):
        return {k: restore(v, table) for k, v in data.items()}
    if isinstance(data, list):
        return [restore(v, table) for v in data]
    return data
