"""kc/teardown.sh with the real kubectl against the fake API server (tests/kubeapi): after
``kubectl apply`` of the shop example, the script removes every object kc created, keeps the
claims unless told otherwise, never touches an object kc did not create even when it has the
same name, keeps a namespace that holds such objects, and can simply be run again."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from kc.compiler import cli
from kc.compiler.teardown import model
from kubeapi import FakeCluster
from kubeapi.resources import ResourceType

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="needs kubectl")
SHOP = str(ROOT / "examples" / "shop" / "pipeline.spec")
OWNED = "app.kubernetes.io/managed-by"


def start(tmp_path: Path) -> tuple[FakeCluster, dict[str, str]]:
    cluster = FakeCluster().start()
    # kubectl sends no bearer token over plain HTTP, so hand the fake server the one it expects.
    handle = cluster.api.handle
    cluster.api.handle = lambda m, p, q, h, r: handle(m, p, q, {**h, "authorization": f"Bearer {cluster.token}"}, r)  # type: ignore[method-assign]
    # The fake serves no DaemonSets; the namespace guard lists them, as on a real cluster.
    if cluster.store.resolve("apps", "v1", "daemonsets") is None:
        cluster.store.register(ResourceType("apps", "v1", "DaemonSet", "daemonsets", True, ("ds",), True))
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig(tmp_path / "kubeconfig"))}
    return cluster, env


def kubectl(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    assert KUBECTL is not None
    result = subprocess.run([KUBECTL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def teardown(out: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        ["bash", str(out / "kc" / "teardown.sh"), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def left(cluster: FakeCluster, namespace: str) -> set[tuple[str, str, bool]]:
    """(kind, name, made by kc) of what is in the namespace; the controllers' objects count as kc's
    when they carry its labels."""
    found: list[dict[str, Any]] = cluster.objects(namespace=namespace)
    return {(o["kind"], o["metadata"]["name"], OWNED in (o["metadata"].get("labels") or {})) for o in found}


def test_teardown_against_a_cluster(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert cli.main(["compile", SHOP, "-o", str(out)]) == 0
    cluster, env = start(tmp_path)
    try:
        kubectl(env, "apply", "--server-side", "--validate=false", "-f", str(out))
        assert ("Pod", "shop-db-0", True) in left(cluster, "shop")
        # Someone else's objects: the Secret the spec refers to, and a NetworkPolicy with the very
        # name of one of kc's, which kc's teardown must leave alone.
        kubectl(env, "delete", "networkpolicy", "shop-isolate", "-n", "shop")
        foreign = """
apiVersion: v1
kind: Secret
metadata: {name: shop-db-creds, namespace: shop}
stringData: {password: hunter2}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: shop-isolate, namespace: shop, labels: {app.kubernetes.io/instance: shop}}
spec: {podSelector: {}}
"""
        kubectl(env, "create", "--validate=false", "-f", "-", stdin=foreign)

        log = teardown(out, env)
        assert left(cluster, "shop") == {
            ("PersistentVolumeClaim", "data-shop-db-0", True),  # data is kept
            ("Secret", "shop-db-creds", False),
            ("NetworkPolicy", "shop-isolate", False),
        }
        assert "kept Namespace shop (data" in log

        log = teardown(out, env, "--delete-data")
        assert left(cluster, "shop") == {("Secret", "shop-db-creds", False), ("NetworkPolicy", "shop-isolate", False)}
        assert "kept Namespace shop: it holds objects kc did not create" in log and "secret/shop-db-creds" in log

        kubectl(env, "delete", "secret/shop-db-creds", "networkpolicy/shop-isolate", "-n", "shop")
        teardown(out, env, "--delete-data")
        assert cluster.get("Namespace", None, "shop") is None
        teardown(out, env, "--delete-data")  # again: nothing left to do, and no error
        assert cluster.errors == []
    finally:
        cluster.stop()


def test_guard_lists_the_kinds_the_namespace_step_names() -> None:
    # The guard's kinds are kubectl resource names this test's cluster and real ones serve.
    assert "daemonsets.apps" in model.NAMESPACE_CONTENTS.split(",")
