"""The manifest of a pattern folder: ``pattern.yaml``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from kc.schemas.record import Record, param
from kc.schemas.shape import Before, Invalid, Length, Pattern

# What a step waits for before the next bundle starts, and how the plan and messages say it.
GateKind = Literal["none", "rollout", "pods-running", "ready", "job-complete", "established"]
GATE_TEXT: dict[str, str] = {
    "none": "none",
    "rollout": "rollout complete",
    "pods-running": "pods running",
    "ready": "all replicas ready",
    "job-complete": "job complete",
    "established": "CRDs established",
}


class StepDecl(Record):
    name: Annotated[str, Pattern(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")] = ""
    gate: GateKind
    templates: list[str]
    description: str = ""


class WarningDecl(Record):
    """A warning the pattern gives when ``when`` (a Jinja expression over the template context,
    e.g. ``not p.certs``) is true for a stage."""

    when: str
    message: str
    hint: str = ""
    # kc's warning codes; a pattern cannot invent codes, so scripts can rely on them.
    code: Literal["KC408", "KC503"] = "KC503"


def _omit_list(value: Any) -> Any:
    return dict.fromkeys(value, "") if isinstance(value, list) else value


def _step_names(manifest: Any, given: frozenset[str]) -> None:
    # Later steps' ids are <stage>-<name>: each needs a name of its own.
    names = [step.name for step in manifest.steps[1:]]
    if any(not name for name in names) or len(set(names)) != len(names):
        raise Invalid("value_error", "every step after the first needs a name, and step names must differ")


class PatternManifest(Record):
    summary: str
    description: str = ""
    container: bool = False
    internal: bool = False
    override: bool = False
    # The kind whose object gives ${stage.name}; the Service that gives host and port.
    main: str | None = None
    service: str | None = None
    # Common container fields this pattern does not take (a database has its own ports and
    # command), each with what to do instead; a list (no hints) is accepted for patterns written
    # before hints.
    omit: Annotated[dict[str, str], Before(_omit_list)] = param({})
    parameters: dict[str, dict[str, Any]] = param({})
    steps: Annotated[list[StepDecl], Length(min=1)]
    warnings: list[WarningDecl] = param([])

    __kc_checks__ = (_step_names,)
