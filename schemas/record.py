"""Frozen records: what kc uses instead of frozen dataclasses, for the spec's schema and for the
compiler's intermediate form.

They are not dataclasses because of start-up time. The dataclass decorator writes each class's
``__init__``, ``__eq__``, ``__hash__``, ``__repr__`` and frozen ``__setattr__`` as source text and
compiles it when the module is imported: about 0.7 ms a class on Python 3.11, and a compile
loads some forty classes (and makes a record for each pattern it uses), a fifth of a small
compile's start (docs/performance.md). A record's methods are the base class's, written once;
``replace`` stands for ``dataclasses.replace``.

A subclass declares fields as annotations with defaults, as a dataclass does; ``param`` gives a
default made afresh for each record, a spelling of the field in the spec, or a description.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class _Param:
    """A field's default, its spelling in the spec and its description (``param``)."""

    def __init__(self, default: Any, factory: Callable[[], Any] | None, spelling: str, description: str) -> None:
        self.default, self.factory, self.spelling, self.description = default, factory, spelling, description


REQUIRED: Any = object()  # no default: the field must be given
_NEEDED: Any = object()  # in a class's template: a field that is required or made by a factory


def param(default: Any = REQUIRED, *, spelling: str = "", description: str = "", factory: Any = None) -> Any:
    """A field with a spelling of its own in the spec (``pull-policy``), a description for the
    JSON Schema, or a default made afresh for each record (``factory``; a mapping or list
    default is copied for each record too)."""
    if factory is None and isinstance(default, dict | list):
        made = default
        factory = lambda: type(made)(made)  # noqa: E731
    return _Param(default, factory, spelling, description)


class FrozenError(AttributeError):
    pass


@typing.dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(param,))
class Record:
    """A frozen record: ``__init__``, equality, hash and repr over its fields, in the order the
    class (and its bases) declare them. Keyword-only unless the class says ``kw_only=False``.
    For the schema: ``__kc_checks__`` names checks over several fields, and a subclass with
    ``kebab_keys=True`` is written ``storage-class`` in a spec."""

    __kc_params__: typing.ClassVar[dict[str, _Param]] = {}
    # Every field's default, in order, with _NEEDED for the fields named in __kc_needed__.
    __kc_template__: typing.ClassVar[dict[str, Any]] = {}
    __kc_needed__: typing.ClassVar[tuple[str, ...]] = ()
    __kc_names__: typing.ClassVar[tuple[str, ...]] = ()  # the fields, in order
    __kc_kebab__: typing.ClassVar[bool] = False
    __kc_kw_only__: typing.ClassVar[bool] = True
    __kc_checks__: typing.ClassVar[tuple[Callable[[Any, frozenset[str]], None], ...]] = ()

    def __init_subclass__(cls, *, kebab_keys: bool = False, kw_only: bool | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        params = dict(cls.__kc_params__)  # the bases' first; a field declared again keeps its place
        # Its own annotations, as written (inspect.get_annotations does the same, and importing
        # inspect costs more than the records it would read).
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
            if name.startswith("_") or "ClassVar" in str(annotation):
                continue
            given = cls.__dict__.get(name, REQUIRED)
            params[name] = given if isinstance(given, _Param) else _Param(given, None, "", "")
            if name in cls.__dict__:
                delattr(cls, name)  # the default lives in __kc_params__, not as a class attribute
        cls.__kc_params__ = params
        needed = {n for n, p in params.items() if p.default is REQUIRED or p.factory is not None}
        cls.__kc_template__ = {n: _NEEDED if n in needed else p.default for n, p in params.items()}
        cls.__kc_needed__ = tuple(n for n in params if n in needed)
        cls.__kc_names__ = tuple(params)
        cls.__kc_kebab__ = kebab_keys
        if kw_only is not None:
            cls.__kc_kw_only__ = kw_only

    def __init__(self, *args: Any, **values: Any) -> None:
        params = self.__kc_params__
        if args:
            if not values and len(args) == len(params) and not self.__kc_kw_only__:
                self.__dict__.update(zip(params, args, strict=True))  # every field, in order: the common case
                return
            if self.__kc_kw_only__ or len(args) > len(params):
                raise TypeError(f"{type(self).__name__}: takes its fields by name")
            if values:
                twice = values.keys() & self.__kc_names__[: len(args)]
                if twice:
                    raise TypeError(f"{type(self).__name__}: '{min(twice)}' given twice")
        elif values.keys() == params.keys():
            self.__dict__.update(values)
            return
        fields = dict(self.__kc_template__)  # the defaults, in the fields' order
        fields.update(zip(params, args, strict=False))
        fields.update(values)
        if len(fields) != len(params):
            raise TypeError(f"{type(self).__name__}: unknown field '{next(k for k in values if k not in params)}'")
        if self.__kc_needed__ and _NEEDED in fields.values():  # a required field not given, or a factory's
            for name in self.__kc_needed__:
                if fields[name] is _NEEDED:
                    factory = params[name].factory
                    if factory is None:
                        raise TypeError(f"{type(self).__name__}: missing field '{name}'")
                    fields[name] = factory()
        self.__dict__.update(fields)

    def _values(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[name] for name in self.__kc_params__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self), self._values()))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={self.__dict__[name]!r}" for name in self.__kc_params__)
        return f"{type(self).__name__}({fields})"

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenError(f"{type(self).__name__} is frozen")

    def __delattr__(self, name: str) -> None:
        raise FrozenError(f"{type(self).__name__} is frozen")


def is_record(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Record)


def replace(record: T, /, **changes: Any) -> T:
    """A copy of ``record`` with some fields changed."""
    params = record.__kc_params__  # type: ignore[attr-defined]
    if not changes.keys() <= params.keys():
        raise TypeError(f"{type(record).__name__}: unknown field '{next(iter(changes.keys() - params.keys()))}'")
    made = object.__new__(type(record))
    state = record.__dict__  # the fields, and a cached property's value if one was read
    made.__dict__.update(state if len(state) == len(params) else {name: state[name] for name in params}, **changes)
    return made
