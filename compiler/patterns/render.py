"""Rendering a pattern's templates for one stage and reading the objects back."""

from __future__ import annotations

import traceback
from typing import Any

import jinja2
import yaml
from kc.compiler import diagnostics as diag
from kc.compiler.diagnostics import Pos
from kc.compiler.patterns import registry

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _template_pos(exc: BaseException, path: str) -> Pos:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path and frame.lineno:
            line = frame.lineno
    return Pos(path, line, 1 if line else 0)


def _objects(text: str, path: str) -> list[dict[str, Any]]:
    try:
        docs = [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise diag.CompileError(
            [
                diag.error(
                    "KC502",
                    Pos(path, 0),
                    f"template output is not YAML: {exc.problem}" + (f" (output line {mark.line + 1})" if mark else ""),
                )
            ]
        ) from None
    for doc in docs:
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        if not (isinstance(meta, dict) and doc.get("apiVersion") and doc.get("kind") and meta.get("name")):
            raise diag.CompileError(
                [diag.error("KC502", Pos(path, 0), "template output needs apiVersion, kind and metadata.name")]
            )
    return docs


def render(
    pattern: registry.Pattern, context: dict[str, Any]
) -> list[tuple[registry.StepTemplates, list[dict[str, Any]]]]:
    """Each step of ``pattern`` with the objects its templates produce for ``context``."""
    out = []
    for step in pattern.steps:
        objects: list[dict[str, Any]] = []
        for path, template in step.templates:
            try:
                text = template.render(context)
            except jinja2.TemplateError as exc:
                raise diag.CompileError(
                    [diag.error("KC502", _template_pos(exc, path), f"template error: {exc}")]
                ) from None
            objects.extend(_objects(text, path))
        out.append((step, objects))
    return out
