"""kc/teardown.sh with kubectl against a real cluster: after ``kubectl apply`` of the shop
example, the script removes every object kc created, keeps the claims unless told otherwise, never
touches an object kc did not create even when it has the same name, keeps a namespace that holds
such objects, and can simply be run again."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, Cluster
from kc.compiler import cli
from kc.compiler.teardown import model

pytestmark = pytest.mark.cluster
SHOP = str(ROOT / "examples" / "shop" / "pipeline.spec")
OWNED = "app.kubernetes.io/managed-by"
# What the namespace can hold: the guard's kinds (so a kind the cluster does not serve fails here),
# and what the controllers make.
KINDS = model.NAMESPACE_CONTENTS + ",pods,replicasets.apps"


def kubectl(cluster: Cluster, *args: str, stdin: str | None = None) -> str:
    if cluster.kubectl is None:
        pytest.skip("needs kubectl")
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    result = subprocess.run([cluster.kubectl, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def teardown(cluster: Cluster, out: Path, *args: str) -> str:
    env = {
        **os.environ,
        "KUBECONFIG": str(cluster.kubeconfig),
        "PATH": f"{Path(cluster.kubectl or '').parent}:{os.environ['PATH']}",
    }
    result = subprocess.run(
        ["bash", str(out / "kc" / "teardown.sh"), *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def left(cluster: Cluster, namespace: str) -> set[tuple[str, str, bool]]:
    """(kind, name, made by kc) of what is in the namespace, bar what Kubernetes puts in every
    namespace; the controllers' objects count as kc's when they carry its labels."""
    found = json.loads(kubectl(cluster, "get", KINDS, "-n", namespace, "-o", "json", "--ignore-not-found"))
    own = {("ServiceAccount", "default"), ("ConfigMap", "kube-root-ca.crt")}
    return {
        (o["kind"], o["metadata"]["name"], OWNED in (o["metadata"].get("labels") or {}))
        for o in found.get("items", [])
        if (o["kind"], o["metadata"]["name"]) not in own
    }


def test_teardown_against_a_cluster(cluster: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "out"
    ns = f"kct-{secrets.token_hex(3)}"
    assert cli.main(["compile", SHOP, "--instance", ns, "-o", str(out)]) == 0
    try:
        kubectl(cluster, "apply", "--server-side", "-f", str(out))
        kubectl(
            cluster, "wait", "--for=jsonpath={.status.phase}=Running", "pod", f"{ns}-db-0", "-n", ns, "--timeout=60s"
        )
        assert ("Pod", f"{ns}-db-0", True) in left(cluster, ns)
        # Someone else's objects: the Secret the spec refers to, and a NetworkPolicy with the very
        # name of one of kc's, which kc's teardown must leave alone.
        kubectl(cluster, "delete", "networkpolicy", f"{ns}-isolate", "-n", ns)
        foreign = f"""
apiVersion: v1
kind: Secret
metadata: {{name: shop-db-creds, namespace: {ns}}}
stringData: {{password: hunter2}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: {ns}-isolate, namespace: {ns}, labels: {{app.kubernetes.io/instance: {ns}}}}}
spec: {{podSelector: {{}}}}
"""
        kubectl(cluster, "create", "-f", "-", stdin=foreign)

        log = teardown(cluster, out)
        assert left(cluster, ns) == {
            ("PersistentVolumeClaim", f"data-{ns}-db-0", True),  # data is kept
            ("Secret", f"{ns}-db-creds", True),  # generated: data too
            ("Secret", "shop-db-creds", False),
            ("NetworkPolicy", f"{ns}-isolate", False),
        }
        assert f"kept Namespace {ns} (data" in log

        log = teardown(cluster, out, "--delete-data")
        assert left(cluster, ns) == {("Secret", "shop-db-creds", False), ("NetworkPolicy", f"{ns}-isolate", False)}
        assert f"kept Namespace {ns}: it holds objects kc did not create" in log and "secret/shop-db-creds" in log

        kubectl(cluster, "delete", "secret/shop-db-creds", f"networkpolicy/{ns}-isolate", "-n", ns)
        teardown(cluster, out, "--delete-data")
        assert kubectl(cluster, "get", "namespace", ns, "--ignore-not-found") == ""
        teardown(cluster, out, "--delete-data")  # again: nothing left to do, and no error
    finally:
        kubectl(cluster, "delete", "namespace", ns, "--ignore-not-found", "--wait=false")
