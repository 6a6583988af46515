"""images: what kc knows about widely used images (``compiler/patterns/images.yaml``) onto the
stages that run them, where the stage does not say otherwise: the port the image listens on, and
the paths it writes, which kc's read-only root filesystem would refuse. A stage that serves its
pattern's default port from an image kc knows nothing of gets a warning, since kc cannot tell."""

from __future__ import annotations

from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir, source
from kc.compiler.diagnostics import Pos
from kc.compiler.patterns import container, registry
from kc.schemas import record


def _known(
    doc: source.Document, name: str, raw: dict[str, Any], facts: registry.ImageFacts, omit: set[str]
) -> dict[str, Any]:
    """The stage with the image's facts filled in; each new value is positioned at the image."""
    stage = dict(raw)
    path, at = ("stages", name), doc.pos(("stages", name, "image"))
    if facts.port is not None and not {"port", "ports"} & (raw.keys() | omit):
        stage["port"] = facts.port
        doc.values[(*path, "port")] = doc.keys[(*path, "port")] = at
    own = raw.get("writable", [])
    if facts.writable and "writable" not in omit and isinstance(own, list):
        mine = [(p, doc.pos((*path, "writable", i))) for i, p in enumerate(own) if p not in facts.writable]
        stage["writable"] = [*facts.writable, *(p for p, _ in mine)]
        doc.values[(*path, "writable")] = doc.pos((*path, "writable")) if own else at
        for index, pos in enumerate([at] * len(facts.writable) + [pos for _, pos in mine]):
            doc.values[(*path, "writable", index)] = pos
    return stage


def _unknown_port(
    pattern: registry.Pattern, name: str, raw: dict[str, Any], image: str, at: Pos
) -> list[diag.Diagnostic]:
    default = (pattern.manifest.parameters.get("port") or {}).get("default")
    if default is None or "port" in raw or "ports" in raw:
        return []
    message = (
        f"stage '{name}' serves and probes port {default}, the {pattern.name} pattern's default:"
        f" kc does not know which port {image} listens on"
    )
    return [diag.warning("KC504", at, message, "set 'port:' to the port the image listens on")]


def images(draft: ir.Draft) -> ir.Draft:
    doc = record.replace(draft.doc, values=dict(draft.doc.values), keys=dict(draft.doc.keys))
    stages: dict[str, dict[str, Any]] = {}
    warnings: list[diag.Diagnostic] = []
    for name, raw in draft.raw_stages.items():
        pattern = draft.library.get(str(raw.get("pattern")))
        image = raw.get("image")
        if pattern is None or not pattern.manifest.container or not isinstance(image, str):
            stages[name] = raw
            continue
        ref = container.image_ref(image, raw.get("registry") if isinstance(raw.get("registry"), str) else None)
        facts = draft.library.images.get(registry.repository(ref))
        if facts is not None:
            stages[name] = _known(doc, name, raw, facts, set(pattern.manifest.omit))
            continue
        stages[name] = raw
        warnings += _unknown_port(pattern, name, raw, ref, doc.pos(("stages", name, "image")))
    return record.replace(draft, doc=doc, raw_stages=stages, warnings=draft.warnings + tuple(warnings))
