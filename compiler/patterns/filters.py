"""The filters templates may use beyond Jinja's own. Each is a pure function of its input, so
rendering stays deterministic, and none reaches outside the values it is given."""

from __future__ import annotations

from kc.compiler import jsontext, object_names
from kc.compiler.patterns import embed
from kc.schemas import units


def tojson(value: object) -> str:
    # JSON is YAML: values go into templates as JSON, so no value can change the YAML around it.
    # Keys keep their order (kc builds them in a fixed order), unlike Jinja's own tojson.
    return embed.JSON(jsontext.compact(value), value)


def seconds(duration: str) -> int:
    """``90``, ``30m``, ``2h``, ``1d`` in whole seconds."""
    return int(units.seconds(duration))


def quantity_bytes(quantity: str | int) -> int:
    """A Kubernetes quantity (``512Mi``, ``2G``, ``1.5Gi``) as a whole number of units, so a
    template can derive a setting from a limit, e.g. ``(memory | bytes) // 4``."""
    value = units.quantity(quantity)
    if value is None:
        raise ValueError(f"'{quantity}' is not a Kubernetes quantity")
    return int(value)


FILTERS = {"tojson": tojson, "seconds": seconds, "digest": object_names.digest, "bytes": quantity_bytes}
