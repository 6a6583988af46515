"""The spec's top level as records (``kc.schemas.shape``). Stages stay raw here: each is validated
against its pattern's own parameter schema (``kc.schemas.params``) once the pattern is known."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from kc.schemas import egress, values
from kc.schemas import types as t
from kc.schemas.record import Record, param
from kc.schemas.shape import Before, Invalid, JsonSchema, Length, Pattern, Range


class Quota(Record, kebab_keys=True):
    cpu: t.Quantity | None = None
    memory: t.Quantity | None = None
    pods: Annotated[int, Range(ge=1, le=100_000)] | None = None
    storage: t.Quantity | None = param(None, description="What the claims request together (requests.storage).")
    claims: Annotated[int, Range(ge=1, le=100_000)] | None = param(
        None, description="How many claims there may be (persistentvolumeclaims)."
    )
    ephemeral_storage: t.Quantity | None = param(
        None, description="Local disk of the containers: requests and limits of ephemeral-storage."
    )


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
    egress: list[egress.Entry] = param(
        [],
        description="Where every stage's pods may connect besides the stages they refer to: "
        "HOST:PORT, CIDR:PORT, kubernetes or *.",
    )


class Defaults(Record, kebab_keys=True):
    registry: str | None = None
    size: t.Size | None = None
    resources: t.Resources | None = None
    env: dict[t.EnvName, t.EnvValue] = param({})
    labels: dict[t.LabelKey, t.LabelValue] = param({})
    annotations: dict[t.LabelKey, str] = param({})
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    health: str | None = None
    pending_timeout: values.PendingTimeout | None = None


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
    # Egress (docs/security.md, "Network"): "*" and host names reach any address; where the
    # cluster's DNS and API server are.
    allow_egress_anywhere: bool = True
    egress_cidrs: list[egress.Network] | None = param(
        None, description="The networks egress entries may reach; '*' and host names reach 0.0.0.0/0 and ::/0."
    )
    dns_namespace: t.Label = "kube-system"
    dns_labels: dict[t.LabelKey, t.LabelValue] = param({"k8s-app": "kube-dns"})
    api_server: list[egress.Address] | None = param(
        None, description="Where 'egress: [kubernetes]' leads (CIDR:PORT); by default any address on 443 and 6443."
    )


# A run parameter's name: what follows ``params.`` in a reference, and the NAME of --param.
PARAM_NAME = r"^[a-z][a-z0-9_-]*$"


def param_text(value: object) -> str:
    """A parameter's value as the text a reference puts in its place: booleans as YAML writes them
    (``true``, ``false``), numbers as Python writes them (``3``, ``0.5``), text as it is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | str):
        return str(value)
    if value is None:
        raise Invalid("kc_param", "a parameter needs a default: text, a number or true/false")
    kind = "a mapping" if isinstance(value, dict) else "a list"
    raise Invalid("kc_param", "a parameter is text, a number or true/false, not {kind}", {"kind": kind})


ParamName = Annotated[str, Length(max=63), Pattern(PARAM_NAME)]
ParamValue = Annotated[str, Before(param_text), JsonSchema({"type": ["string", "number", "boolean"]})]


class Profile(Record, kebab_keys=True):
    description: str | None = None
    params: dict[ParamName, ParamValue] | None = param(None, description="Other values for the spec's parameters.")
    workspace: dict[str, Any] | None = None
    defaults: dict[str, Any] | None = None
    policy: dict[str, Any] | None = None
    flow: Literal["dependencies", "sequential"] | None = None
    stages: dict[str, dict[str, Any] | None] = param({})


# Names no stage may take: bundle 0 is the workspace, ${pipeline.…} refers to the pipeline and
# ${item} to a fanned-out stage's item, and ${params.…} to the run parameters.
RESERVED_STAGES = frozenset({"workspace", "pipeline", "item", "params"})


class Spec(Record, kebab_keys=True):
    kc: Literal[1]
    pipeline: Annotated[str, Length(max=40), Pattern(t.INSTANCE_NAME)]
    description: str | None = None
    workspace: Workspace = param(factory=Workspace)
    defaults: Defaults = param(factory=Defaults)
    policy: Policy = param(factory=Policy)
    flow: Literal["dependencies", "sequential"] = "dependencies"
    imports: list[str] = param([])
    params: dict[ParamName, ParamValue] = param(
        {}, description="Run parameters and their defaults; ${params.NAME} reads one, --param NAME=VALUE sets it."
    )
    stages: dict[t.Label, dict[str, Any] | str]
    profiles: dict[t.Label, Profile] = param({})
