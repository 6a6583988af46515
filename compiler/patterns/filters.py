"""The filters templates may use beyond Jinja's own. Each is a pure function of its input, so
rendering stays deterministic, and none reaches outside the values it is given."""

from __future__ import annotations

import json
import re
from decimal import Decimal

from kc.compiler import names
from kc.compiler.patterns import embed

_QUANTITY = re.compile(r"^([+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)([KMGTPE]i|[mkMGTPE])?$")
_SUFFIX = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate("kMGTPE")},
    **{f"{s}i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")},
}


def tojson(value: object) -> str:
    # JSON is YAML: values go into templates as JSON, so no value can change the YAML around it.
    # Keys keep their order (kc builds them in a fixed order), unlike Jinja's own tojson.
    return embed.JSON(json.dumps(value, ensure_ascii=False), value)


def seconds(duration: str) -> int:
    """``90``, ``30m``, ``2h``, ``1d`` in seconds."""
    unit = duration[-1]
    factor = {"s": 1, "m": 60, "h": 3600, "d": 86400}.get(unit)
    return int(duration[:-1]) * factor if factor else int(duration)


def quantity_bytes(quantity: str | int) -> int:
    """A Kubernetes quantity (``512Mi``, ``2G``, ``1.5Gi``) as a whole number of units, so a
    template can derive a setting from a limit, e.g. ``(memory | bytes) // 4``.
    https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/"""
    match = _QUANTITY.match(str(quantity))
    if not match:
        raise ValueError(f"'{quantity}' is not a Kubernetes quantity")
    return int(Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""])


FILTERS = {"tojson": tojson, "seconds": seconds, "digest": names.digest, "bytes": quantity_bytes}
