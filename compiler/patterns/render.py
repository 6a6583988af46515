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
            except Exception as exc:  # 1/0, a bad filter input, a range too big for the sandbox
                message = f"template error: {type(exc).__name__}: {exc}"
                raise diag.CompileError([diag.error("KC502", _template_pos(exc, path), message)]) from None
            objects.extend(_objects(text, path))
        out.append((step, objects))
    return out


def warnings(pattern: registry.Pattern, context: dict[str, Any], pos: Pos) -> list[diag.Diagnostic]:
    """The pattern's declared warnings whose condition holds for this stage."""
    out = []
    for decl, condition, where in pattern.warnings:
        try:
            holds = condition(**context)
        except Exception as exc:  # an undefined name, or anything the sandbox refuses
            raise diag.CompileError([diag.error("KC502", where, f"warning condition '{decl.when}': {exc}")]) from None
        if holds:
            out.append(diag.warning(decl.code, pos, decl.message.strip(), decl.hint.strip()))
    return out


def _template_value(decl: dict[str, Any], value: Any) -> Any:
    if isinstance(value, dict) and decl.get("type") == "object":
        properties = decl.get("properties") or {}
        return {k.replace("-", "_"): _template_value(properties.get(k, {}), v) for k, v in value.items()}
    if isinstance(value, dict) and decl.get("type") == "map":
        return {k: _template_value(decl.get("values", {}), v) for k, v in value.items()}
    if isinstance(value, list) and decl.get("type") == "list":
        return [_template_value(decl.get("items", {}), v) for v in value]
    return value


def template_params(parameters: dict[str, dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """Parameters as templates see them: names and the properties of ``object`` parameters read
    in snake_case (``p.storage_class``, ``p.expose.tls_secret``); the keys of maps (input names,
    ConfigMap keys, env names) are the user's own data and stay as written."""
    return {k.replace("-", "_"): _template_value(parameters.get(k, {}), v) for k, v in values.items()}
