"""Data wiring between stages, read from parameter types rather than pattern names: a parameter
of type ``outputs`` declares a stage's outputs, and every ``output-ref`` value (``ingest.records``)
wires a stage to one of another stage's outputs. The references pass turns each wire into a
dependency and checks it, so any pattern, a user's too, can take part. In the same way a
``results`` parameter declares the values a stage publishes, an ``items`` or ``shards``
parameter fans a stage out into one pod per item, and a ``when`` parameter makes a finally step."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kc.compiler import source


def _declared(kind: str, parameters: dict[str, dict[str, Any]], params: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for key, decl in parameters.items():
        if decl.get("type") == kind:
            # Stage parameters keep the spec's spelling, template parameters are snake_case.
            found.extend(str(o) for o in params.get(key, params.get(key.replace("-", "_"))) or [])
    return found


def outputs(parameters: dict[str, dict[str, Any]], params: dict[str, Any]) -> list[str]:
    """The outputs a stage declares, in the order it declares them."""
    return _declared("outputs", parameters, params)


def results(parameters: dict[str, dict[str, Any]], params: dict[str, Any]) -> list[str]:
    """The results a stage declares, in the order it declares them."""
    return _declared("results", parameters, params)


def when(parameters: dict[str, dict[str, Any]], params: dict[str, Any]) -> str | None:
    """``always`` or ``failed`` for a finally step, None for any other."""
    for key, decl in parameters.items():
        value = params.get(key, params.get(key.replace("-", "_")))
        if decl.get("type") == "when" and value in ("always", "failed"):
            return str(value)
    return None


def items(parameters: dict[str, dict[str, Any]], params: dict[str, Any]) -> tuple[list[str], bool] | None:
    """The items a stage fans out over, and whether they are shards (``0`` … ``N-1``, each its
    pod's completion index); None for a stage that does not fan out."""
    listed = _declared("items", parameters, params)
    if listed:
        return listed, False
    for key, decl in parameters.items():
        count = params.get(key, params.get(key.replace("-", "_")))
        if decl.get("type") == "shards" and isinstance(count, int):
            return [str(i) for i in range(count)], True
    return None


def _refs(decl: dict[str, Any], value: Any, path: source.Path) -> Iterator[tuple[source.Path, str]]:
    kind = decl.get("type", "string")
    if value is None:
        return
    if kind == "output-ref":
        yield path, str(value)
    elif kind == "map" and isinstance(value, dict):
        for k, v in value.items():
            yield from _refs(decl.get("values", {}), v, (*path, k))
    elif kind == "list" and isinstance(value, list):
        for i, v in enumerate(value):
            yield from _refs(decl.get("items", {}), v, (*path, i))
    elif kind == "object" and isinstance(value, dict):
        for k, sub in (decl.get("properties") or {}).items():
            yield from _refs(sub, value.get(k), (*path, k))


def wires(parameters: dict[str, dict[str, Any]], params: dict[str, Any]) -> list[tuple[source.Path, str]]:
    """Every ``output-ref`` value with its path inside the stage (``("inputs", "raw")``)."""
    return [found for key, decl in parameters.items() for found in _refs(decl, params.get(key), (key,))]
