"""Pattern parameters: the small schema language of ``pattern.yaml`` and the pydantic models it
turns into. A pattern's stage model is the common stage fields, the container fields when the
pattern runs a container, and the pattern's own parameters."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from kc.schemas import types as t
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    create_model,
)
from pydantic_core import PydanticCustomError

CRON_MACROS = {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
_CRON_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    (
        "month",
        1,
        12,
        {
            m: i
            for i, m in enumerate(
                ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1
            )
        },
    ),
    ("day of week", 0, 7, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)
_IMAGE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)


def _cron_value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.lower()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise PydanticCustomError(
            "kc_schedule",
            "invalid {field} '{text}' (allowed {low}-{high})",
            {"field": name, "text": text, "low": low, "high": high},
        )
    return value


def check_schedule(value: str) -> str:
    """A standard five-field cron expression, as the CronJob controller accepts it."""
    if value.strip() in CRON_MACROS:
        return value
    fields = value.split()
    if len(fields) != 5:
        raise PydanticCustomError(
            "kc_schedule",
            "a cron schedule has 5 fields (minute hour day month weekday), not {n}",
            {"n": len(fields)},
        )
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            body, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise PydanticCustomError(
                    "kc_schedule", "invalid step '{s}' in the {field} field", {"s": step, "field": name}
                )
            if body in ("*", "?"):
                continue
            first, _, last = body.partition("-")
            lo = _cron_value(first, name, low, high, names)
            if last and _cron_value(last, name, low, high, names) < lo:
                raise PydanticCustomError(
                    "kc_schedule",
                    "range '{r}' runs backwards in the {field} field",
                    {"r": body, "field": name},
                )
    return value


def check_image(value: str) -> str:
    if not _IMAGE.match(value):
        raise PydanticCustomError("kc_image", "'{v}' is not an image reference", {"v": value})
    return value


def _duration(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Schedule = Annotated[str, AfterValidator(check_schedule)]
# Seconds, or a number with s, m, h or d: "90", "30m", "2h".
Duration = Annotated[str, BeforeValidator(_duration), StringConstraints(pattern=r"^[0-9]+[smhd]?$")]
Image = Annotated[str, AfterValidator(check_image)]
Port = Annotated[int, Field(ge=1, le=65535)]
Names = str | list[t.Label]

SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "quantity": t.Quantity,
    "path": t.Path,
    "schedule": Schedule,
    "image": Image,
    "duration": Duration,
    "files": list[str],
    "name": t.Label,
    "port": Port,
    "env": dict[t.EnvName, t.EnvValue],
    "labels": dict[t.LabelKey, t.LabelValue],
    "any": Any,
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StageBase(_Model):
    """Fields every stage has, whatever its pattern."""

    pattern: str
    after: str | list[str] = []
    enabled: bool = True
    labels: dict[t.LabelKey, t.LabelValue] = {}
    annotations: dict[t.LabelKey, str] = {}
    patch: dict[str, dict[str, Any]] = {}


class ContainerStage(StageBase):
    """The common fields of patterns that run a container (SPEC §4)."""

    image: Image
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[t.EnvName, t.EnvValue] = {}
    port: Port | None = None
    ports: dict[Annotated[str, StringConstraints(pattern=r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")], Port] = {}
    size: t.Size = "small"
    resources: t.Resources | None = None
    health: Annotated[str, StringConstraints(pattern=r"^/")] | None = None
    mounts: dict[t.Label, t.Path] = {}
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(None, alias="pull-policy")
    registry: str | None = None


class ParamError(ValueError):
    """A pattern.yaml parameter declaration kc cannot understand."""


def _field_type(name: str, decl: dict[str, Any]) -> Any:
    kind = decl.get("type", "string")
    if "enum" in decl:
        return Literal[tuple(decl["enum"])]
    if kind in SCALARS:
        base = SCALARS[kind]
        bounds = {k: decl[k] for k in ("minimum", "maximum") if k in decl}
        if bounds:
            return Annotated[base, Field(ge=bounds.get("minimum"), le=bounds.get("maximum"))]
        return base
    if kind == "list":
        return list[_field_type(name, decl.get("items", {"type": "string"}))]  # type: ignore[misc]
    if kind == "map":
        return dict[str, _field_type(name, decl.get("values", {"type": "string"}))]  # type: ignore[misc]
    if kind == "object":
        return model_for(name.title().replace("-", ""), decl.get("properties", {}), _Model)
    raise ParamError(f"parameter '{name}': unknown type '{kind}'")


def model_for(name: str, parameters: dict[str, Any], base: type[BaseModel]) -> type[BaseModel]:
    """A pydantic model for a parameter block; keys keep their kebab-case spelling as aliases."""
    fields: dict[str, Any] = {}
    for key, decl in parameters.items():
        if not isinstance(decl, dict):
            raise ParamError(f"parameter '{key}' must be a mapping")
        typ = _field_type(key, decl)
        required = decl.get("required", False) and "default" not in decl
        default = ... if required else decl.get("default")
        if not required and "default" not in decl:
            typ = typ | None
        fields[key.replace("-", "_")] = (
            typ,
            Field(default, alias=key, description=decl.get("description")),
        )
    return create_model(name, __base__=base, **fields)


def stage_model(pattern: str, container: bool, parameters: dict[str, Any]) -> type[BaseModel]:
    base = ContainerStage if container else StageBase
    return model_for(f"{pattern.title().replace('-', '')}Stage", parameters, base)
