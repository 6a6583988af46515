"""The local cluster's real node (tests/cluster/node.py): a pod under kc's restricted security
defaults really starts there, mounts a claim of the host-path provisioner, and its log comes back
through the API server from the kubelet.

Pods reach the real node only from a namespace annotated to send them there (the fake nodes stay
the default; docs/cluster.md, "The real node"). Without a real node (``up --fake-nodes-only``, a
machine that cannot run one, or a KC_TEST_KUBECONFIG cluster without one) the test is skipped,
except in CI, where the local cluster must have it.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import Cluster
from kubernetes import client, config

pytestmark = pytest.mark.cluster

# As in tests/cluster/node.py: the real node's label and taint, and the annotations that send a
# namespace's pods there (the PodNodeSelector and PodTolerationRestriction admission plugins).
REAL = "kc.dev/node=real"
TOLERATION = {"key": "kc.dev/node", "operator": "Equal", "value": "real", "effect": "NoSchedule"}
ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": REAL,
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps([TOLERATION]),
}
IMAGE = "kc.dev/busybox:local"  # imported into the node's containerd by tests/cluster/up
PYTHON = "docker.io/library/python:3.12-slim"  # a stand-in image (tests/cluster/images.py)


@pytest.fixture
def core(cluster: Cluster) -> client.CoreV1Api:
    api = client.CoreV1Api(config.new_client_from_config(config_file=str(cluster.kubeconfig)))
    nodes = api.list_node(label_selector=REAL).items
    ready = [n for n in nodes if any(c.type == "Ready" and c.status == "True" for c in n.status.conditions or [])]
    if not ready:
        message = "the cluster has no Ready real node (tests/cluster/up says why when it starts without one)"
        if os.environ.get("CI") and not os.environ.get("KC_TEST_KUBECONFIG"):
            pytest.fail(message)
        pytest.skip(message)
    return api


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"kct-node-{secrets.token_hex(3)}"
    labels = {"pod-security.kubernetes.io/enforce": "restricted"}
    core.create_namespace({"metadata": {"name": name, "labels": labels, "annotations": ANNOTATIONS}})
    yield name
    core.delete_namespace(name)


def restricted_pod(command: str) -> dict[str, Any]:
    """A pod with the security settings kc writes (Pod Security 'restricted'), running busybox."""
    return {
        "metadata": {"name": "hello"},
        "spec": {
            "restartPolicy": "Never",
            "terminationGracePeriodSeconds": 1,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 10001,
                "runAsGroup": 10001,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "hello",
                    "image": IMAGE,
                    "command": ["sh", "-c", command],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}, {"name": "tmp", "mountPath": "/tmp"}],
                }
            ],
            "volumes": [
                {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }


def wait_for_phase(core: client.CoreV1Api, namespace: str, phases: set[str], timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod("hello", namespace)
        if pod.status.phase in phases or time.monotonic() > deadline:
            return pod
        time.sleep(0.5)


def test_a_restricted_pod_runs_on_the_real_node(core: client.CoreV1Api, namespace: str) -> None:
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}},
    }
    core.create_namespaced_persistent_volume_claim(namespace, claim)
    script = (
        "echo hello from $(id -u):$(id -g);"
        " grep -q ' /data ' /proc/mounts && echo claim mounted;"
        " touch /oops 2>/dev/null || echo root read-only;"
        " echo scratch > /tmp/f && cat /tmp/f"
    )
    core.create_namespaced_pod(namespace, restricted_pod(script))
    pod = wait_for_phase(core, namespace, {"Succeeded", "Failed"})
    events = core.list_namespaced_event(namespace).items
    assert pod.status.phase == "Succeeded", [e.message for e in events]
    assert pod.spec.node_name == "kc-node"
    assert pod.status.pod_ip and not pod.status.pod_ip.startswith("10.244.")  # a real address, not kwok's
    (status,) = pod.status.container_statuses
    assert status.state.terminated.exit_code == 0
    assert status.container_id.startswith("containerd://")
    log = core.read_namespaced_pod_log("hello", namespace)  # the API server asks the kubelet
    assert log.split("\n") == ["hello from 10001:10001", "claim mounted", "root read-only", "scratch", ""]


def test_a_failing_command_fails_for_real(core: client.CoreV1Api, namespace: str) -> None:
    pod = restricted_pod("echo about to fail; exit 3")
    pod["spec"]["volumes"][0] = {"name": "data", "emptyDir": {}}
    core.create_namespaced_pod(namespace, pod)
    done = wait_for_phase(core, namespace, {"Succeeded", "Failed"})
    assert done.status.phase == "Failed"
    (status,) = done.status.container_statuses
    assert status.state.terminated.exit_code == 3
    assert core.read_namespaced_pod_log("hello", namespace) == "about to fail\n"


def test_a_pod_of_uid_10001_writes_its_claim(core: client.CoreV1Api, namespace: str) -> None:
    """The host-path provisioner makes claim directories root's, mode 0750, and the kubelet applies
    no fsGroup to host paths; tests/cluster/claims.py opens them up, as a storage driver that
    applies fsGroup would (docs/cluster.md, "Claims on the real node")."""
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}},
    }
    core.create_namespaced_persistent_volume_claim(namespace, claim)
    pod = restricted_pod("mkdir /data/sub && echo kept > /data/sub/f && cat /data/sub/f && id -u")
    pod["spec"]["securityContext"]["fsGroup"] = 10001  # as kc's pods have it
    core.create_namespaced_pod(namespace, pod)
    done = wait_for_phase(core, namespace, {"Succeeded", "Failed"})
    log = core.read_namespaced_pod_log("hello", namespace)
    assert done.status.phase == "Succeeded", log
    assert done.spec.node_name == "kc-node"
    assert log == "kept\n10001\n"


def ready(core: client.CoreV1Api, namespace: str, name: str, timeout: float = 90) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod(name, namespace)
        conditions = pod.status.conditions or []
        if any(c.type == "Ready" and c.status == "True" for c in conditions) or time.monotonic() > deadline:
            return pod
        time.sleep(0.5)


def test_a_pod_reaches_another_through_a_service_by_its_name(core: client.CoreV1Api, namespace: str) -> None:
    """``<service>.<namespace>.svc``, as kc's references compile, resolves through the cluster DNS
    (CoreDNS) to the Service's cluster IP, and kube-proxy takes port 80 of that address to the
    server pod's port 8080: both run on the real node's host (tests/cluster/services.py)."""
    (real,) = core.list_node(label_selector=REAL).items
    annotations = real.metadata.annotations or {}
    have = (annotations.get("kc.dev/service-proxy"), annotations.get("kc.dev/cluster-dns"))
    if have != ("kube-proxy", "coredns"):
        message = f"the real node has no Services (service proxy, DNS: {have}); tests/cluster/up says why"
        if os.environ.get("CI") and not os.environ.get("KC_TEST_KUBECONFIG"):
            pytest.fail(message)
        pytest.skip(message)
    server = restricted_pod(
        "mkdir /tmp/www && echo hello from $(hostname) > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www"
    )
    server["metadata"] = {"name": "web", "labels": {"app": "web"}}
    server["spec"]["restartPolicy"] = "Always"
    server["spec"]["volumes"][0] = {"name": "data", "emptyDir": {}}
    (container,) = server["spec"]["containers"]
    container["ports"] = [{"containerPort": 8080}]
    container["readinessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": 1}
    core.create_namespaced_pod(namespace, server)
    service = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
    }
    cluster_ip = core.create_namespaced_service(namespace, service).spec.cluster_ip
    assert ready(core, namespace, "web").spec.node_name == "kc-node"
    name = f"web.{namespace}.svc"  # what kc writes for ${web.host}
    # Python's stand-in image: busybox-static's wget crashes in a pod here (even for an IP address).
    script = (
        "import socket, time, urllib.request\n"
        "print(next(l for l in open('/etc/resolv.conf').read().splitlines() if l.startswith('search')))\n"
        f"print('Address:', socket.gethostbyname({name!r}))\n"
        "for _ in range(20):\n"
        "    try:\n"
        f"        print(urllib.request.urlopen('http://{name}/', timeout=2).read().decode(), end='')\n"
        "        break\n"
        "    except OSError:\n"
        "        time.sleep(1)\n"
        "else:\n"
        "    raise SystemExit(1)\n"
    )
    client_pod = restricted_pod("")
    client_pod["spec"]["containers"][0].update(image=PYTHON, command=["python3", "-c", script])
    client_pod["spec"]["volumes"][0] = {"name": "data", "emptyDir": {}}
    core.create_namespaced_pod(namespace, client_pod)
    done = wait_for_phase(core, namespace, {"Succeeded", "Failed"})
    log = core.read_namespaced_pod_log("hello", namespace)
    assert done.status.phase == "Succeeded", log
    assert log.split("\n") == [
        f"search {namespace}.svc.cluster.local svc.cluster.local cluster.local",
        f"Address: {cluster_ip}",
        "hello from web",
        "",
    ]
