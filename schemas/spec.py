"""The spec's top level as records (``kc.schemas.shape``). Stages stay raw here: each is validated
against its pattern's own parameter schema (``kc.schemas.params``) once the pattern is known."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from kc.schemas import params
from kc.schemas import types as t
from kc.schemas.record import Record, param
from kc.schemas.shape import Length, Pattern, Range


class Quota(Record, kebab_keys=True):
    cpu: t.Quantity | None = None
    memory: t.Quantity | None = None
    pods: Annotated[int, Range(ge=1, le=100_000)] | None = None
    storage: t.Quantity | None = None


class DataClaim(Record, kebab_keys=True):
    size: t.Quantity = "10Gi"
    storage_class: str | None = None
    access: Literal["ReadWriteOnce", "ReadWriteMany", "ReadWriteOncePod"] = "ReadWriteOnce"


class Workspace(Record, kebab_keys=True):
    namespace: t.Label | None = None
    create: bool = True
    quota: Quota | None = None
    limits: t.Size | t.Resources | None = None
    network: Literal["isolated", "open"] = "isolated"
    data: DataClaim | None = None
    labels: dict[t.LabelKey, t.LabelValue] = param({})
    annotations: dict[t.LabelKey, str] = param({})


class Defaults(Record, kebab_keys=True):
    registry: str | None = None
    size: t.Size | None = None
    resources: t.Resources | None = None
    env: dict[t.EnvName, t.EnvValue] = param({})
    labels: dict[t.LabelKey, t.LabelValue] = param({})
    annotations: dict[t.LabelKey, str] = param({})
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    health: str | None = None
    pending_timeout: params.PendingTimeout | None = None


class Policy(Record, kebab_keys=True):
    max_replicas: Annotated[int, Range(ge=0, le=10_000)] = 20
    max_parallelism: Annotated[int, Range(ge=1, le=10_000)] = 10
    allow_latest_tag: bool = False
    allow_privileged: bool = False
    allow_host_paths: bool = False
    allow_root: bool = False
    allow_unconfined: bool = False
    allow_volume_types: bool = False
    require_health: bool = False
    data: Literal["retain", "delete"] = "retain"


class Profile(Record, kebab_keys=True):
    description: str | None = None
    workspace: dict[str, Any] | None = None
    defaults: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None
    flow: Literal["dependencies", "sequential"] | None = None
    stages: dict[str, dict[str, Any] | None] = param({})


# Names no stage may take: bundle 0 is the workspace, and ${pipeline.…} refers to the pipeline.
RESERVED_STAGES = frozenset({"workspace", "pipeline"})


class Spec(Record, kebab_keys=True):
    kc: Literal[1]
    pipeline: Annotated[str, Length(max=40), Pattern(t.INSTANCE_NAME)]
    description: str | None = None
    workspace: Workspace = param(factory=Workspace)
    defaults: Defaults = param(factory=Defaults)
    policy: Policy = param(factory=Policy)
    flow: Literal["dependencies", "sequential"] = "dependencies"
    imports: list[str] = param([])
    stages: dict[t.Label, dict[str, Any] | str]
    profiles: dict[t.Label, Profile] = param({})
