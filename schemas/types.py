"""Value types shared by the spec, the patterns' parameters and the policy file."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from kc.schemas.record import Record
from kc.schemas.shape import Before, JsonSchema, Length, Pattern

# Kubernetes names: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# Every object name starts with the instance name, and Service names must start with a letter.
INSTANCE_NAME = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
QUANTITY = r"^[+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|[KMGTPE]i|[mkMGTPE])?$"
ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"
LABEL_KEY = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)
ABSOLUTE_PATH = r"^/"
# A key of a Secret or ConfigMap: its name (or the stage that makes it), "/", the key.
KEY_REF = r"^[a-z0-9][-a-z0-9.]*/[-._a-zA-Z0-9]+$"
re_label = re.compile(DNS_LABEL)
re_instance = re.compile(INSTANCE_NAME)
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"


def _number_to_text(value: object) -> object:
    # YAML reads `cpu: 2` as an integer; Kubernetes quantities are text.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


Label = Annotated[str, Length(max=63), Pattern(DNS_LABEL)]
LabelKey = Annotated[str, Length(max=253), Pattern(LABEL_KEY)]
LabelValue = Annotated[str, Length(max=63), Pattern(LABEL_VALUE)]
# Numbers are read as text (`cpu: 2`, `PORT: 8080`). WithJsonSchema says so in the JSON Schema, and keeps
# the quantity's pattern, which pydantic leaves out of it after a BeforeValidator.
Quantity = Annotated[
    str,
    Before(_number_to_text),
    Pattern(QUANTITY),
    JsonSchema({"anyOf": [{"type": "string", "pattern": QUANTITY}, {"type": "number", "minimum": 0}]}),
]
EnvName = Annotated[str, Pattern(ENV_NAME)]
Size = Literal["nano", "small", "medium", "large", "xlarge"]
Path = Annotated[str, Pattern(ABSOLUTE_PATH)]


class Resources(Record, kebab_keys=True):
    cpu: Quantity
    memory: Quantity
    # Local disk: the container's logs and writable layer, and its pod's emptyDir volumes.
    ephemeral_storage: Quantity | None = None


class SecretRef(Record):
    secret: Annotated[str, Pattern(KEY_REF)]


class ConfigRef(Record):
    config: Annotated[str, Pattern(KEY_REF)]


EnvValue = Annotated[str, Before(_number_to_text), JsonSchema({"type": ["string", "number"]})] | SecretRef | ConfigRef

EPHEMERAL = "ephemeral-storage"
# (requests, limits) for each size: limits allow a burst of about twice the request. The
# ephemeral-storage limit holds the pod's /tmp (256Mi) and the container's logs with room to
# spare; a larger program gets more, as it gets more memory.
SIZES: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "nano": (
        {"cpu": "50m", "memory": "64Mi", EPHEMERAL: "256Mi"},
        {"cpu": "100m", "memory": "128Mi", EPHEMERAL: "1Gi"},
    ),
    "small": (
        {"cpu": "100m", "memory": "128Mi", EPHEMERAL: "256Mi"},
        {"cpu": "250m", "memory": "256Mi", EPHEMERAL: "1Gi"},
    ),
    "medium": (
        {"cpu": "250m", "memory": "512Mi", EPHEMERAL: "512Mi"},
        {"cpu": "500m", "memory": "1Gi", EPHEMERAL: "2Gi"},
    ),
    "large": ({"cpu": "500m", "memory": "1Gi", EPHEMERAL: "1Gi"}, {"cpu": "1", "memory": "2Gi", EPHEMERAL: "4Gi"}),
    "xlarge": ({"cpu": "1", "memory": "2Gi", EPHEMERAL: "2Gi"}, {"cpu": "2", "memory": "4Gi", EPHEMERAL: "8Gi"}),
}
