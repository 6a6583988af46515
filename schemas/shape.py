"""The schema's building blocks, without pydantic: records (frozen dataclasses) whose field types
carry kc's own constraint markers.

Each field of the spec, a pattern manifest or a pattern's parameters is written once, as a record
field. A compile checks values against records in plain Python (``kc.schemas.check``); only when
that check cannot vouch for a value does kc build pydantic models from the same records
(``kc.schemas.models``) and let pydantic decide and word the errors. The JSON Schema comes from
those models too. So importing pydantic, most of kc's start-up, is paid for a spec with a mistake,
not for every compile (docs/performance.md).
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class Invalid(ValueError):
    """A value a check refuses. ``kind`` is the error's type (``kc_schedule``, ``value_error``…),
    which the diagnostics map to a code; ``template`` is the message with ``{name}`` placeholders
    filled from ``context``."""

    def __init__(self, kind: str, template: str, context: dict[str, Any] | None = None) -> None:
        super().__init__(template.format(**context) if context else template)
        self.kind = kind
        self.template = template
        self.context = context or {}


# Markers, used as typing.Annotated metadata. Before and After run a function on the value, before
# and after its type is checked; the others constrain it.


@dataclasses.dataclass(frozen=True)
class Pattern:
    regex: str


@dataclasses.dataclass(frozen=True)
class Length:
    min: int | None = None
    max: int | None = None


@dataclasses.dataclass(frozen=True)
class Range:
    ge: int | None = None
    le: int | None = None


@dataclasses.dataclass(frozen=True)
class Before:
    fn: Callable[[Any], Any]


@dataclasses.dataclass(frozen=True)
class After:
    fn: Callable[[Any], Any]


@dataclasses.dataclass(frozen=True, eq=False)
class JsonSchema:
    """What the JSON Schema says of the value, where the type alone would say less (a quantity
    may be written as a number)."""

    schema: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Strict:
    """Only the type itself: ``false`` and ``0`` are not the same thing here."""


def kebab(name: str) -> str:
    return name.replace("_", "-")


@typing.overload
def record(cls: type[T], *, kebab_keys: bool = False) -> type[T]: ...
@typing.overload
def record(cls: None = None, *, kebab_keys: bool = False) -> Callable[[type[T]], type[T]]: ...


@typing.dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[T] | None = None, *, kebab_keys: bool = False) -> Any:
    """A frozen dataclass the checks understand. ``kebab_keys``: its fields are written
    ``storage-class`` in a spec (``storage_class`` is accepted too)."""

    def wrap(c: type[T]) -> type[T]:
        doc = c.__dict__.get("__doc__")
        out = dataclasses.dataclass(frozen=True, kw_only=True)(c)  # fields keep the spec's order
        out.__kc_doc__ = doc  # type: ignore[attr-defined]  # the dataclass writes a __doc__ of its own
        out.__kc_kebab__ = kebab_keys  # type: ignore[attr-defined]
        return out

    return wrap if cls is None else wrap(cls)


def param(default: Any = dataclasses.MISSING, *, alias: str = "", description: str = "") -> Any:
    """A field with a spelling of its own in the spec, or a description for the JSON Schema.
    A mutable default is copied for each record."""
    metadata = {"alias": alias, "description": description}
    if isinstance(default, dict | list):
        return dataclasses.field(default_factory=lambda: type(default)(default), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass(frozen=True)
class Field:
    name: str  # in Python
    alias: str  # in the spec
    type: Any
    required: bool
    default: Any  # dataclasses.MISSING when required
    factory: Callable[[], Any] | None
    description: str

    def fresh_default(self) -> Any:
        return self.factory() if self.factory is not None else self.default


@functools.cache
def fields(cls: type) -> tuple[Field, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    kebab_keys = getattr(cls, "__kc_kebab__", False)
    out = []
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        alias = f.metadata.get("alias") or (kebab(f.name) if kebab_keys else f.name)
        factory = None if f.default_factory is dataclasses.MISSING else f.default_factory
        required = f.default is dataclasses.MISSING and factory is None
        out.append(Field(f.name, alias, hints[f.name], required, f.default, factory, f.metadata.get("description", "")))
    return tuple(out)


def checks(cls: type) -> tuple[Callable[[Any, frozenset[str]], None], ...]:
    """The record's checks over several fields: each gets the record and the names of the fields
    the spec gave, and raises Invalid."""
    return tuple(getattr(cls, "__kc_checks__", ()))


def dump(
    value: Any, *, by_alias: bool = True, exclude_none: bool = False, exclude: frozenset[str] = frozenset()
) -> Any:
    """A record as plain data, the way pydantic's ``model_dump`` writes a model: records become
    mappings (by the spec's spelling with ``by_alias``), ``exclude_none`` drops fields that are
    None (not None values inside mappings); ``exclude`` names top-level fields to leave out."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {}
        for f in fields(type(value)):
            if f.name in exclude:
                continue
            item = getattr(value, f.name)
            if item is None and exclude_none:
                continue
            out[f.alias if by_alias else f.name] = dump(item, by_alias=by_alias, exclude_none=exclude_none)
        return out
    if isinstance(value, dict):
        return {k: dump(v, by_alias=by_alias, exclude_none=exclude_none) for k, v in value.items()}
    if isinstance(value, list):
        return [dump(v, by_alias=by_alias, exclude_none=exclude_none) for v in value]
    return value
