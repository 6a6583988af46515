"""The value types of pattern parameters, by the names ``pattern.yaml`` gives them (``SCALARS``):
cron schedules and time zones as the API server takes them, image references, durations, a task's
outputs and the wires to them, results, fan-out items and shards, retries, host names, ports."""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from kc.schemas import hosts
from kc.schemas import types as t
from kc.schemas.record import Record
from kc.schemas.shape import After, Before, Invalid, JsonSchema, Length, Pattern, Range

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


def _some_time(value: str) -> str:
    if not value.rstrip("smhd").strip("0"):
        raise Invalid("value_error", "a pending-timeout of 0 would fail every pod before it could start")
    return value


# How long kc apply lets a pod of the stage wait to run (unscheduled, pulling, missing config)
# before the gate fails; kc's default when absent is contract.PENDING_TIMEOUT.
PendingTimeout = Annotated[Duration, After(_some_time)]
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
OUTPUT_REF = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\.[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
OutputRef = Annotated[str, Pattern(OUTPUT_REF)]
# A stage's results: small values it writes to /kc/results/<name>, read as ${stage.results.<name>}.
# Each is captured from one termination message, which the kubelet cuts at 4096 bytes: three
# values of at most 1 KiB each fit with their headers (compiler/results.py).
Results = Annotated[list[t.Label], Length(max=3), After(_unique)]
# Fan-out: the items of an Indexed Job, one pod each. They name directories and shell words, so
# they are DNS labels; a reader mounts one directory per item, so they are few.
MAX_ITEMS = 100
Items = Annotated[list[t.Label], Length(min=1, max=MAX_ITEMS), After(_unique)]
Shards = Annotated[int, Range(ge=1, le=MAX_ITEMS)]


def _no_boolean(value: object) -> object:
    # pydantic reads `true` as the integer 1: a count or an exit code written as a boolean is a
    # mistake to point at, not a 1 to apply.
    if isinstance(value, bool):
        raise Invalid("kc_boolean", "a number is due, not the boolean {v}", {"v": str(value).lower()})
    return value


def _exit_codes(values: list[int]) -> list[int]:
    """Distinct, and sorted: the API server wants an ordered list, and the spec's order means nothing."""
    seen: set[int] = set()
    for value in values:
        if value in seen:
            raise Invalid("kc_duplicate", "exit code {v} is given twice", {"v": value})
        seen.add(value)
    return sorted(values)


# JsonSchema: after a Before, pydantic writes the range as "ge"/"le", which are no JSON Schema words.
RetryCount = Annotated[
    int, Before(_no_boolean), Range(ge=0, le=100), JsonSchema({"type": "integer", "minimum": 0, "maximum": 100})
]
# 0 is success, which a pod failure policy never sees; 255 is the highest status a process can exit with.
ExitCode = Annotated[
    int, Before(_no_boolean), Range(ge=1, le=255), JsonSchema({"type": "integer", "minimum": 1, "maximum": 255})
]


class RetryRule(Record, kebab_keys=True):
    """``retries: {count: 3, on-exit-codes: [1, 2]}``: the Job's backoffLimit, and the exit codes of
    the main container that may be retried; any other code fails the Job at once (a pod failure
    policy, docs/patterns.md)."""

    count: RetryCount
    on_exit_codes: (
        Annotated[
            list[ExitCode],
            Length(min=1),
            After(_exit_codes),
            JsonSchema(
                {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": 255},
                    "minItems": 1,
                    "uniqueItems": True,
                }
            ),
        ]
        | None
    ) = None


def _as_rule(value: Any) -> Any:
    """``retries: 3`` is ``{count: 3}``, so that templates read one shape."""
    return RetryRule(count=value) if isinstance(value, int) else value


# A number, or the mapping; templates always see the mapping (`p.retries.count`).
Retries = Annotated[RetryCount | RetryRule, After(_as_rule)]
# Parameter types whose values are normalised as they are checked: a declared default is read the same way.
NORMAL: dict[str, Callable[[Any], Any]] = {"retries": _as_rule}

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
    "retries": Retries,
    "name": t.Label,
    "host": hosts.Host,
    "port": Port,
    "env": dict[t.EnvName, t.EnvValue],
    "labels": dict[t.LabelKey, t.LabelValue],
    "any": Any,
}
