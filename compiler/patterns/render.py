"""Rendering a pattern's templates for one stage and reading the objects back.

Each render tries the template's generated Python first (templates.py); when that gives up, Jinja2
renders the template from scratch, so the text and the errors are always Jinja2's."""

from __future__ import annotations

from typing import Any

import yaml
from kc.compiler import diagnostics as diag
from kc.compiler.diagnostics import Pos
from kc.compiler.patterns import budget, embed, registry, skeleton, templates

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _template_pos(exc: BaseException, path: str) -> Pos:
    """Jinja rewrites tracebacks so template frames carry the template's file and line."""
    import traceback  # only for an error

    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == path and frame.lineno:
            line = frame.lineno
    return Pos(path, line, 1 if line else 0)


def _text(template: templates.Template, path: str, context: dict[str, Any], table: list[embed.JSON] | None) -> str:
    """The rendered text, with ``table`` for the embedded values (embed.py; None: plain text)."""
    if template.fast is not None:
        try:
            return template.fast(context, table)
        except Exception:  # not sure to match Jinja2 (runtime.py): Jinja2 renders it from scratch
            if table:
                table.clear()
    return _jinja_text(template, path, {**context, embed.TABLE: table})


def _jinja_text(template: templates.Template, path: str, context: dict[str, Any]) -> str:
    """Jinja2's rendering, within the render budget (budget.py): the output is counted and the
    clock checked as it is written."""
    import jinja2
    from jinja2.exceptions import SecurityError

    spent = budget.start()
    chunks: list[str] = []
    size = 0
    try:
        for chunk in template.jinja().generate(context):
            size += len(chunk)
            chunks.append(chunk)
            if len(chunks) % 1024 == 0:  # the clock, not on every chunk: rendering is the hot path
                spent.tick("writing its output")
            if size > budget.MAX_OUTPUT:
                raise SecurityError(f"the template wrote more than {budget.MAX_OUTPUT} characters")
        return "".join(chunks)
    except jinja2.TemplateError as exc:
        raise diag.CompileError([diag.error("KC502", _template_pos(exc, path), f"template error: {exc}")]) from None
    except Exception as exc:  # 1/0, a bad filter input, a range too big for the sandbox
        message = f"template error: {type(exc).__name__}: {exc}"
        raise diag.CompileError([diag.error("KC502", _template_pos(exc, path), message)]) from None


def _parsed(template: templates.Template, path: str, context: dict[str, Any]) -> list[Any]:
    """The template's documents. Rendered first with embedded values (embed.py); when the YAML
    needs one of them while parsing, rendered again as plain text."""
    embedded: list[embed.JSON] = []
    text = _text(template, path, context, embedded)
    try:
        return [embed.restore(d, embedded) for d in yaml.load_all(text, Loader=_Loader) if d is not None]
    except yaml.YAMLError:
        if not embedded:
            raise
    text = _text(template, path, context, None)
    return [d for d in yaml.load_all(text, Loader=_Loader) if d is not None]


def _objects(template: templates.Template, path: str, context: dict[str, Any]) -> list[dict[str, Any]]:
    try:
        docs = skeleton.objects(template, context)
        if docs is None:
            docs = _parsed(template, path, context)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (output line {mark.line + 1})" if mark else ""
        raise diag.CompileError(
            [diag.error("KC502", Pos(path, 0), f"template output is not YAML: {exc.problem}{where}")]
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
    return [
        (step, [obj for path, template in step.templates for obj in _objects(template, path, context)])
        for step in pattern.steps
    ]


def warnings(pattern: registry.Pattern, context: dict[str, Any], pos: Pos) -> list[diag.Diagnostic]:
    """The pattern's declared warnings whose condition holds for this stage."""
    out = []
    for decl, condition, where in pattern.warnings:
        try:
            holds = condition.evaluate(context)
        except Exception as exc:  # an undefined name, or anything the sandbox refuses
            raise diag.CompileError([diag.error("KC502", where, f"warning condition '{decl.when}': {exc}")]) from None
        if holds:
            out.append(diag.warning(decl.code, pos, decl.message.strip(), decl.hint.strip()))
    return out
