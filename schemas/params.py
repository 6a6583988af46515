"""Pattern parameters: the small schema language of ``pattern.yaml`` and the records it turns into
(``kc.schemas.shape``). A pattern's stage record is the common stage fields, the container fields
when the pattern runs a container, and the pattern's own parameters."""

from __future__ import annotations

import functools
import keyword
import os
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from kc.schemas import egress, shape
from kc.schemas import types as t
from kc.schemas.record import REQUIRED, Record, param
from kc.schemas.shape import After, Before, Invalid, JsonSchema, Length, Pattern, Range, Strict

# The macros the API server's cron parser (robfig/cron v3, ParseStandard) takes, written exactly.
# It also takes "@every <duration>", which Kubernetes does not document; kc leaves that out.
CRON_MACROS = ("@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually")
SCHEDULE_HINT = (
    "write five fields, minute hour day-of-month month day-of-week (such as '30 2 * * 1-5';"
    f" days of the week are 0-6 or sun-sat), or one of {', '.join(CRON_MACROS)}"
)
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
    # 0-6 only: that parser has no 7 for Sunday.
    ("day of week", 0, 6, {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}),
)
_IMAGE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*"
    r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$"
)


def _cron_value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    value = names.get(text.lower()) if not text.isdigit() else int(text)
    if value is None or not low <= value <= high:
        raise Invalid(
            "kc_schedule",
            "invalid {field} '{text}' (allowed {low}-{high})",
            {"field": name, "text": text, "low": low, "high": high},
        )
    return value


def check_schedule(value: str) -> str:
    """A standard five-field cron expression or a macro, as the API server accepts them."""
    if value in CRON_MACROS:
        return value
    if value.startswith("@"):
        raise Invalid("kc_schedule", "unknown schedule macro '{v}'", {"v": value})
    fields = value.split()
    if len(fields) != 5:
        raise Invalid("kc_schedule", "a cron schedule has 5 fields, not {n}", {"n": len(fields)})
    for text, (name, low, high, names) in zip(fields, _CRON_FIELDS, strict=True):
        for part in text.split(","):
            body, _, step = part.partition("/")
            if step and (not step.isdigit() or int(step) == 0):
                raise Invalid("kc_schedule", "invalid step '{s}' in the {field} field", {"s": step, "field": name})
            if body in ("*", "?"):
                continue
            first, _, last = body.partition("-")
            lo = _cron_value(first, name, low, high, names)
            if last and _cron_value(last, name, low, high, names) < lo:
                raise Invalid(
                    "kc_schedule",
                    "range '{r}' runs backwards in the {field} field",
                    {"r": body, "field": name},
                )
    return value


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA time zone names that Python's zoneinfo finds (the system's database or the tzdata
    package). ``localtime`` is a host's link to its own zone, not a name the API server knows."""
    import zoneinfo  # with sysconfig: only for a spec that names a time zone

    return frozenset(zoneinfo.available_timezones() - {"localtime"})


@functools.cache  # like time_zones(): the database is read once per process
def _on_disk(value: str) -> bool:
    """Whether ``value`` is surely one of ``time_zones()``, without listing them all (which reads
    every file of the database): a zone file under one of zoneinfo's roots, found where
    ``zoneinfo.available_timezones`` would find it (not through a linked folder, not under
    right/ or posix/, not posixrules)."""
    parts = value.split("/")
    if value in ("localtime", "posixrules") or parts[0] in ("right", "posix") or "" in parts or ".." in parts:
        return False
    import zoneinfo

    for root in zoneinfo.TZPATH:
        path = os.path.join(root, *parts)
        folders = [os.path.join(root, *parts[:i]) for i in range(1, len(parts))]
        if not os.path.isfile(path) or any(os.path.islink(f) for f in folders):
            continue
        try:
            with open(path, "rb") as f:
                return f.read(4) == b"TZif"
        except OSError:
            return False
    return False


def check_timezone(value: str) -> str:
    if _on_disk(value):
        return value
    zones = time_zones()
    # A host without a time zone database has nothing to check against; the API server still checks.
    if zones and value not in zones:
        raise Invalid("kc_timezone", "unknown time zone '{v}'", {"v": value})
    return value


TimeZone = Annotated[str, After(check_timezone)]


def check_image(value: str) -> str:
    if not _IMAGE.match(value):
        raise Invalid("kc_image", "'{v}' is not an image reference", {"v": value})
    return value


def _duration(value: object) -> object:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Schedule = Annotated[str, After(check_schedule)]
# Seconds, or a number with s, m, h or d: "90", "30m", "2h"; `timeout: 90` is read as "90".
DURATION = r"^[0-9]+[smhd]?$"
Duration = Annotated[
    str,
    Before(_duration),
    Pattern(DURATION),
    JsonSchema({"anyOf": [{"type": "string", "pattern": DURATION}, {"type": "integer", "minimum": 0}]}),
]
Image = Annotated[str, After(check_image)]
Port = Annotated[int, Range(ge=1, le=65535)]
Names = str | list[t.Label]


def _unique(values: list[str]) -> list[str]:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise Invalid("kc_duplicate", "'{v}' is named twice", {"v": value})
        seen.add(value)
    return values


# A task's declared outputs, and a wire to one of them: "<stage>.<output>". The references pass
# resolves wires like references: each is a dependency, checked against the producer's outputs.
Outputs = Annotated[list[t.Label], After(_unique)]
OutputRef = Annotated[str, Pattern(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
# A stage's results: small values it writes to /kc/results/<name>, read as ${stage.results.<name>}.
# Each is captured from one termination message, which the kubelet cuts at 4096 bytes: three
# values of at most 1 KiB each fit with their headers (compiler/results.py).
Results = Annotated[list[t.Label], Length(max=3), After(_unique)]
# Fan-out: the items of an Indexed Job, one pod each. They name directories and shell words, so
# they are DNS labels; a reader mounts one directory per item, so they are few.
MAX_ITEMS = 100
Items = Annotated[list[t.Label], Length(min=1, max=MAX_ITEMS), After(_unique)]
Shards = Annotated[int, Range(ge=1, le=MAX_ITEMS)]

SCALARS: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "quantity": t.Quantity,
    "path": t.Path,
    "schedule": Schedule,
    "timezone": TimeZone,
    "image": Image,
    "duration": Duration,
    "files": list[str],
    "objects": list[str],
    "outputs": Outputs,
    "output-ref": OutputRef,
    "results": Results,
    "items": Items,
    "shards": Shards,
    # A finally step: it runs once every other step has finished (always) or one has failed.
    "when": Literal["always", "failed"],
    "name": t.Label,
    "port": Port,
    "env": dict[t.EnvName, t.EnvValue],
    "labels": dict[t.LabelKey, t.LabelValue],
    "any": Any,
}


class StageBase(Record):
    """Fields every stage has, whatever its pattern."""

    pattern: str
    after: str | list[str] = param([])
    enabled: Annotated[bool, Strict()] = True  # "false" or 0 must not pass as false and still deploy
    labels: dict[t.LabelKey, t.LabelValue] = param({})
    annotations: dict[t.LabelKey, str] = param({})
    patch: dict[str, dict[str, Any]] = param({})
    egress: list[egress.Entry] = param(
        [],
        description="Where the stage's pods may connect besides the stages they refer to: "
        "HOST:PORT, CIDR:PORT, kubernetes or *.",
    )


def _port_name(value: str) -> str:
    if not any(c.isalpha() for c in value):
        raise Invalid("kc_port_name", "port name '{v}' needs a letter", {"v": value})
    return value


# An IANA service name, as Kubernetes wants port names: at most 15 characters, with a letter.
PortName = Annotated[str, Pattern(r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$"), After(_port_name)]


class HealthCommand(Record):
    """``health: {command: [...]}``: probes that run a command in the container (exit 0: healthy),
    for a stage with no port to ask, such as a worker."""

    command: Annotated[list[str], Length(min=1)]


def _one_http_port(stage: Any, given: frozenset[str]) -> None:
    # `port` is the port named http; a pattern's default port gives way to ports.http.
    if "port" in given and "http" in stage.ports:
        raise Invalid("value_error", "'port' and 'ports.http' both name the http port")
    if isinstance(stage.health, str) and stage.port is None and not stage.ports:
        raise Invalid(
            "value_error",
            "a 'health' path is asked over HTTP on a port, and the stage has none: give "
            "'port', or probe with a command: 'health: {command: [...]}'",
        )


class ContainerStage(StageBase):
    """The common fields of patterns that run a container (docs/language.md, Stages)."""

    image: Image
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[t.EnvName, t.EnvValue] = param({})
    port: Port | None = None
    ports: dict[PortName, Port] = param({})
    size: t.Size = "small"
    resources: t.Resources | None = None
    health: Annotated[str, Pattern(r"^/")] | HealthCommand | None = None
    mounts: dict[t.Label, t.Path] = param({})
    # Paths the program writes besides /tmp, each an emptyDir: the root filesystem is read-only.
    writable: Annotated[list[t.Path], Length(max=16)] = param([])
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = param(None, spelling="pull-policy")
    registry: str | None = None

    __kc_checks__ = (_one_http_port,)


# What a parameter declaration may say; anything else is a mistake in the pattern, not ignored.
DECL_KEYS = {
    "type",
    "enum",
    "default",
    "required",
    "description",
    "minimum",
    "maximum",
    "items",
    "values",
    "keys",
    "properties",
    "conflicts",  # other parameter -> why the two cannot both be given
}


class ParamError(ValueError):
    """A pattern.yaml parameter declaration kc cannot understand, and where in pattern.yaml."""

    def __init__(self, message: str, path: tuple[str, ...] = ("parameters",)) -> None:
        super().__init__(message)
        self.path = path


def _field_type(name: str, decl: dict[str, Any]) -> Any:
    kind = decl.get("type", "string")
    if "enum" in decl:
        return Literal[tuple(decl["enum"])]
    if kind in SCALARS:
        base = SCALARS[kind]
        bounds = {k: decl[k] for k in ("minimum", "maximum") if k in decl}
        if bounds:
            return Annotated[base, Range(ge=bounds.get("minimum"), le=bounds.get("maximum"))]
        return base
    if kind == "list":
        return list[_field_type(name, decl.get("items", {"type": "string"}))]  # type: ignore[misc]
    if kind == "map":
        key = _field_type(name, decl["keys"]) if "keys" in decl else str
        return dict[key, _field_type(name, decl.get("values", {"type": "string"}))]  # type: ignore[misc,valid-type]
    if kind == "object":
        return record_for(name.title().replace("-", ""), decl.get("properties", {}))
    raise ParamError(f"parameter '{name}': unknown type '{kind}'", ("parameters", name))


def _conflicts(parameters: dict[str, Any]) -> tuple[Callable[[Any, frozenset[str]], None], ...]:
    """A check refusing two parameters given together that a declaration's ``conflicts`` names,
    rather than silently preferring one."""
    pairs = [(k, other, why) for k, d in parameters.items() for other, why in (d.get("conflicts") or {}).items()]
    if not pairs:
        return ()

    def check(stage: Any, given: frozenset[str]) -> None:
        for one, other, why in pairs:
            if one.replace("-", "_") in given and other.replace("-", "_") in given:
                raise Invalid("value_error", f"'{one}' and '{other}' cannot both be given: {why}")

    return (check,)


def _declared(parameters: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Field name -> (type, ``param``) for a parameter block; keys keep their kebab-case
    spelling in the spec."""
    out: dict[str, tuple[Any, Any]] = {}
    for key, decl in parameters.items():
        if not isinstance(decl, dict):
            raise ParamError(f"parameter '{key}' must be a mapping", ("parameters", key))
        unknown = sorted(set(decl) - DECL_KEYS)
        if unknown:
            raise ParamError(
                f"parameter '{key}': unknown key '{unknown[0]}' (a declaration has {', '.join(sorted(DECL_KEYS))})",
                ("parameters", key, unknown[0]),
            )
        typ = _field_type(key, decl)
        required = decl.get("required", False) and "default" not in decl
        if not required and "default" not in decl:
            typ = typ | None
        default = REQUIRED if required else decl.get("default")
        name = key.replace("-", "_")
        if keyword.iskeyword(name):
            name += "_"  # `class`: a field of its own name, still written `class` in the spec
        if not name.isidentifier():
            raise ParamError(f"parameter '{key}': use letters, digits and '-'", ("parameters", key))
        out[name] = (typ, param(default, spelling=key, description=decl.get("description") or ""))
    return out


def _inherited(base: type) -> dict[str, tuple[Any, Any]]:
    """A record's fields, to build another record from."""
    return {
        f.name: (f.type, param(f.default, factory=f.factory, spelling=f.alias, description=f.description))
        for f in shape.fields(base)
    }


def record_for(name: str, parameters: dict[str, Any]) -> type:
    """The record of an ``object`` parameter's properties."""
    return shape.made(name, _declared(parameters), _conflicts(parameters))


def stage_record(pattern: str, container: bool, parameters: dict[str, Any], omit: Sequence[str] = ()) -> type:
    """The record a stage of ``pattern`` is checked against: the common fields, the container
    fields (without those the pattern leaves out, so a stage that sets one gets "unknown field"
    rather than a silently ignored value), and the pattern's own parameters."""
    fields = _inherited(StageBase)
    checks: tuple[Any, ...] = ()
    if container:
        own = {f.name for f in shape.fields(StageBase)}
        extra = [f for f in shape.fields(ContainerStage) if f.name not in own]
        unknown = [o for o in omit if not any(o in (f.name, f.alias) for f in extra)]
        if unknown or any(f.required for f in extra if f.alias in omit):
            raise ParamError(
                f"omit: {', '.join(unknown) or 'image'} cannot be left out of the container fields", ("omit",)
            )
        fields.update((n, spec) for n, spec in _inherited(ContainerStage).items() if n not in own)
        for f in extra:
            if f.alias in omit:
                del fields[f.name]
        # A pattern that leaves fields out has its own ports and probes: the http-port check is not its.
        checks = () if omit else shape.checks(ContainerStage)
    fields.update(_declared(parameters))
    return shape.made(f"{pattern.title().replace('-', '')}Stage", fields, checks + _conflicts(parameters))
