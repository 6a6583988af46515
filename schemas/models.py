"""pydantic models made from kc's records (``kc.schemas.shape``), for what the plain check leaves
to pydantic: deciding on values it cannot vouch for, wording the errors, and the JSON Schema.
Imported only then: importing pydantic and building models is most of what a compile would
otherwise spend starting up."""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import pydantic
from kc.schemas import check, record, shape
from pydantic_core import PydanticCustomError

T = TypeVar("T")
_CONFIG = pydantic.ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def validate(cls: type[T], data: Any) -> T:
    """``data`` as a ``cls`` record, or Refused with pydantic's errors."""
    key: Any = cls  # hashable, for the cache
    model = model_of(key)
    try:
        return to_record(cls, model.model_validate(data))
    except pydantic.ValidationError as exc:
        raise check.Refused(exc, model) from None


def _worded(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``fn`` with kc's Invalid turned into pydantic's own error, keeping its type and words."""

    def run(value: Any) -> Any:
        try:
            return fn(value)
        except shape.Invalid as exc:
            context = {**exc.context, "kc_fields": exc.fields} if exc.fields else exc.context
            raise PydanticCustomError(exc.kind, exc.template, context) from None

    return run


def _marker(marker: Any) -> Any:
    if isinstance(marker, shape.Pattern):
        return pydantic.StringConstraints(pattern=marker.regex)
    if isinstance(marker, shape.Length):
        return pydantic.Field(min_length=marker.min, max_length=marker.max)
    if isinstance(marker, shape.Range):
        return pydantic.Field(ge=marker.ge, le=marker.le)
    if isinstance(marker, shape.Before):
        return pydantic.BeforeValidator(_worded(marker.fn))
    if isinstance(marker, shape.After):
        return pydantic.AfterValidator(_worded(marker.fn))
    if isinstance(marker, shape.JsonSchema):
        return pydantic.WithJsonSchema(marker.schema)
    if isinstance(marker, shape.Strict):
        return pydantic.Strict()
    raise TypeError(f"unknown marker {marker!r}")


def _not_a_boolean(value: Any) -> Any:
    # pydantic reads true as 1 and false as 0.0; a boolean where a number is due is a mistake
    # (`retries: false` is not "no retries"), as the JSON Schema says.
    if isinstance(value, bool):
        raise PydanticCustomError("kc_boolean", "a number is due here, not {value}", {"value": str(value).lower()})
    return value


_NUMBER = pydantic.BeforeValidator(_not_a_boolean)


def _annotation(tp: Any) -> Any:
    """``tp`` with records replaced by their models and kc's markers by pydantic's. Numbers are
    never booleans and booleans never numbers or text (``"yes"``, ``1``), which pydantic's lax
    mode would take; the plain check and the JSON Schema take neither."""
    if record.is_record(tp):
        return model_of(tp)
    if tp in (int, float):
        return Annotated[tp, _NUMBER]
    if tp is bool:
        return Annotated[bool, pydantic.Strict()]
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        markers = tuple(_marker(m) for m in tp.__metadata__)
        if args[0] in (int, float):  # after the bounds, which then stay the JSON Schema's
            return Annotated[(args[0], *markers, _NUMBER)]
        return Annotated[(_annotation(args[0]), *markers)]
    if origin is typing.Union or isinstance(tp, types.UnionType):
        return typing.Union[tuple(_annotation(a) for a in args)]  # noqa: UP007 (built from a tuple)
    if origin is typing.Literal and not any(isinstance(a, bool) for a in args):
        return Annotated[tp, _NUMBER]  # `kc: true` is not `kc: 1`
    if origin is list:
        return list[_annotation(args[0])]  # type: ignore[misc]
    if origin is dict:
        return dict[_annotation(args[0]), _annotation(args[1])]  # type: ignore[misc]
    return tp


def _default(f: shape.Field) -> Any:
    if f.required:
        return ...
    default = f.fresh_default()
    if isinstance(default, record.Record):
        cls: Any = type(default)  # a class is hashable, as the cache needs
        return model_of(cls).model_validate(shape.dump(default))
    return default


def _cross(fn: Callable[[Any, frozenset[str]], None]) -> Any:
    checked = _worded(lambda model: fn(model, frozenset(model.model_fields_set)))

    def run(model: pydantic.BaseModel) -> pydantic.BaseModel:
        checked(model)
        return model

    return pydantic.model_validator(mode="after")(run)


@functools.cache
def model_of(cls: type) -> type[pydantic.BaseModel]:
    """The pydantic model of a record: the same fields, spellings, defaults and checks."""
    fields: dict[str, Any] = {}
    for f in shape.fields(cls):
        # A record as a parameter's default (`retries`' {count: 3}) is shown without its unset fields.
        shown = {"default": shape.dump(f.default, exclude_none=True)} if isinstance(f.default, record.Record) else None
        info = pydantic.Field(_default(f), alias=f.alias, description=f.description or None, json_schema_extra=shown)
        fields[f.name] = (_annotation(f.type), info)
    validators = {f"_check_{i}": _cross(fn) for i, fn in enumerate(shape.checks(cls))}
    made = pydantic.create_model(
        cls.__name__, __config__=_CONFIG, __doc__=cls.__doc__, __validators__=validators, **fields
    )
    return made  # type: ignore[no-any-return]


def _converted(tp: Any, value: Any) -> Any:
    """A validated model value as the record's field holds it."""
    if isinstance(value, pydantic.BaseModel):
        kind = _record_type(tp, type(value))
        return to_record(kind, value)
    if isinstance(value, dict):
        args = typing.get_args(_bare(tp))
        inner = args[1] if len(args) == 2 else Any
        return {k: _converted(inner, v) for k, v in value.items()}
    if isinstance(value, list):
        args = typing.get_args(_bare(tp))
        inner = args[0] if args else Any
        return [_converted(inner, v) for v in value]
    return value


def _bare(tp: Any) -> Any:
    """``tp`` without Annotated and without None in a union: the container type, if there is one."""
    if typing.get_origin(tp) is typing.Annotated:
        return _bare(typing.get_args(tp)[0])
    if typing.get_origin(tp) is typing.Union or isinstance(tp, types.UnionType):
        containers = [a for a in typing.get_args(tp) if typing.get_origin(_bare(a)) in (list, dict)]
        return _bare(containers[0]) if len(containers) == 1 else tp
    return tp


def _record_type(tp: Any, model: type) -> Any:
    """The record in ``tp`` whose model is ``model``."""
    if record.is_record(tp) and model_of(tp) is model:
        return tp
    for arg in typing.get_args(tp):
        try:
            return _record_type(arg, model)
        except LookupError:
            continue
    raise LookupError(model.__name__)


def to_record(cls: type[T], model: pydantic.BaseModel) -> T:
    key: Any = cls  # hashable, for the cache
    return cls(**{f.name: _converted(f.type, getattr(model, f.name)) for f in shape.fields(key)})
