"""The fields every stage has, and those of every pattern that runs a container, with the checks
that read several of them together."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from kc.schemas import egress
from kc.schemas import types as t
from kc.schemas import values as v
from kc.schemas.record import Record, param
from kc.schemas.shape import After, Invalid, Length, Pattern, Strict


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
PORT_NAME = r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$"
PortName = Annotated[str, Pattern(PORT_NAME), After(_port_name)]


class HealthCommand(Record):
    """``health: {command: [...]}``: probes that run a command in the container (exit 0: healthy),
    for a stage with no port to ask, such as a worker."""

    command: Annotated[list[str], Length(min=1)]


_ONCE = "a Service serves each port number once: give each port a number of its own"


def _distinct_numbers(ports: dict[str, int]) -> dict[str, int]:
    # A Service serves each port once; the API server refuses two entries with one number.
    seen: dict[int, str] = {}
    for name, number in ports.items():
        if number in seen:
            raise Invalid(
                "value_error",
                "ports '{a}' and '{b}' are both {n}",
                {"a": seen[number], "b": name, "n": number, "hint": _ONCE},
            )
        seen[number] = name
    return ports


def _one_http_port(stage: Any, given: frozenset[str]) -> None:
    # `port` is the port named http; a pattern's default port gives way to listed ports.
    if "port" in given and "http" in stage.ports:
        raise Invalid("value_error", "'port' and 'ports.http' both name the http port", fields=("port", "ports.http"))
    same = [name for name, number in stage.ports.items() if "port" in given and number == stage.port]
    if same:
        raise Invalid(
            "value_error",
            "'port' and 'ports.{name}' are both {n}",
            {"name": same[0], "n": stage.port, "hint": _ONCE},
            fields=("port", f"ports.{same[0]}"),
        )


def _health_on_a_port(stage: Any, given: frozenset[str]) -> None:
    if isinstance(stage.health, str) and stage.port is None and not stage.ports:
        raise Invalid(
            "value_error",
            "a 'health' path is asked over HTTP on a port, and the stage has none: give "
            "'port', or probe with a command: 'health: {command: [...]}'",
            fields=("health",),
        )


class ContainerStage(StageBase):
    """The common fields of patterns that run a container (docs/language.md, Stages)."""

    image: v.Image
    command: list[str] | None = None
    args: list[str] | None = None
    env: dict[t.EnvName, t.EnvValue] = param({})
    port: v.Port | None = None
    ports: Annotated[dict[PortName, v.Port], After(_distinct_numbers)] = param({})
    size: t.Size = "small"
    resources: t.Resources | None = None
    health: Annotated[str, Pattern(t.ABSOLUTE_PATH)] | HealthCommand | None = None
    mounts: dict[t.Label, t.Path] = param({})
    # Paths the program writes besides /tmp, each an emptyDir: the root filesystem is read-only.
    writable: Annotated[list[t.Path], Length(max=16)] = param([])
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = param(None, spelling="pull-policy")
    registry: str | None = None
    pending_timeout: v.PendingTimeout | None = param(
        None,
        spelling="pending-timeout",
        description="How long a pod may wait to run before kc apply's gate fails (default 5m), e.g. 2m.",
    )

    __kc_checks__ = (_one_http_port, _health_on_a_port)


# The container fields each of ContainerStage's checks reads: a pattern that leaves one of them
# out (a database's ports, a job's health) has no use for the check.
READS: dict[Callable[[Any, frozenset[str]], None], set[str]] = {
    _one_http_port: {"port", "ports"},
    _health_on_a_port: {"health", "port", "ports"},
}
