"""Generated Secrets without a cluster: the value generator, the keys pods read and the check
that refuses an apply when one will not exist (a fake client answers the GETs), the teardown
plan that keeps a generated Secret like a claim, and --prune's note for one."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from conftest import compile_text
from kc.cluster import client as cluster_client
from kc.cluster import diff, secrets
from kc.cluster.errors import ClusterError, Refused
from kc.compiler import contract
from kc.compiler.teardown import build

SECRET_KIND = cluster_client.Kind("v1", "Secret", "secrets", True)
CONFIGMAP_KIND = cluster_client.Kind("v1", "ConfigMap", "configmaps", True)


def test_values_have_the_length_and_alphabet() -> None:
    for alphabet, allowed in (("alnum", string.ascii_letters + string.digits), ("hex", "0123456789abcdef")):
        values = {secrets.value(40, alphabet) for _ in range(50)}
        assert len(values) == 50
        for v in values:
            assert len(v) == 40 and set(v) <= set(allowed)
    seen = set("".join(secrets.value(64, "alnum") for _ in range(40)))
    assert seen & set(string.ascii_lowercase) and seen & set(string.ascii_uppercase) and seen & set(string.digits)


def generated(name: str, keys: list[str], length: int = 32, alphabet: str = "alnum") -> dict[str, Any]:
    note = json.dumps({"keys": keys, "length": length, "alphabet": alphabet})
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "ns", "annotations": {contract.GENERATE: note}},
    }


def test_the_annotation_is_read() -> None:
    found = secrets.generates(generated("s", ["a", "b"], 20, "hex"))
    assert found == secrets.Generate(("a", "b"), 20, "hex")
    assert secrets.generates({"kind": "ConfigMap", "metadata": generated("s", ["a"])["metadata"]}) is None
    broken = generated("s", ["a"])
    broken["metadata"]["annotations"][contract.GENERATE] = "{not json"
    assert secrets.generates(broken) is None


def job(env: list[dict[str, Any]], volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "app", "namespace": "ns", "labels": {contract.STAGE: "app"}},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "env": env}], "volumes": volumes or []}}},
    }


def secret_env(name: str, secret: str, key: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, **extra}}}


class FakeClient:
    """GET answers from a dict; a name mapped to an int is that HTTP failure."""

    def __init__(self, objects: dict[tuple[str, str], Any]) -> None:
        self.objects = objects
        self.gets: list[tuple[str, str]] = []

    def kind(self, api_version: str, kind: str) -> cluster_client.Kind:
        return SECRET_KIND if kind == "Secret" else CONFIGMAP_KIND

    def get(self, kind: cluster_client.Kind, namespace: str, name: str) -> dict[str, Any] | None:
        self.gets.append((kind.kind, name))
        found = self.objects.get((kind.kind, name))
        if isinstance(found, int):
            raise ClusterError("refused", found)
        return found


def test_needs_cover_env_and_volumes() -> None:
    volumes = [
        {"name": "v1", "secret": {"secretName": "s1", "items": [{"key": "k1", "path": "p"}]}},
        {"name": "v2", "configMap": {"name": "c1", "items": [{"key": "k2", "path": "p"}]}},
        {"name": "v3", "secret": {"secretName": "s2", "optional": True, "items": [{"key": "x", "path": "p"}]}},
        {"name": "v4", "projected": {"sources": [{"secret": {"name": "s3", "items": [{"key": "k3", "path": "p"}]}}]}},
        {"name": "v5", "secret": {"secretName": "s4"}},  # no items: the whole Secret, no key named
    ]
    env = [
        secret_env("A", "s0", "k0"),
        {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "c0", "key": "kc"}}},
        secret_env("C", "s9", "k9", optional=True),
        {"name": "D", "value": "plain"},
    ]
    found = {(n.kind, n.name, n.key, n.where) for n in secrets.needs([job(env, volumes)], "ns")}
    assert found == {
        ("Secret", "s0", "k0", "env A of container c"),
        ("ConfigMap", "c0", "kc", "env B of container c"),
        ("Secret", "s1", "k1", "volume v1"),
        ("ConfigMap", "c1", "k2", "volume v2"),
        ("Secret", "s3", "k3", "volume v4"),
    }
    assert all(n.reader == "stage 'app' (Job ns/app)" for n in secrets.needs([job(env, volumes)], "ns"))


def test_keys_from_the_plan_the_generator_and_the_cluster_pass() -> None:
    plan = [
        generated("gen", ["password"]),
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "plain", "namespace": "ns"},
            "stringData": {"a": "x"},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}, "data": {"b": "y"}},
        job(
            [
                secret_env("P", "gen", "password"),
                secret_env("A", "plain", "a"),
                {"name": "B", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "b"}}},
                secret_env("L", "live", "k"),
            ]
        ),
    ]
    fake = FakeClient({("Secret", "live"): {"data": {"k": "dmFsdWU="}}})
    problems, notes = secrets.missing(fake, plan, "ns")  # type: ignore[arg-type]
    assert problems == [] and notes == []
    assert fake.gets == [("Secret", "live")]  # what the plan holds is not asked for


def test_missing_keys_refuse_with_each_one_named() -> None:
    plan = [
        generated("gen", ["password"]),
        job(
            [
                secret_env("P", "gen", "user"),  # the plan's Secret lacks the key
                secret_env("Q", "absent", "k"),  # 404
                secret_env("R", "live", "other"),  # the live Secret lacks the key
                {"name": "S", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "x"}}},
            ]
        ),
    ]
    fake = FakeClient({("Secret", "live"): {"data": {"k": "dmFsdWU="}}})
    shown: list[str] = []
    with pytest.raises(Refused) as raised:
        secrets.check(fake, plan, "ns", lambda text, code="": shown.append(text))  # type: ignore[arg-type]
    assert "4 Secret or ConfigMap key(s)" in str(raised.value) and "nothing was applied" in str(raised.value)
    assert len(shown) == 4
    assert "Secret ns/gen has no key \"user\", which stage 'app' (Job ns/app) reads (env P of container c)" in shown[0]
    assert "kubectl create secret generic absent --from-literal=k=… -n ns, or declare a secret stage" in shown[1]
    assert "kubectl create configmap cm --from-literal=x=… -n ns" in shown[3]
    assert "dmFsdWU=" not in "".join(shown) + str(raised.value)


def test_a_forbidden_secret_is_skipped_with_a_note() -> None:
    fake = FakeClient({("Secret", "hidden"): 403})
    shown: list[str] = []
    secrets.check(fake, [job([secret_env("A", "hidden", "k")])], "ns", lambda t, c="": shown.append(t))  # type: ignore[arg-type]
    assert shown == ["note: Secret ns/hidden not checked: the cluster forbids reading it"]
    with pytest.raises(ClusterError):
        secrets.missing(FakeClient({("Secret", "x"): 500}), [job([secret_env("A", "x", "k")])], "ns")  # type: ignore[arg-type]


SPEC = """\
kc: 1
pipeline: gs
stages:
  db: postgres
  k: {pattern: secret, keys: [token], length: 20, alphabet: hex}
  app:
    pattern: job
    image: busybox:1.36.1
    env: {PASSWORD: {secret: db/password}, TOKEN: {secret: k/token}}
"""


def test_teardown_keeps_generated_secrets_like_claims(tmp_path: Path) -> None:
    program = compile_text(SPEC, tmp_path)
    kept = build.plan(program)
    steps = {s.name: s for s in kept.steps if s.kind == "Secret"}
    assert set(steps) == {"gs-db-password", "gs-k"}
    for step in steps.values():
        assert step.data and not kept.runs(step)
        assert "kept unless data is deleted" in step.why
    deleting = build.plan(program, delete_data=True)
    assert all(deleting.runs(s) for s in deleting.steps if s.kind == "Secret")
    assert secrets.needs([o.manifest for o in program.objects], program.namespace)
    problems, _ = secrets.missing(FakeClient({}), [o.manifest for o in program.objects], program.namespace)  # type: ignore[arg-type]
    assert problems == []


def test_prune_note_for_a_generated_secret() -> None:
    assert "kept by --prune" in diff.orphan_note(generated("s", ["a"]), "retain")
    assert diff.orphan_note(generated("s", ["a"]), "delete") == "no longer in the plan: 'kc apply --prune' deletes it"
