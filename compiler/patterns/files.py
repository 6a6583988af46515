"""Parameters that name files: ``files`` (read as text) and ``objects`` (read as Kubernetes
objects). Globs are relative to the spec and never leave its directory tree unless
``--allow-outside`` is given; every problem is an error at the glob's line or in the file."""

from __future__ import annotations

import glob
import os
import re
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import source
from kc.compiler.diagnostics import Pos
from kc.schemas.record import Record

# https://kubernetes.io/docs/reference/using-api/#api-groups
_API_VERSION = re.compile(r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?$")
_KIND = re.compile(r"^[A-Z][A-Za-z0-9]*$")
# DNS subdomain: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class Where(Record, kw_only=False):
    """What reading a stage's files depends on besides its globs."""

    doc: source.Document  # the spec: globs are relative to its folder
    allow_outside: bool  # --allow-outside
    namespace: str  # the pipeline's: an object may name no other


def _matches(
    where: Where, stage: str, key: str, globs: list[str]
) -> tuple[list[tuple[str, str]], list[diag.Diagnostic]]:
    """(real path, name to show) of each file the globs match, in glob order, each file once."""
    root = os.path.realpath(os.path.dirname(os.path.abspath(where.doc.file)))
    shown_root = os.path.dirname(where.doc.file)
    out: list[tuple[str, str]] = []
    errors = []
    for index, pattern in enumerate(globs):
        pos = where.doc.pos(("stages", stage, key, index))
        # root_dir: the spec's folder name is a path, not a pattern ("we[1]" is no character class)
        matches = sorted(os.path.join(root, m) for m in glob.glob(pattern, root_dir=root, recursive=True))
        if not matches:
            errors.append(diag.error("KC208", pos, f"no file matches '{pattern}'"))
        for path in matches:
            real = os.path.realpath(path)
            if not where.allow_outside and os.path.commonpath([root, real]) != root:
                errors.append(diag.error("KC207", pos, f"'{pattern}' reaches outside the spec's directory"))
            elif os.path.isfile(real) and real not in (r for r, _ in out):
                out.append((real, os.path.normpath(os.path.join(shown_root, os.path.relpath(path, root)))))
    return out, errors


def read_texts(where: Where, stage: str, key: str, globs: list[str]) -> tuple[dict[str, str], list[diag.Diagnostic]]:
    """A ``files`` parameter: each file's base name (as matched, not where a link leads) and its
    text, in which a ``${`` is text like everywhere else in a file, not a kc reference."""
    found, errors = _matches(where, stage, key, globs)
    out: dict[str, str] = {}
    for real, shown in found:
        name = os.path.basename(shown)
        if name in out:
            pos = where.doc.pos(("stages", stage, key))
            errors.append(diag.error("KC209", pos, f"two files are named '{name}'; each needs a name of its own"))
            continue
        try:
            with open(real, encoding="utf-8") as f:
                out[name] = _escaped(f.read())
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(diag.error("KC001", Pos(shown), f"cannot read {shown}: {exc}"))
    return out, errors


def _escaped(value: Any) -> Any:
    """Raw manifests pass through as written: a ``${`` in them is text, not a kc reference."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value


def _crd_errors(doc: source.Document) -> list[diag.Diagnostic]:
    """What kc reads from a CRD (its group, kind and scope) must be there."""
    spec = doc.data.get("spec")
    names = spec.get("names") if isinstance(spec, dict) else None
    found = {
        "spec.group": spec.get("group") if isinstance(spec, dict) else None,
        "spec.names.kind": names.get("kind") if isinstance(names, dict) else None,
        "spec.names.plural": names.get("plural") if isinstance(names, dict) else None,
        "spec.scope": spec.get("scope") if isinstance(spec, dict) else None,
    }
    errors = []
    for field, value in found.items():
        if not isinstance(value, str) or (field == "spec.scope" and value not in ("Namespaced", "Cluster")):
            path = tuple(field.split("."))
            pos = doc.pos(path if path in doc.values else ("kind",))
            shown = "missing" if value is None else repr(value)
            errors.append(diag.error("KC109", pos, f"CustomResourceDefinition: {field} is {shown}"))
    return errors


def _object_errors(doc: source.Document, namespace: str) -> list[diag.Diagnostic]:
    data = doc.data
    what = "a Kubernetes object is a mapping with apiVersion, kind and metadata.name"
    if not isinstance(data, dict):
        return [diag.error("KC109", doc.pos(()), "not a Kubernetes object", what)]
    errors = []
    checks = (
        ("apiVersion", _API_VERSION, "an API version such as 'v1' or 'apps/v1'"),
        ("kind", _KIND, "a kind such as 'ConfigMap'"),
    )
    for field, pattern, example in checks:
        value = data.get(field)
        if not isinstance(value, str) or not pattern.match(value):
            pos = doc.pos((field,)) if field in data else doc.pos(())
            shown = f"'{value}'" if field in data else "missing"
            errors.append(diag.error("KC109", pos, f"{field} is {shown}", f"give {example}; {what}"))
    if data.get("kind") == "List":
        errors.append(
            diag.error("KC109", doc.pos(("kind",)), "a List is not an object", "write its items as documents")
        )
    meta = data.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not _NAME.match(name):
        pos = doc.pos(("metadata", "name")) if isinstance(meta, dict) and "name" in meta else doc.pos(("metadata",))
        errors.append(diag.error("KC109", pos, f"metadata.name is {'missing' if name is None else repr(name)}", what))
    if data.get("kind") == "CustomResourceDefinition":
        errors.extend(_crd_errors(doc))
    given = meta.get("namespace") if isinstance(meta, dict) else None
    if given is not None and given != namespace:
        errors.append(
            diag.error(
                "KC109",
                doc.pos(("metadata", "namespace")),
                f"namespace '{given}' is not the pipeline's namespace '{namespace}'",
                "leave namespace out: kc puts every object of the pipeline into its namespace",
            )
        )
    return errors


def read_objects(
    where: Where, stage: str, key: str, globs: list[str]
) -> tuple[list[dict[str, Any]], list[diag.Diagnostic]]:
    """An ``objects`` parameter: every document of every file, checked to be a Kubernetes object."""
    found, errors = _matches(where, stage, key, globs)
    out: list[dict[str, Any]] = []
    for real, shown in found:
        try:
            docs = source.load_all_file(real, shown)
        except diag.CompileError as exc:
            errors.extend(exc.diagnostics)
            continue
        for doc in docs:
            problems = _object_errors(doc, where.namespace)
            errors.extend(problems)
            if not problems:
                out.append(_escaped(doc.data))
    return out, errors
