"""The manifest of a pattern folder: ``pattern.yaml``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StepDecl(_Model):
    name: str = Field("", pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$")
    gate: Literal["none", "rollout", "pods-running", "ready", "job-complete", "established"]
    templates: list[str]
    description: str = ""


class PatternManifest(_Model):
    summary: str
    description: str = ""
    container: bool = False
    internal: bool = False
    override: bool = False
    # The kind whose object gives ${stage.name}; the Service that gives host and port.
    main: str | None = None
    service: str | None = None
    parameters: dict[str, dict[str, Any]] = {}
    steps: list[StepDecl] = Field(min_length=1)
