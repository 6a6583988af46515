"""What a value that does not match its pattern should look like: the kind of value it is meant
to be, in words rather than as the regular expression, and a guess at what was meant (``10GB``:
did you mean ``10Gi``?). The diagnostics for pattern mismatches read it (``model_errors``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from kc.schemas import spec as spec_schema
from kc.schemas import stage, units, values
from kc.schemas import types as t


class Shape(NamedTuple):
    noun: str  # "a quantity", "a port name"
    rule: str  # what such a value is, after the noun: "is a number with …"
    guess: Callable[[str], str | None]  # what the user probably meant, if anything close is valid


_NAME_RULE = "has lower-case letters, digits and '-', starts and ends with a letter or digit"
# Byte units as people write them, and the Kubernetes suffix each is closest to.
_BYTES = {
    **dict.fromkeys(("k", "K", "kb", "kib", "ki"), "Ki"),
    **dict.fromkeys(("mb", "mib", "mi"), "Mi"),
    **dict.fromkeys(("g", "gb", "gib", "gi"), "Gi"),
    **dict.fromkeys(("t", "tb", "tib", "ti"), "Ti"),
    **dict.fromkeys(("p", "pb", "pib", "pi"), "Pi"),
    **dict.fromkeys(("e", "eb", "eib", "ei"), "Ei"),
}
_NUMBER_AND_UNIT = re.compile(r"^\s*([+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*([A-Za-z]*)\s*$")
_DURATION_WORDS = {
    "s": ("s", "sec", "secs", "second", "seconds"),
    "m": ("m", "min", "mins", "minute", "minutes"),
    "h": ("h", "hr", "hrs", "hour", "hours"),
    "d": ("d", "day", "days"),
}


def _valid(pattern: str, text: str) -> str | None:
    return text if text and re.search(pattern, text) else None


def _quantity(text: str) -> str | None:
    found = _NUMBER_AND_UNIT.match(text)
    if not found:
        return None
    number, unit = found.groups()
    suffix = unit if _valid(t.QUANTITY, f"1{unit}") else _BYTES.get(unit) or _BYTES.get(unit.lower())
    return None if suffix is None else _valid(t.QUANTITY, f"{number}{suffix}")


def _duration(text: str) -> str | None:
    spaced = re.sub(r"\s+", "", text.lower())
    for unit, words in _DURATION_WORDS.items():
        for word in sorted(words, key=len, reverse=True):
            spaced = re.sub(rf"([0-9]){word}(?=[0-9]|$)", rf"\g<1>{unit}", spaced)
    try:
        total = units.seconds(spaced)
    except ValueError:
        return None
    if total != int(total) or total <= 0:
        return None
    whole = int(total)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"


def _label(text: str, limit: int = 63, pattern: str = t.DNS_LABEL) -> str | None:
    made = re.sub(r"[^a-z0-9-]+", "-", text.strip().lower()).strip("-")
    return _valid(pattern, made) if len(made) <= limit else None  # cut short, it would be a guess


def _env(text: str) -> str | None:
    return _valid(t.ENV_NAME, re.sub(r"[^A-Za-z0-9_]+", "_", text.strip()).strip("_").upper())


def _path(text: str) -> str | None:
    return "/" + text.lstrip("./") if text.strip() and not text.startswith("/") else None


def _none(text: str) -> str | None:
    return None


SHAPES: dict[str, Shape] = {
    t.QUANTITY: Shape(
        "a quantity", "is a number with an optional suffix, such as 250m (CPU), 2, 512Mi or 10Gi", _quantity
    ),
    values.DURATION: Shape(
        "a duration", "is seconds, or a number with s, m, h or d, such as 90, 30m, 2h or 1d", _duration
    ),
    t.DNS_LABEL: Shape("a name", f"{_NAME_RULE} and has at most 63 characters", _label),
    t.INSTANCE_NAME: Shape(
        "a name",
        "has lower-case letters, digits and '-', starts with a letter, ends with a letter or digit and has at "
        "most 40 characters",
        lambda v: _label(v, 40, t.INSTANCE_NAME),
    ),
    stage.PORT_NAME: Shape(
        "a port name",
        "has at most 15 characters, lower-case letters, digits and '-' with at least one letter "
        "(http, metrics, grpc-web)",
        lambda v: _label(v, 15, stage.PORT_NAME),
    ),
    t.ENV_NAME: Shape(
        "an environment variable name",
        "has letters, digits and '_' ('-' and '.' too) and does not start with a digit; by convention it is "
        "UPPER_CASE, such as LOG_LEVEL",
        _env,
    ),
    t.LABEL_KEY: Shape(
        "a label key",
        "is an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_' and '.', starting and ending "
        "with a letter or digit, such as app.kubernetes.io/part-of or team",
        _none,
    ),
    t.LABEL_VALUE: Shape(
        "a label value",
        "has at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit, or is empty",
        _none,
    ),
    t.ABSOLUTE_PATH: Shape("an absolute path", "starts with '/'", _path),
    t.KEY_REF: Shape(
        "a key reference",
        "is the Secret's or ConfigMap's name (or the stage that makes it), '/', and the key, such as db-creds/password",
        _none,
    ),
    values.OUTPUT_REF: Shape("an output reference", "is '<task>.<output>', such as ingest.records", _none),
    spec_schema.PARAM_NAME: Shape(
        "a parameter name",
        "has lower-case letters, digits, '-' and '_', starts with a letter and has at most 63 characters",
        _none,
    ),
}


def explain(pattern: str, value: object) -> tuple[str, str]:
    """(what ``value`` is not, the hint) for a value that does not match ``pattern``: ``'10GB'
    is not a quantity`` and ``did you mean '10Gi'? a quantity is …``; for a pattern kc has no
    words for, the pattern itself, as written."""
    shape = SHAPES.get(pattern)
    if shape is None:
        return f"'{value}' does not match the pattern {pattern}", ""
    guess = shape.guess(value) if isinstance(value, str) else None
    rule = f"{shape.noun} {shape.rule}"
    return f"'{value}' is not {shape.noun}", (f"did you mean '{guess}'? " if guess and guess != value else "") + rule


def noun(pattern: str) -> str:
    """What a name of ``pattern`` is called: ``port name``; ``name`` when kc has no word for it."""
    shape = SHAPES.get(pattern)
    return shape.noun.split(" ", 1)[1] if shape else "name"
