"""What the Python generated from a template (codegen.py) calls, without Jinja2.

Each function gives exactly what Jinja2's immutable sandbox gives for the same values, or raises.
Raising anything means "not sure": the caller then renders the template again through Jinja2,
which writes the exact output or raises the exact error it always did. So the rules here are
narrower than Jinja2's (only plain dicts, lists, tuples and strings are looked into; a missing
key is never an undefined value), never wider: a lookup Jinja2 would refuse or leave undefined
always raises here. Budget limits (budget.py) are kept the same way: the generated code gives up
before Jinja2 would refuse, and Jinja2 reports the limit."""

from __future__ import annotations

import operator
import re
import time
import types
from collections.abc import Callable, Iterable
from typing import Any

from kc.compiler.patterns import budget, embed, filters

MAX_OUTPUT = budget.MAX_OUTPUT
# The generated code gives up after this long, so a template that would run into Jinja2's time
# limit costs at most this much more before Jinja2 renders it and reports the limit.
MAX_SECONDS = 1.0
RANGE = object()  # stands for Jinja2's global range(), unless the context has its own

kc = filters.FILTERS  # kc's own filters: the very functions Jinja2 is given


class Abandon(Exception):
    """The generated code met something it is not sure of: Jinja2 renders the template."""


class Meter:
    """A render's loop count and clock."""

    __slots__ = ("loops", "started")

    def __init__(self) -> None:
        self.loops = 0
        self.started = time.monotonic()

    def late(self) -> bool:
        return time.monotonic() - self.started > MAX_SECONDS


def loop_range(meter: Meter, func: object, *args: int) -> range:
    """``range(…)`` as a loop's iterable, counted against the loop budget."""
    if func is not RANGE:
        raise Abandon("the context has its own range")
    numbers = range(*args)
    meter.loops += len(numbers)
    if len(numbers) > budget.MAX_RANGE or meter.loops > budget.MAX_LOOPS:
        raise Abandon("the loop budget")
    return numbers


# Names on a dict that Jinja2 finds as attributes (methods) before it looks for a key.
_DICT_ATTRIBUTES = frozenset(dir(dict))


def attr(obj: Any, name: str) -> Any:
    """``obj.name``: Jinja2 tries the attribute first, then the item."""
    if type(obj) is dict and name not in _DICT_ATTRIBUTES:
        return obj[name]
    raise Abandon(f"attribute {name!r}")


def item(obj: Any, key: Any) -> Any:
    """``obj[key]``: the item; a missing one raises (Jinja2 would try the attribute)."""
    kind = type(obj)
    if kind is dict or kind is list or kind is tuple or kind is str:
        return obj[key]
    raise Abandon(f"item {key!r}")


def has_attr(obj: Any, name: str) -> bool:
    """``obj.name is defined``."""
    if type(obj) is dict and name not in _DICT_ATTRIBUTES:
        return name in obj
    raise Abandon(f"attribute {name!r}")


def has_item(obj: Any, key: Any) -> bool:
    """``obj[key] is defined``: without the key, Jinja2 would still find a dict's methods."""
    if type(obj) is dict and not (isinstance(key, str) and key in _DICT_ATTRIBUTES):
        return key in obj
    raise Abandon(f"item {key!r}")


def get(obj: Any, *args: Any) -> Any:
    """``obj.get(key[, default])`` on a dict: a method the sandbox allows."""
    if type(obj) is dict and 1 <= len(args) <= 2:
        return obj.get(*args)
    raise Abandon("get")


def call(func: Any, *args: Any, **kwargs: Any) -> Any:
    """A call the sandbox would make the same way: Jinja2's ``dict``, or a plain function of the
    context (``child``) that asks Jinja2 for nothing (no pass_context, not marked unsafe)."""
    if func is dict:
        return dict(*args, **kwargs)
    if (
        type(func) is types.FunctionType
        and not hasattr(func, "jinja_pass_arg")
        and not getattr(func, "unsafe_callable", False)
        and not getattr(func, "alters_data", False)
    ):
        return func(*args, **kwargs)
    raise Abandon("call")


def add(left: Any, right: Any) -> Any:
    if budget.built("+", left, right) > budget.MAX_LENGTH:
        raise Abandon("size")
    return left + right


def mul(left: Any, right: Any) -> Any:
    if budget.built("*", left, right) > budget.MAX_LENGTH:
        raise Abandon("size")
    return left * right


def power(left: Any, right: Any) -> Any:
    if budget.huge_power(left, right):
        raise Abandon("size")
    return left**right


def concat(*values: Any) -> str:
    """``a ~ b``."""
    return "".join([str(v) for v in values])


def text(table: list[embed.JSON] | None, value: Any) -> str:
    """What ``{{ value }}`` writes: Jinja2 finalizes (embed.py), then converts to text."""
    if type(table) is Holes:
        return table.hole(value)
    if type(value) is str:
        return value
    return str(embed.placeholder(table, value))


# A value that reads back as its own text in every YAML context it can land in (plain, quoted or
# block scalar, key or value, flow or block), and cannot start an indicator: skeleton.py.
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,62}")
HOLE, HOLE_END = "\ue001", "\ue002"  # private-use characters around a hole's number


class Holes(list[Any]):
    """The table of a skeleton render (skeleton.py): embedded structures as in embed.py, and the
    text of each output that is safe to leave out, whose place the text keeps as a numbered hole."""

    scalars = 0

    def hole(self, value: Any) -> str:
        out = value if type(value) is str else str(embed.placeholder(self, value))
        if _SAFE.fullmatch(out):
            inner, quote = out, ""
        elif len(out) > 2 and out[0] == '"' == out[-1] and _SAFE.fullmatch(out, 1, len(out) - 1):
            inner, quote = out[1:-1], '"'  # a string's JSON: the quotes stay in the text
        else:
            return out
        self.append(inner)
        self.scalars += 1
        return f"{quote}{HOLE}{len(self) - 1}{HOLE_END}{quote}"


def no_holes(table: list[embed.JSON] | None) -> None:
    """A block ``set`` captures output as a value the template may go on to change, so a skeleton
    render gives up there."""
    if type(table) is Holes:
        raise Abandon("holes in a captured block")


# --- Jinja2's built-in filters that the built-in patterns use ----------------------------------


def _lower(pair: tuple[Any, Any]) -> Any:
    key = pair[0]
    return key.lower() if isinstance(key, str) else key


def dictsort(value: Any) -> list[tuple[Any, Any]]:
    """``dictsort``: items by key, case-insensitively."""
    if type(value) is not dict:
        raise Abandon("dictsort")
    return sorted(value.items(), key=_lower)


def string(value: Any) -> Any:
    """``string``: text stays the very value it was (a ``tojson`` result stays one)."""
    return value if isinstance(value, str) else str(value)


def replace(value: Any, old: Any, new: Any) -> str:
    return str(value).replace(str(old), str(new), -1)


def to_list(value: Any) -> list[Any]:
    return list(value)


def _path(value: Any, attribute: str) -> Any:
    """An item's ``a.b.0``, as Jinja2's attribute getter reads it (items by key or index)."""
    for part in attribute.split("."):
        value = item(value, int(part) if part.isdigit() else part)
    return value


_TESTS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "equalto": operator.eq,
    "==": operator.eq,
    "ne": operator.ne,
    "!=": operator.ne,
}
TESTS = frozenset(_TESTS)


def selectattr(value: Iterable[Any], attribute: str, *test: Any) -> list[Any]:
    """``selectattr(attribute)`` or ``selectattr(attribute, test, argument)``; a list where
    Jinja2 gives a generator, which is why codegen.py lets only list, selectattr, map and a for
    loop consume it."""
    if not value:
        return []
    if not test:
        return [entry for entry in value if _path(entry, attribute)]
    name, argument = test
    check = _TESTS[name]
    return [entry for entry in value if check(_path(entry, attribute), argument)]


def map_attribute(value: Iterable[Any], attribute: str) -> list[Any]:
    """``map(attribute=…)``; a list, as for selectattr."""
    if not value:
        return []
    return [_path(entry, attribute) for entry in value]
