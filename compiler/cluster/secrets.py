"""Generated Secrets and the keys pods read (docs/cluster.md).

A Secret that carries ``kc.dev/generate`` is applied without data; ``fill`` then adds a random
value for each of its keys that is missing, as its own field manager with a merge patch, so kc's
later applies (which send no data) never remove them and existing values never change. Values
go to the API server and nowhere else: not to the progress display, not into an error.

``needs`` and ``check`` find, before anything is applied, the Secret and ConfigMap keys that the
plan's pods read (env ``secretKeyRef``/``configMapKeyRef``, volume ``items``) and that neither
the plan nor the cluster holds.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from kc.cluster import client as cluster_client
from kc.cluster.errors import ClusterError, Refused
from kc.compiler import contract, kinds, results

FIELD_MANAGER = "kc-generate"
ALPHABETS = {"alnum": string.ascii_letters + string.digits, "hex": string.digits + "abcdef"}
_DATA = ("data", "binaryData", "stringData")


@dataclass(frozen=True, slots=True)
class Generate:
    """What ``kc.dev/generate`` asks for."""

    keys: tuple[str, ...]
    length: int
    alphabet: str


def generates(manifest: dict[str, Any]) -> Generate | None:
    """The Secret's ``kc.dev/generate`` request; None for any other object (or a malformed one)."""
    if manifest.get("kind") != "Secret":
        return None
    raw = ((manifest.get("metadata") or {}).get("annotations") or {}).get(contract.GENERATE)
    if not isinstance(raw, str):
        return None
    try:
        found = json.loads(raw)
        keys = tuple(str(k) for k in found["keys"])
        length, alphabet = int(found.get("length", 32)), str(found.get("alphabet", "alnum"))
    except (ValueError, TypeError, KeyError):
        return None
    return Generate(keys, length, alphabet) if alphabet in ALPHABETS and length > 0 else None


def value(length: int, alphabet: str) -> str:
    """``length`` characters drawn from the alphabet by the operating system's random source."""
    chars = ALPHABETS[alphabet]
    return "".join(secrets.choice(chars) for _ in range(length))


def fill(client: cluster_client.Client, kind: cluster_client.Kind, manifest: dict[str, Any]) -> list[str]:
    """Add a value for each generated key the live Secret lacks; the keys added (never their
    values). The patch carries the resource version read, so a value someone set in between is
    not overwritten (the server refuses, and the next ``kc apply`` looks again)."""
    wanted = generates(manifest)
    meta = manifest["metadata"]
    namespace, name = meta.get("namespace"), str(meta["name"])
    live = client.get(kind, namespace, name) if wanted else None
    if wanted is None or live is None:
        return []
    held = set(live.get("data") or {}) | set(live.get("binaryData") or {})
    missing = [k for k in wanted.keys if k not in held]
    if not missing:
        return []
    data = {k: base64.b64encode(value(wanted.length, wanted.alphabet).encode()).decode() for k in missing}
    version = (live.get("metadata") or {}).get("resourceVersion")
    body = {"metadata": {"resourceVersion": version} if version else {}, "data": data}
    client.merge(kind, namespace, name, body, FIELD_MANAGER)
    return missing


# --- the keys pods read ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Need:
    """A key of a Secret or ConfigMap that an object's pods read, and where."""

    kind: str  # Secret or ConfigMap
    namespace: str
    name: str
    key: str
    reader: str  # "stage 'app' (Job sec/sec-app-1a2b)"
    where: str  # "env PASSWORD of container app", "volume creds"

    @property
    def hint(self) -> str:
        command = "secret generic" if self.kind == "Secret" else "configmap"
        create = f"kubectl create {command} {self.name} --from-literal={self.key}=… -n {self.namespace}"
        return f"create it: {create}" + (", or declare a secret stage" if self.kind == "Secret" else "")

    @property
    def text(self) -> str:
        return (
            f'{self.kind} {self.namespace}/{self.name} has no key "{self.key}", '
            f"which {self.reader} reads ({self.where})"
        )


def _pod_spec(manifest: dict[str, Any]) -> dict[str, Any] | None:
    where = kinds.pod_template(str(manifest.get("kind")))
    if where is None:
        return None
    node: Any = manifest
    if where != "object":
        for part in where.split("."):
            node = node.get(part) if isinstance(node, dict) else None
    spec = node.get("spec") if isinstance(node, dict) else None
    return spec if isinstance(spec, dict) else None


def _volume_sources(volume: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(volume.get("secret"), dict):
        yield "Secret", volume["secret"]
    if isinstance(volume.get("configMap"), dict):
        yield "ConfigMap", volume["configMap"]
    for source in (volume.get("projected") or {}).get("sources") or []:
        if isinstance(source, dict) and isinstance(source.get("secret"), dict):
            yield "Secret", source["secret"]
        if isinstance(source, dict) and isinstance(source.get("configMap"), dict):
            yield "ConfigMap", source["configMap"]


def needs(manifests: Iterable[dict[str, Any]], namespace: str) -> list[Need]:
    """Every key the objects' pods read by name and do not mark ``optional``."""
    out: list[Need] = []
    for manifest in manifests:
        spec = _pod_spec(manifest)
        if spec is None:
            continue
        meta = manifest.get("metadata") or {}
        ns = str(meta.get("namespace") or namespace)
        stage = (meta.get("labels") or {}).get(contract.STAGE)
        ref = contract.Ref.of(manifest).text
        reader = f"stage '{stage}' ({ref})" if stage else ref
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for container in spec.get(field) or []:
                for env in container.get("env") or []:
                    source = env.get("valueFrom") or {}
                    for kind, key_ref in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                        sel = source.get(key_ref)
                        if isinstance(sel, dict) and not sel.get("optional") and sel.get("name") and sel.get("key"):
                            where = f"env {env.get('name')} of container {container.get('name')}"
                            out.append(Need(kind, ns, str(sel["name"]), str(sel["key"]), reader, where))
        for volume in spec.get("volumes") or []:
            for kind, source in _volume_sources(volume):
                name = source.get("secretName") if kind == "Secret" and "secretName" in source else source.get("name")
                if source.get("optional") or not name:
                    continue
                for item in source.get("items") or []:
                    if isinstance(item, dict) and item.get("key"):
                        where = f"volume {volume.get('name')}"
                        out.append(Need(kind, ns, str(name), str(item["key"]), reader, where))
    return out


def planned_keys(manifests: Iterable[dict[str, Any]], namespace: str) -> dict[tuple[str, str, str], set[str]]:
    """(kind, namespace, name) -> the keys the plan gives each Secret and ConfigMap, generated
    keys and the results its Jobs declare included."""
    out: dict[tuple[str, str, str], set[str]] = {}
    for manifest in manifests:
        meta = manifest.get("metadata") or {}
        declared = (meta.get("annotations") or {}).get(contract.RESULTS)
        if manifest.get("kind") == "Job" and declared:  # kc apply stores them once the Job completes
            labels = meta.get("labels") or {}
            at = ("ConfigMap", str(meta.get("namespace") or namespace), results.configmap(labels[contract.OWNER]))
            out.setdefault(at, set()).update(results.key(labels[contract.STAGE], n) for n in declared.split(","))
        if manifest.get("kind") not in ("Secret", "ConfigMap") or manifest.get("apiVersion") != "v1":
            continue
        meta = manifest.get("metadata") or {}
        keys = out.setdefault(
            (str(manifest["kind"]), str(meta.get("namespace") or namespace), str(meta["name"])), set()
        )
        for field in _DATA:
            keys |= set(manifest.get(field) or {})
        wanted = generates(manifest)
        keys |= set(wanted.keys if wanted else ())
    return out


def missing(
    client: cluster_client.Client, manifests: list[dict[str, Any]], namespace: str
) -> tuple[list[Need], list[str]]:
    """The needs that neither the plan nor the cluster meets, and notes (keys not checked)."""
    planned = planned_keys(manifests, namespace)
    live: dict[tuple[str, str, str], set[str] | None] = {}
    problems: list[Need] = []
    notes: list[str] = []
    for need in needs(manifests, namespace):
        at = (need.kind, need.namespace, need.name)
        if need.key in planned.get(at, ()):
            continue
        if at not in live:
            kind = client.kind("v1", need.kind)
            try:
                found = client.get(kind, need.namespace, need.name) if kind else None
            except ClusterError as exc:
                if exc.status != 403:
                    raise
                notes.append(f"{need.kind} {need.namespace}/{need.name} not checked: the cluster forbids reading it")
                live[at] = None
                continue
            live[at] = set() if found is None else {k for f in _DATA for k in (found.get(f) or {})}
        held = live[at]
        if held is not None and need.key not in held:
            problems.append(need)
    return problems, notes


def check(client: cluster_client.Client, manifests: list[dict[str, Any]], namespace: str, line: Any) -> None:
    """Refuse (nothing applied yet) when a key that pods read will not exist; ``line`` shows
    each problem and note."""
    problems, notes = missing(client, manifests, namespace)
    for note in notes:
        line(f"note: {note}", "2")
    for need in problems:
        line(f"missing: {need.text}; {need.hint}", "1;35")
    if problems:
        first = problems[0]
        raise Refused(
            f"refusing to apply: {len(problems)} Secret or ConfigMap key(s) that pods read exist neither in the plan "
            f"nor in the cluster; nothing was applied (first: {first.text}; {first.hint})"
        )
