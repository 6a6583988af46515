"""The schema's building blocks, without pydantic: the markers that constrain a record's fields
(``kc.schemas.record``), the fields as the checks read them, and records as plain data.

Each field of the spec, a pattern manifest or a pattern's parameters is written once, as a record
field. A compile checks values against records in plain Python (``kc.schemas.check``); only when
that check cannot vouch for a value does kc build pydantic models from the same records
(``kc.schemas.models``) and let pydantic decide and word the errors. The JSON Schema comes from
those models too. So importing pydantic, most of kc's start-up, is paid for a spec with a mistake,
not for every compile (docs/performance.md).
"""

from __future__ import annotations

import functools
import sys
import types
import typing
from collections.abc import Callable
from typing import Any

from kc.schemas.record import REQUIRED, Record


class Invalid(ValueError):
    """A value a check refuses. ``kind`` is the error's type (``kc_schedule``, ``value_error``…),
    which the diagnostics map to a code; ``template`` is the message with ``{name}`` placeholders
    filled from ``context``; ``fields``, the fields a check over several of them refuses together."""

    def __init__(
        self, kind: str, template: str, context: dict[str, Any] | None = None, fields: tuple[str, ...] = ()
    ) -> None:
        super().__init__(template.format(**context) if context else template)
        self.kind = kind
        self.template = template
        self.context = context or {}
        # A check over several fields names them (as the spec spells them, "ports.http" for a key
        # inside one), so the error points at the field that made the conflict, the last written.
        self.fields = fields


# Markers, used as typing.Annotated metadata. Before and After run a function on the value, before
# and after its type is checked; the others constrain it. Compared by identity: each is made once.


class Pattern:
    def __init__(self, regex: str) -> None:
        self.regex = regex


class Length:
    def __init__(self, *, min: int | None = None, max: int | None = None) -> None:
        self.min, self.max = min, max


class Range:
    def __init__(self, *, ge: int | None = None, le: int | None = None) -> None:
        self.ge, self.le = ge, le


class Before:
    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn


class After:
    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.fn = fn


class JsonSchema:
    """What the JSON Schema says of the value, where the type alone would say less (a quantity
    may be written as a number)."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema


class Strict:
    """Only the type itself: ``false`` and ``0`` are not the same thing here."""


def kebab(name: str) -> str:
    return name.replace("_", "-")


class Field(typing.NamedTuple):
    name: str  # in Python
    alias: str  # in the spec
    type: Any
    required: bool
    default: Any  # REQUIRED when required
    factory: Callable[[], Any] | None
    description: str

    def fresh_default(self) -> Any:
        return self.factory() if self.factory is not None else self.default


def made(name: str, fields: dict[str, tuple[Any, Any]], checks: tuple[Any, ...] = ()) -> type:
    """A record class made at run time (a pattern's stage): field name -> (type, ``param(...)``)."""
    namespace: dict[str, Any] = {"__annotations__": {n: tp for n, (tp, _) in fields.items()}, "__kc_checks__": checks}
    namespace.update((n, p) for n, (_, p) in fields.items())
    return type(name, (Record,), namespace)


def _types(cls: type) -> dict[str, Any]:
    """Each field's type. The annotations are the defining module's own text (or, for a record
    made at run time, types already); evaluated in that module as typing.get_type_hints would,
    at a fraction of its cost, which is paid for every record a compile checks."""
    out: dict[str, Any] = {}
    for c in reversed(cls.__mro__):
        scope = sys.modules[c.__module__].__dict__
        for name, annotation in c.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
            out[name] = eval(_compiled(annotation), scope) if isinstance(annotation, str) else annotation
    return out


@functools.cache
def _compiled(annotation: str) -> types.CodeType:
    """Most annotations are written many times over (``str | None``): each is parsed once."""
    return compile(annotation, "<annotation>", "eval")


@functools.cache
def fields(cls: type) -> tuple[Field, ...]:
    hints = _types(cls)
    out = []
    for name, p in cls.__kc_params__.items():  # type: ignore[attr-defined]
        alias = p.spelling or (kebab(name) if cls.__kc_kebab__ else name)  # type: ignore[attr-defined]
        required = p.default is REQUIRED and p.factory is None
        out.append(Field(name, alias, hints[name], required, p.default, p.factory, p.description))
    return tuple(out)


def checks(cls: type) -> tuple[Callable[[Any, frozenset[str]], None], ...]:
    """The record's checks over several fields: each gets the record and the names of the fields
    the spec gave, and raises Invalid."""
    return tuple(cls.__kc_checks__)  # type: ignore[attr-defined]


_NESTED = (Record, dict, list)


@functools.cache
def _spellings(cls: type, for_templates: bool) -> tuple[tuple[str, str], ...]:
    """(field name, key) of each field, as ``dump`` writes it."""
    return tuple((f.name, f.alias.replace("-", "_") if for_templates else f.alias) for f in fields(cls))


def dump(
    value: Any, *, for_templates: bool = False, exclude_none: bool = False, exclude: frozenset[str] = frozenset()
) -> Any:
    """A record as plain data, the way pydantic's ``model_dump(by_alias=True)`` writes a model:
    records become mappings by the spec's spelling of each field (``storage-class``), or, for
    templates, that spelling in snake case (``p.storage_class``; the keys of mappings, such as
    env names, stay as they are); ``exclude_none`` drops fields that are None (not None values
    inside mappings); ``exclude`` names top-level fields to leave out."""
    if isinstance(value, Record):
        out = {}
        cls: Any = type(value)  # a class is hashable, as the cache needs
        state = value.__dict__
        for name, key in _spellings(cls, for_templates):
            if name in exclude:
                continue
            item = state[name]
            if item is None and exclude_none:
                continue
            out[key] = (
                dump(item, for_templates=for_templates, exclude_none=exclude_none)
                if isinstance(item, _NESTED)
                else item
            )
        return out
    # Leaves are taken as they are, without a call each: most of a record is text and numbers.
    if isinstance(value, dict):
        return {
            k: dump(v, for_templates=for_templates, exclude_none=exclude_none) if isinstance(v, _NESTED) else v
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            dump(v, for_templates=for_templates, exclude_none=exclude_none) if isinstance(v, _NESTED) else v
            for v in value
        ]
    return value
