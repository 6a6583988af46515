"""kc's NetworkPolicies, enforced: on the local cluster's real node kube-network-policies drops
what they do not allow (tests/cluster/netpol.py), so a pipeline must still work with nothing
but what kc compiled, and what it did not allow must fail.

Each connection is tried from inside a pod (``kubectl exec``), with a short timeout: a dropped
packet is a timeout, a closed port would be "refused". The places outside the cluster are a
network namespace of the test's own on the node's bridge, with spare addresses of the pods'
subnet that no pod gets (tests/cluster/node.py): never an address outside this machine.

Without enforcement on a Ready real node, or without root to make the namespace, the tests are
skipped, except in CI with the local cluster, where they fail.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from kubernetes.stream import stream
from test_real_node import (
    ANNOTATIONS,
    NODE,
    Real,
    check_running,
    compiled,
    example,
    instance,
    namespace_of,
    no_pods_left,
    on_the_real_node,
    provide_secrets,
    real,  # noqa: F401  (the fixture; the tests' parameters then redefine it)
    remove_secrets,
    run_cron_jobs,
)

pytestmark = pytest.mark.cluster

PYTHON = "docker.io/library/python:3.12-slim"
TIMEOUT = 3  # seconds a connection may take before it counts as dropped
SPARE_FROM = 240  # the first spare address of the node's /24 (tests/cluster/node.py)

# What a pod runs to try one connection: open, refused (reached, nothing listens) or timeout
# (dropped on the way), or what resolving the name said.
PROBE = """\
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    address = socket.gethostbyname(host)
except OSError as error:
    sys.exit(print("no-name", error))
s = socket.socket()
s.settimeout(float(sys.argv[3]))
try:
    s.connect((address, port))
    print("open", address)
except ConnectionRefusedError:
    print("refused", address)
except OSError:
    print("timeout", address)
"""
# The same in bash, for images without Python (postgres's).
BASH_PROBE = 'timeout {t} bash -c "exec 3<>/dev/tcp/$0/$1" && echo open || echo timeout'


def skip_or_fail(message: str) -> None:
    if os.environ.get("CI") and not os.environ.get("KC_TEST_KUBECONFIG"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def enforced(real: Real) -> Real:  # noqa: F811
    node = real.core.read_node(NODE)
    annotations = node.metadata.annotations or {}
    engine = annotations.get("kc.dev/network-policy", "none: not started")
    if engine != "kube-network-policies":
        skip_or_fail(f"NetworkPolicy is not enforced on the real node ({engine}); tests/cluster/up says why")
    return real


# --- a place outside the cluster -------------------------------------------------------------------


def bridge_of(subnet: str) -> str | None:
    """The host's interface that holds the subnet's first address: the node's bridge, when the
    cluster runs on this machine."""
    gateway = str(next(ipaddress.ip_network(subnet).hosts()))
    shown = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    for line in shown.splitlines():
        fields = line.split()
        if len(fields) > 3 and fields[3].split("/")[0] == gateway:
            return fields[1]
    return None


@contextlib.contextmanager
def outside(kube: Real, count: int, ports: list[int]) -> Iterator[list[str]]:
    """A network namespace on the node's bridge with ``count`` spare addresses of the pods' subnet,
    each serving ``ports`` (a small HTTP server per port); its addresses."""
    subnet = (kube.core.read_node(NODE).metadata.annotations or {}).get("kc.dev/pod-subnet", "")
    bridge = bridge_of(subnet) if subnet and os.geteuid() == 0 else None
    if bridge is None:
        skip_or_fail("the places outside the cluster need root on the real node's machine")
    tag = secrets.token_hex(3)
    netns, host_end = f"kct-out-{tag}", f"kco{tag}"
    prefix = subnet.rsplit(".", 1)[0]
    addresses = [f"{prefix}.{SPARE_FROM + i}" for i in range(count)]
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for command in (
            ["ip", "netns", "add", netns],
            ["ip", "link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", netns],
            ["ip", "link", "set", host_end, "master", str(bridge), "up"],
            ["ip", "-n", netns, "link", "set", "lo", "up"],
            *(["ip", "-n", netns, "addr", "add", f"{a}/24", "dev", "eth0"] for a in addresses),
            ["ip", "-n", netns, "link", "set", "eth0", "up"],
        ):
            subprocess.run(command, check=True, capture_output=True)
        for port in ports:
            server = ["ip", "netns", "exec", netns, sys.executable, "-m", "http.server", str(port), "-d", "/tmp"]
            servers.append(subprocess.Popen(server, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)
        yield addresses
    finally:
        for server in servers:
            server.terminate()
            server.wait(10)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        subprocess.run(["ip", "link", "del", host_end], capture_output=True)


# --- trying connections ------------------------------------------------------------------------------


def pod_of(kube: Real, ns: str, stage: str) -> str:
    (pod, *_) = kube.core.list_namespaced_pod(ns, label_selector=f"kc.dev/stage={stage}").items
    return str(pod.metadata.name)


def run_in(kube: Real, ns: str, pod: str, command: list[str]) -> str:
    return str(
        stream(
            kube.core.connect_get_namespaced_pod_exec,
            pod,
            ns,
            command=command,
            stderr=True,
            stdin=False,
            stdout=True,
            tty=False,
        )
    )


def attempt(kube: Real, ns: str, pod: str, host: str, port: int, bash: bool = False) -> str:
    if bash:
        said = run_in(kube, ns, pod, ["bash", "-c", BASH_PROBE.format(t=TIMEOUT), host, str(port)])
    else:
        said = run_in(kube, ns, pod, ["python3", "-c", PROBE, host, str(port), str(TIMEOUT)])
    return said.split()[0] if said.split() else said


class Table:
    """Each connection tried: from, to, expected, observed; printed at the end (``pytest -s``)."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def check(self, source: str, target: str, expected: str, observed: str) -> None:
        self.rows.append((source, target, expected, observed))

    def report(self) -> str:
        lines = [f"{s:<28} {t:<44} {e:<8} {o}" for s, t, e, o in self.rows]
        return "\n".join([f"{'from':<28} {'to':<44} {'expected':<8} observed", *lines])

    def assert_all(self) -> None:
        print("\n" + self.report())
        wrong = [row for row in self.rows if row[2] != row[3]]
        assert not wrong, "connections not as expected:\n" + self.report()


# --- a pipeline's pods reach what they refer to and declare, and nothing else --------------------------

CALLERS = """\
kc: 1
pipeline: np
stages:
  web:
    pattern: service
    image: {python}
    command: [python3, -m, http.server, "8080", --directory, /tmp]
    port: 8080
  other:
    pattern: service
    image: {python}
    command: [python3, -m, http.server, "8080", --directory, /tmp]
    port: 8080
  caller:
    pattern: worker
    image: {python}
    command: [python3, -c, "import time; time.sleep(86400)"]
    env: {{WEB: "${{web.url}}"}}
    egress: ["{declared}:8080"]
"""

STRANGER = {
    "metadata": {"name": "stranger", "labels": {"app": "stranger"}},
    "spec": {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "stranger",
                "image": PYTHON,
                "command": ["python3", "-m", "http.server", "8080", "--directory", "/tmp"],
                "ports": [{"containerPort": 8080}],
                "readinessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1},
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
    },
}


def stranger(kube: Real) -> tuple[str, str]:
    """A pod in a namespace of its own, no policies there, serving 8080: its namespace and address."""
    ns = f"kct-stranger-{secrets.token_hex(2)}"
    kube.namespaces.add(ns)
    kube.core.create_namespace({"metadata": {"name": ns, "annotations": ANNOTATIONS}})
    kube.core.create_namespaced_pod(ns, STRANGER)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        pod = kube.core.read_namespaced_pod("stranger", ns)
        if any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or []):
            return ns, str(pod.status.pod_ip)
        time.sleep(1)
    pytest.fail(f"the stranger pod in {ns} did not become ready")
    raise AssertionError


def test_a_stage_reaches_what_it_refers_to_and_declares_and_nothing_else(enforced: Real) -> None:
    real = enforced  # noqa: F811
    table = Table()
    with outside(real, 2, [8080, 8081]) as (declared, undeclared):
        spec = real.tmp / "np.spec"
        spec.write_text(on_the_real_node(CALLERS.format(python=PYTHON, declared=declared)))
        flags = instance("np")
        ns = namespace_of(flags)
        real.apply(spec, flags)
        check_running(real, ns)  # the kubelet's probes reach the pods: a node may reach its pods
        other_ns, stranger_ip = stranger(real)
        caller, web = pod_of(real, ns, "caller"), pod_of(real, ns, "web")
        web_host, other_host = f"{ns}-web.{ns}.svc", f"{ns}-other.{ns}.svc"

        said = run_in(real, ns, caller, ["python3", "-c", f"import socket; print(socket.gethostbyname('{web_host}'))"])
        table.check("caller", f"DNS: {web_host}", "answer", "answer" if said.strip().count(".") == 3 else said)
        for target, host, port, expected in [
            ("web (referred to)", web_host, 8080, "open"),
            ("other (not referred to)", other_host, 8080, "timeout"),
            ("stranger (another namespace)", stranger_ip, 8080, "timeout"),
            ("outside, declared address and port", declared, 8080, "open"),
            ("outside, undeclared port", declared, 8081, "timeout"),
            ("outside, undeclared address", undeclared, 8080, "timeout"),
        ]:
            table.check("caller", target, expected, attempt(real, ns, caller, host, port))
        table.check("web", "other (not referred to)", "timeout", attempt(real, ns, web, other_host, 8080))
        table.check("web", "outside, undeclared address", "timeout", attempt(real, ns, web, declared, 8080))
        # Nothing outside the pipeline gets in: web has no Ingress, so no other namespace.
        table.check(
            "stranger (another namespace)", "web", "timeout", attempt(real, other_ns, "stranger", web_host, 8080)
        )
        table.check(
            "stranger (another namespace)",
            "outside, undeclared address",
            "open",
            attempt(real, other_ns, "stranger", undeclared, 8080),
        )  # no policy of its own: open
        real.teardown(spec, flags)
        no_pods_left(real, ns)
    table.assert_all()


# --- the shop, enforced: each stage reaches what it refers to ------------------------------------------


def test_the_shop_reaches_what_it_refers_to_and_nothing_else(enforced: Real) -> None:
    real = enforced  # noqa: F811
    table = Table()
    spec = example(real, "shop")
    flags = instance("shop")
    ns = namespace_of(flags)
    made = provide_secrets(real, compiled(real, spec, flags))
    real.apply(spec, flags)  # migrate ran psql against db: its Job completed
    check_running(real, ns)
    table.check("migrate", "db:5432 (psql)", "open", "open")
    api, db = pod_of(real, ns, "api"), pod_of(real, ns, "db")
    db_host, api_host = f"{ns}-db.{ns}.svc", f"{ns}-api.{ns}.svc"
    table.check("api", "db:5432", "open", attempt(real, ns, api, db_host, 5432))
    logs = run_cron_jobs(real, ns)  # report fetches the API's page
    table.check("report", "api:8080 (urllib)", "open", "open" if "<html" in logs[f"{ns}-report"].lower() else logs)
    table.check("db", "api:8080 (not referred to)", "timeout", attempt(real, ns, db, api_host, 8080, bash=True))
    table.check("api", "db:8080 (not a port of db)", "timeout", attempt(real, ns, api, db_host, 8080))
    remove_secrets(real, ns, made)
    real.teardown(spec, flags)
    no_pods_left(real, ns)
    table.assert_all()
