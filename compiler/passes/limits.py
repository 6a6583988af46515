"""limits: the sizes and lengths the API server (and etcd behind it) refuses, checked on the
objects as they will be applied, so a spec that would fail in the cluster fails to compile, with
the numbers. https://kubernetes.io/docs/concepts/overview/working-with-objects/names/ and
https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from kc.compiler import diagnostics as diag
from kc.compiler import ir, kinds

MIB = 1 << 20
DATA_LIMIT = MIB  # a ConfigMap's or a Secret's data
ANNOTATIONS_LIMIT = 256 * 1024  # all of one object's annotations, keys and values
OBJECT_LIMIT = 3 * MIB // 2  # etcd's default request limit (--max-request-bytes)
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_LABEL_RULE = "at most 63 letters, digits, '-', '_' or '.', alphanumeric at both ends"
_DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


def _decoded(value: str) -> int:
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return _size(value)


def _data_size(manifest: dict[str, Any]) -> int:
    """The bytes the API server counts against the 1 MiB of a ConfigMap or Secret."""
    total = 0
    for field, encoded in (("data", manifest["kind"] == "Secret"), ("binaryData", True), ("stringData", False)):
        values = manifest.get(field)
        for key, value in values.items() if isinstance(values, dict) else ():  # else: for the server to refuse
            total += _size(str(key)) + (_decoded(str(value)) if encoded else _size(str(value)))
    return total


@functools.cache  # the same few label pairs stand on every object
def _label_problem(key: str, value: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)):
        return f"label key '{key}': its prefix must be a DNS subdomain of at most 253 characters"
    if len(name) > 63 or not _LABEL_NAME.fullmatch(name):
        return f"label key '{key}': its name has {len(name)} characters; {_LABEL_RULE}"
    if value and (len(value) > 63 or not _LABEL_NAME.fullmatch(value)):
        return f"label '{key}': its value has {len(value)} characters; {_LABEL_RULE}"
    return None


def _metadata(manifest: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The object's metadata and its templates' (pods, claims, a CronJob's Jobs): where labels live."""
    yield "", manifest.get("metadata") or {}
    spec = manifest.get("spec") or {}
    if not isinstance(spec, dict):
        return
    job = (spec.get("jobTemplate") or {}) if isinstance(spec.get("jobTemplate"), dict) else {}
    for where, template in (("the job template's ", job), ("the pod template's ", spec.get("template"))):
        if isinstance(template, dict):
            yield where, template.get("metadata") or {}
    if isinstance((job.get("spec") or {}).get("template"), dict):
        yield "the job's pod template's ", job["spec"]["template"].get("metadata") or {}
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            yield "a claim template's ", claim.get("metadata") or {}


def _problems(manifest: dict[str, Any], free_form: bool) -> Iterator[str]:
    kind, name = str(manifest["kind"]), str(manifest["metadata"]["name"])
    limit = kinds.name_limit(kind)
    if len(name) > limit:
        yield f"its name has {len(name)} characters; a {kind}'s may have {limit}"
    if kind in ("ConfigMap", "Secret") and (size := _data_size(manifest)) > DATA_LIMIT:
        yield f"its data is {size} bytes; Kubernetes allows {DATA_LIMIT} (1 MiB)"
    for where, meta in _metadata(manifest):
        annotations = meta.get("annotations") or {}
        size = sum(_size(str(k)) + _size(str(v)) for k, v in annotations.items())
        if size > ANNOTATIONS_LIMIT:
            yield f"{where}annotations are {size} bytes; Kubernetes allows {ANNOTATIONS_LIMIT} (256 KiB)"
        for key, value in (meta.get("labels") or {}).items():
            if (problem := _label_problem(str(key), str(value))) is not None:
                yield where + problem
    if not free_form:
        return
    size = _size(json.dumps(manifest, separators=(",", ":")))
    if size > OBJECT_LIMIT:
        yield f"it is {size} bytes as JSON; the API server's store takes {OBJECT_LIMIT} (1.5 MiB) at most"


# Objects whose size the user decides: data, and what the manifests pattern passes through. The
# rest come from kc's templates, whose fields are checked as parameters; serialising every object
# to measure it would cost a tenth of a large compile.
_FREE_FORM_KINDS = {"ConfigMap", "Secret", "CustomResourceDefinition"}


def limits(program: ir.Draft) -> ir.Draft:
    passed_through = {s.name for s in program.stages if s.pattern == "manifests"}
    errors = [
        diag.error("KC410", obj.pos, f"{obj.kind} '{obj.name}' would be refused by Kubernetes: {problem}")
        for obj in program.objects
        for problem in _problems(obj.manifest, obj.kind in _FREE_FORM_KINDS or obj.stage in passed_through)
    ]
    diag.raise_if_errors(errors)
    return program
