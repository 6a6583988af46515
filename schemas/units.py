"""The one reading of Kubernetes quantities and of durations, for the spec's types, the templates'
filters, ``kc diff``'s comparison and the command line alike."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
_SUFFIX = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    **{s: Decimal(1000) ** (i + 1) for i, s in enumerate("kMGTPE")},
    **{f"{s}i": Decimal(1024) ** (i + 1) for i, s in enumerate("KMGTPE")},
}
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)")

_DURATION_UNITS = {"ms": Decimal("0.001"), "s": Decimal(1), "m": Decimal(60), "h": Decimal(3600), "d": Decimal(86400)}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def quantity(value: object) -> Decimal | None:
    """The value of ``1000m``, ``1Gi``, ``1.5``, ``2e3``; None if it is not a quantity."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    match = _QUANTITY.fullmatch(str(value).strip())
    if not match:
        return None
    try:
        number = Decimal(match[1])
        return number * (Decimal(10) ** int(match[2][1:]) if match[2] else _SUFFIX[match[3] or ""])
    except (InvalidOperation, ValueError):
        return None


def seconds(text: str | int) -> Decimal:
    """Seconds in ``90``, ``90s``, ``5m``, ``1h30m``, ``2d`` or ``500ms``; ValueError otherwise."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return Decimal(text)
    parts = _DURATION_PART.findall(text)
    if not text or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"invalid duration {text!r}: use e.g. 90s, 5m or 1h30m")
    return sum((Decimal(n) * _DURATION_UNITS[u] for n, u in parts), Decimal(0))
