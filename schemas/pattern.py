"""The manifest of a pattern folder: ``pattern.yaml``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


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


class StepDecl(_Model):
    name: str = Field("", pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")
    gate: GateKind
    templates: list[str]
    description: str = ""


class WarningDecl(_Model):
    """A warning the pattern gives when ``when`` (a Jinja expression over the template context,
    e.g. ``not p.certs``) is true for a stage."""

    when: str
    message: str
    hint: str = ""
    # kc's warning codes; a pattern cannot invent codes, so scripts can rely on them.
    code: Literal["KC408", "KC503"] = "KC503"


class PatternManifest(_Model):
    summary: str
    description: str = ""
    container: bool = False
    internal: bool = False
    override: bool = False
    # The kind whose object gives ${stage.name}; the Service that gives host and port.
    main: str | None = None
    service: str | None = None
    # Common container fields this pattern does not take (a database has its own probes), each with
    # what to do instead; a list (no hints) is accepted for patterns written before hints.
    omit: dict[str, str] = {}
    parameters: dict[str, dict[str, Any]] = {}
    steps: list[StepDecl] = Field(min_length=1)
    warnings: list[WarningDecl] = []

    @field_validator("omit", mode="before")
    @classmethod
    def _omit_list(cls, value: Any) -> Any:
        return dict.fromkeys(value, "") if isinstance(value, list) else value

    @model_validator(mode="after")
    def _step_names(self) -> PatternManifest:
        # Later steps' ids are <stage>-<name>: each needs a name of its own.
        names = [step.name for step in self.steps[1:]]
        if any(not name for name in names) or len(set(names)) != len(names):
            raise ValueError("every step after the first needs a name, and step names must differ")
        return self
