"""Checking plain data against a record, in plain Python; pydantic when that cannot vouch for it.

The plain check accepts only what is evidently valid: each value of exactly its field's type
(an integer where an integer is due, never "3"), every constraint met. It builds the same record
pydantic would, so the output of a compile does not depend on which of the two ran; a test
holds the two to that on every example and on generated input. Anything else (a mistake, but also
a value pydantic would coerce, such as ``true`` for ``1``) makes it give up, and pydantic, imported
only then, decides: it accepts what it accepts today and words every error.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from kc.schemas import record, shape

T = TypeVar("T")


class Unsure(Exception):
    """The plain check cannot vouch for a value."""


class Refused(Exception):
    """pydantic refused the value: ``error`` is its ValidationError, ``model`` the model it used."""

    def __init__(self, error: Any, model: type) -> None:
        super().__init__(str(error))
        self.error = error  # a pydantic.ValidationError: typed loosely, so this module needs no pydantic
        self.model = model


def validate(cls: type[T], data: Any) -> T:
    """``data`` as a ``cls`` record: checked in plain Python, or by pydantic (raising Refused)."""
    try:
        return build(cls, data)
    except Unsure:
        pass
    from kc.schemas import models  # pydantic: only for data the plain check could not vouch for

    return models.validate(cls, data)


def build(cls: type[T], data: Any) -> T:
    """``data`` as a ``cls`` record, or Unsure."""
    key: Any = cls  # a type is hashable, which the cache needs and a type variable does not promise
    return _checker(key)(data)  # type: ignore[no-any-return]


Check = Callable[[Any], Any]


def _unsure(value: Any) -> Any:
    raise Unsure


@functools.cache
def _checker(tp: Any) -> Check:
    """A function that returns the checked value of type ``tp``, or raises Unsure."""
    if tp is Any:
        return lambda v: v
    if record.is_record(tp):
        return _record(tp)
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _annotated(typing.get_args(tp)[0], tp.__metadata__)
    if origin is typing.Literal:
        return _literal(typing.get_args(tp))
    if origin is typing.Union or isinstance(tp, types.UnionType):
        return _union(tuple(_checker(a) for a in typing.get_args(tp)))
    if origin is list:
        return _list(_checker(typing.get_args(tp)[0]))
    if origin is dict:
        key, value = typing.get_args(tp)
        return _dict(_checker(key), _checker(value))
    if tp is type(None):
        return lambda v: v if v is None else _unsure(v)
    if tp is float:
        return lambda v: float(v) if type(v) in (int, float) else _unsure(v)
    if tp in (str, int, bool):
        return lambda v: v if type(v) is tp else _unsure(v)
    raise TypeError(f"the plain check does not know {tp!r}")


def _literal(choices: tuple[Any, ...]) -> Check:
    allowed = {(type(c), c) for c in choices}
    scalars = (str, int, float, bool, type(None))  # what a literal can be; a mapping is not hashable
    return lambda v: v if type(v) in scalars and (type(v), v) in allowed else _unsure(v)


def _union(members: tuple[Check, ...]) -> Check:
    def check(value: Any) -> Any:
        found = []
        for member in members:
            try:
                found.append(member(value))
            except Unsure:
                continue
        if len(found) != 1:  # none: invalid; more than one: pydantic's choice, not to guess
            raise Unsure
        return found[0]

    return check


def _list(item: Check) -> Check:
    return lambda v: [item(i) for i in v] if type(v) is list else _unsure(v)


def _dict(key: Check, value: Check) -> Check:
    return lambda v: {key(k): value(i) for k, i in v.items()} if type(v) is dict else _unsure(v)


def _constraint(marker: Any) -> Check:
    if isinstance(marker, shape.Pattern):
        regex = re.compile(marker.regex)
        # pydantic's regular expressions end "$" at the very end; Python's also before a final
        # newline. Text with a newline is left to pydantic.
        return lambda v: v if type(v) is str and "\n" not in v and regex.search(v) else _unsure(v)
    if isinstance(marker, shape.Length):
        low, high = marker.min, marker.max
        return lambda v: v if (low is None or len(v) >= low) and (high is None or len(v) <= high) else _unsure(v)
    if isinstance(marker, shape.Range):
        ge, le = marker.ge, marker.le
        return lambda v: v if (ge is None or v >= ge) and (le is None or v <= le) else _unsure(v)
    if isinstance(marker, shape.After):
        return _guarded(marker.fn)
    return lambda v: v  # JsonSchema and Strict say nothing the type check does not already


def _guarded(fn: Callable[[Any], Any]) -> Check:
    def check(value: Any) -> Any:
        try:
            return fn(value)
        except (shape.Invalid, ValueError, TypeError):
            raise Unsure from None

    return check


def _annotated(base: Any, markers: tuple[Any, ...]) -> Check:
    before = [_guarded(m.fn) for m in markers if isinstance(m, shape.Before)]
    steps = [*before, _checker(base), *(_constraint(m) for m in markers if not isinstance(m, shape.Before))]

    def check(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return check


def _record(cls: type) -> Check:
    fields = shape.fields(cls)
    by_key = {f.alias: f for f in fields} | {f.name: f for f in fields if f.name != f.alias}
    checkers = {f.name: _checker(f.type) for f in fields}
    required = frozenset(f.name for f in fields if f.required)
    defaults = [(f.name, f.default) for f in fields if not f.required and f.factory is None]
    factories = [(f.name, f.factory) for f in fields if not f.required and f.factory is not None]
    cross = shape.checks(cls)

    def check(value: Any) -> Any:
        if type(value) is not dict:
            raise Unsure
        given: dict[str, Any] = {}
        for key, item in value.items():
            f = by_key.get(key)
            if f is None or f.name in given:  # unknown, or given under both spellings
                raise Unsure
            given[f.name] = checkers[f.name](item)
        if not required <= given.keys():
            raise Unsure
        names = frozenset(given)
        for name, default in defaults:
            if name not in given:
                given[name] = default
        for name, factory in factories:
            if name not in given:
                given[name] = factory()
        made = cls(**given)
        for cross_check in cross:
            try:
                cross_check(made, names)
            except shape.Invalid:
                raise Unsure from None
        return made

    return check
