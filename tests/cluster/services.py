"""Services and cluster DNS for the local cluster's real node: kube-proxy and CoreDNS, host processes.

kc wires stages together by Service names (``shop-db.shop.svc:5432``). For a pod on the real node
to reach one, the name must resolve to the Service's cluster IP, and the cluster IP must lead to a
pod. Here:

* **kube-proxy** (from the pinned ``k8s.io/kubernetes`` module) runs on the host in iptables mode
  as ``kc-node``; the pods get a route for the service range through the bridge, and kube-proxy's
  NAT rules send a cluster IP and port to a ready pod's. Its chains (``KUBE-SERVICES``,
  ``KUBE-SVC-…``) have fixed names in the host's one nat table, and each kube-proxy deletes those
  it did not write: two cannot share a machine. So the first real node to start claims the machine
  (``/run/kc-cluster/service-proxy.json``, under a lock); another cluster's node then runs without
  Services, and its pods get no route to the service range (a cluster IP fails at once instead of
  reaching the other cluster's pods). ``down`` stops kube-proxy and runs ``kube-proxy --cleanup``,
  which removes every rule a kube-proxy made, before it gives the claim back.
* **CoreDNS** (built from its Go module in ``tests/cluster/coredns/``) runs on the host, bound to
  the node's bridge address (``10.88.N.1``, port 53, one per cluster), with the ``kubernetes``
  plugin for ``cluster.local`` and nothing forwarded: any other name is NXDOMAIN at once. The
  kubelet names that address as ``clusterDNS``, so pods get ``search NS.svc.cluster.local
  svc.cluster.local cluster.local`` and ``x.ns.svc`` resolves as ``x.ns.svc.cluster.local``, to the
  cluster IP. Without this cluster's kube-proxy a cluster IP leads nowhere, so there (or when
  CoreDNS cannot be built or started) ``dns.py`` answers instead, with the pods' own addresses.

Neither is needed for the node to run pods: when one cannot start, ``up`` says why and the node
runs without it. The Node's annotations say what it has: ``kc.dev/service-proxy`` is
``kube-proxy`` or ``none: REASON``, ``kc.dev/cluster-dns`` is ``coredns`` or ``dns.py``.
docs/cluster.md, "The real node", has the rest.

Standard library only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from support import STARTED, Api, ClusterError, alive, free_port, issue, save_state, say, start, wait_for

HERE = Path(__file__).resolve().parent
COREDNS_MODULE = HERE / "coredns"
SERVICE_CIDR = "10.96.0.0/16"  # kube-apiserver's --service-cluster-ip-range (localcluster.py)
DOMAIN = "cluster.local"
RUN = Path("/run/kc-cluster")
CLAIM = RUN / "service-proxy.json"  # which cluster's kube-proxy owns this machine's nat table
DNS_ANNOTATION = "kc.dev/cluster-dns"
PROXY_ANNOTATION = "kc.dev/service-proxy"


# --- building CoreDNS -----------------------------------------------------------------------------------


def coredns_version() -> str:
    for line in (COREDNS_MODULE / "go.mod").read_text().splitlines():
        if line.startswith("require github.com/coredns/coredns "):
            return line.split()[2]
    raise ClusterError(f"{COREDNS_MODULE / 'go.mod'} does not require github.com/coredns/coredns")


def coredns_binary() -> Path:
    """CoreDNS, built into ``CACHE/<hash of its go.mod and go.sum>/bin`` the first time."""
    from localcluster import cache_root  # not at the top: localcluster imports node, which imports this

    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((COREDNS_MODULE / name).read_bytes())
    target = cache_root() / digest.hexdigest()[:16] / "bin"
    if (target / "coredns").is_file():
        return target / "coredns"
    go = shutil.which("go")
    if go is None:
        raise ClusterError("building CoreDNS needs Go (the 'go' command), which is not on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bin-", dir=target.parent))
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false", "GOTOOLCHAIN": "local"}
    started = time.monotonic()
    say(f"building CoreDNS {coredns_version()} into {target}")
    command = [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(scratch) + "/", "github.com/coredns/coredns"]
    done = subprocess.run(command, cwd=COREDNS_MODULE, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ClusterError(f"go build failed in {COREDNS_MODULE}: {done.stderr.strip()[-500:]}")
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    say(f"built CoreDNS in {time.monotonic() - started:.0f}s")
    return target / "coredns"


# --- before the kubelet starts --------------------------------------------------------------------------


def claim_proxy(root: Path, bin_dir: Path, node: dict[str, Any], state: dict[str, Any]) -> None:
    """Claim this machine's service proxy for the node, before its CNI configuration is written
    (:func:`pod_routes`); ``node["service_proxy"]`` says whether it has it, and up says why not."""
    services: dict[str, Any] = {"proxy": False, "dns": None, "why": {}}
    state["services"] = services
    save_state(root, state)
    try:
        claim(root, bin_dir)
        services["proxy"] = True
    except (ClusterError, OSError) as error:
        services["why"]["proxy"] = str(error)
        say(f"no Services on the real node: {error}; its pods get no route to the cluster IPs")
    node["service_proxy"] = services["proxy"]
    save_state(root, state)


def pod_routes(node: dict[str, Any]) -> list[dict[str, str]]:
    """The routes the pods get besides their subnet: the service range through the bridge, when
    this cluster's kube-proxy handles it (another cluster's kube-proxy would answer otherwise)."""
    if node.get("service_proxy"):
        return [{"dst": SERVICE_CIDR, "gw": node["dns"]}]
    return []


def start_dns(root: Path, node: dict[str, Any], api: Api, state: dict[str, Any]) -> None:
    """The cluster DNS on the bridge's address (``node["dns"]``, made by then): CoreDNS, whose
    answers are cluster IPs, where this cluster has kube-proxy; otherwise, or when CoreDNS cannot
    start, dns.py, whose answers are the pods' own addresses. Either runs as the process ``dns``."""
    services = state["services"]
    if services["proxy"]:
        try:
            start_coredns(root, node["dns"], api, state)
            services["dns"] = "coredns"
        except (ClusterError, OSError, subprocess.SubprocessError) as error:
            services["why"]["dns"] = str(error)
            say(f"CoreDNS did not start: {error}; names answer with pod addresses (dns.py) instead")
            _stop_process("dns", state)
    if not services["dns"]:
        start("dns", [sys.executable, str(HERE / "dns.py"), str(root), node["dns"]], root, state)
        services["dns"] = "dns.py"
    save_state(root, state)


COREFILE = """\
# Written by tests/cluster/up: the cluster's DNS for the real node's pods.
{domain}:53 {{
    bind {address}
    errors
    kubernetes {domain} {{
        kubeconfig {kubeconfig} kc-local
        ttl 5
    }}
}}
# Nothing is forwarded: there is no way out, and a quick "no such name" beats a timeout. (A block
# of its own: CoreDNS orders plugins by its build, not by this file, and template comes first.)
.:53 {{
    bind {address}
    template ANY ANY {{
        rcode NXDOMAIN
    }}
}}
"""

# What CoreDNS's kubernetes plugin reads (as CoreDNS's own deployments grant it).
DNS_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "kc:cluster-dns"},
    "rules": [
        {"apiGroups": [""], "resources": ["services", "namespaces", "pods"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]},
    ],
}
DNS_ROLE_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "kc:cluster-dns"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kc:cluster-dns"},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "kc:cluster-dns"}],
}


def client_kubeconfig(root: Path, state: dict[str, Any], name: str, subject: str) -> Path:
    """A kubeconfig under DIR/node/services for a client certificate of ``subject``, signed by the CA."""
    from localcluster import kubeconfig_for

    pki = root / "pki"
    issue(pki, name, subject, "extendedKeyUsage=clientAuth")
    user = subject.rsplit("CN=", 1)[1]
    path = root / "node" / "services" / f"{name}.kubeconfig"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kubeconfig_for(pki, state["server"], user, name), indent=2) + "\n")
    return path


def start_coredns(root: Path, address: str, api: Api, state: dict[str, Any]) -> None:
    binary = coredns_binary()
    api.create("/apis/rbac.authorization.k8s.io/v1/clusterroles", DNS_ROLE)
    api.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", DNS_ROLE_BINDING)
    kubeconfig = client_kubeconfig(root, state, "cluster-dns", "/CN=kc:cluster-dns")
    corefile = root / "node" / "services" / "Corefile"
    corefile.write_text(COREFILE.format(address=address, domain=DOMAIN, kubeconfig=kubeconfig))
    start("dns", [str(binary), "-conf", str(corefile)], root, state)
    # The API server's own Service answers once CoreDNS has listed the Services.
    wait_for(f"CoreDNS on {address}:53", lambda: resolve(address, f"kubernetes.default.svc.{DOMAIN}"), root, 30)


def resolve(server: str, name: str) -> list[str]:
    """The IPv4 addresses ``server`` gives for ``name`` (an A query over UDP); none when it does not answer."""
    ident = random.randrange(1 << 16)
    question = b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split(".")) + b"\0"
    query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        try:
            sock.sendto(query, (server, 53))
            answer = sock.recv(4096)
        except OSError:
            return []
    found = []
    try:
        got, flags, _, count = struct.unpack("!HHHH", answer[:8])
        if got != ident or flags & 0xF:
            return []
        at = 12 + len(question) + 4
        for _ in range(count):
            while answer[at] and answer[at] < 0xC0:  # a name: labels, then a zero or a pointer
                at += answer[at] + 1
            at += 2 if answer[at] >= 0xC0 else 1
            kind, _, _, length = struct.unpack("!HHIH", answer[at : at + 10])
            if kind == 1 and length == 4:
                found.append(socket.inet_ntoa(answer[at + 10 : at + 14]))
            at += 10 + length
    except (IndexError, struct.error):
        return []
    return found


# --- the machine's one service proxy --------------------------------------------------------------------


@contextlib.contextmanager
def machine_lock() -> Iterator[None]:
    RUN.mkdir(parents=True, exist_ok=True)
    with open(RUN / "service-proxy.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def read_claim() -> dict[str, Any] | None:
    try:
        return dict(json.loads(CLAIM.read_text()))
    except (OSError, ValueError):
        return None


def claim_alive(owner: dict[str, Any]) -> bool:
    """Whether the cluster that claimed the machine still runs: ``up`` while it starts, then its
    kubelet or kube-proxy (their command lines name the cluster's directory)."""
    if owner.get("up") and alive(owner["up"]):
        return True
    for pid in (owner.get("kubelet"), owner.get("kube-proxy")):
        with contextlib.suppress(OSError):
            if pid and owner["root"].encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                return True
    return False


def has_proxy_rules() -> bool:
    return subprocess.run(["iptables", "-t", "nat", "-S", "KUBE-SERVICES"], capture_output=True).returncode == 0


def claim(root: Path, bin_dir: Path) -> None:
    """Make this cluster the one whose kube-proxy runs on this machine; a ClusterError says why not."""
    if not shutil.which("iptables"):  # node.PACKAGES has it: up installs it with the node's packages
        raise ClusterError("iptables is missing, and apt-get could not install it")
    with machine_lock():
        owner = read_claim()
        if owner and owner["root"] != str(root) and claim_alive(owner):
            raise ClusterError(
                f"the local cluster in {owner['root']} runs this machine's kube-proxy (one per machine: "
                "kube-proxy's iptables chains have fixed names)"
            )
        if owner is None and has_proxy_rules():
            raise ClusterError(
                "this machine's iptables has another kube-proxy's rules (KUBE-SERVICES); not adding mine"
            )
        if owner is not None:  # a cluster that went without its down: take its rules away first
            cleanup(bin_dir)
        CLAIM.write_text(json.dumps({"root": str(root), "up": os.getpid()}) + "\n")


def release(root: Path, bin_dir: Path | None) -> None:
    with machine_lock():
        owner = read_claim()
        if not owner or owner["root"] != str(root):
            return
        if bin_dir is not None:
            cleanup(bin_dir)
        CLAIM.unlink(missing_ok=True)


def cleanup(bin_dir: Path) -> None:
    """``kube-proxy --cleanup``: every chain and rule a kube-proxy made, in every mode; nothing else."""
    binary = bin_dir / "kube-proxy"
    if binary.is_file():
        subprocess.run([str(binary), "--cleanup", "--v", "0"], capture_output=True, stdin=subprocess.DEVNULL)


# --- once the node is Ready -----------------------------------------------------------------------------


def kube_proxy_argv(root: Path, bin_dir: Path, node: dict[str, Any], kubeconfig: Path, health: int) -> list[str]:
    from node import NAME

    return [
        str(bin_dir / "kube-proxy"),
        "--kubeconfig",
        str(kubeconfig),
        "--proxy-mode",
        "iptables",
        "--hostname-override",
        NAME,
        "--cluster-cidr",
        node["subnet"],  # the real node's pods
        # The pods' replies must come back through the host to be translated back: a pod talks to
        # the pod behind a Service from the bridge's address (the bridge otherwise carries the
        # reply straight across, past the NAT, wherever br_netfilter is not loaded).
        "--masquerade-all",
        # Node ports on the bridge's address only: nothing of the machine's own addresses is taken.
        "--nodeport-addresses",
        node["subnet"],
        "--iptables-localhost-nodeports=false",  # no route_localnet sysctl
        # Leave the machine's conntrack settings as they are: no sysctl is written.
        "--conntrack-max-per-core=0",
        "--conntrack-min=0",
        "--conntrack-tcp-timeout-established=0",
        "--conntrack-tcp-timeout-close-wait=0",
        "--oom-score-adj=0",  # root here may not lower it (no CAP_SYS_RESOURCE)
        "--healthz-bind-address",
        f"127.0.0.1:{health}",
        "--metrics-bind-address",
        f"127.0.0.1:{free_port()}",
        "--v",
        "1",
    ]


def finish(root: Path, bin_dir: Path, node: dict[str, Any], api: Api, state: dict[str, Any]) -> None:
    """Once the node is Ready: start kube-proxy where this cluster claimed the machine, and say on
    the Node what it has. When kube-proxy fails, the claim stays until down (the pods have their
    route to the service range) and the names answer with pod addresses instead (dns.py)."""
    from node import NAME

    services = state["services"]
    if services["proxy"]:
        try:
            start_proxy(root, bin_dir, node, state)
        except (ClusterError, OSError, subprocess.SubprocessError) as error:
            services["proxy"] = False
            services["why"]["proxy"] = str(error)
            say(f"kube-proxy did not start: {error}; no Services on the real node")
            _stop_process("kube-proxy", state)
            if services["dns"] == "coredns":
                _stop_process("dns", state)
                services["dns"] = None
                start_dns(root, {**node, "service_proxy": False}, api, state)
        save_state(root, state)
    why = services["why"]
    annotations = {
        DNS_ANNOTATION: services["dns"] or "none",
        PROXY_ANNOTATION: "kube-proxy" if services["proxy"] else f"none: {why.get('proxy', 'not started')}",
    }
    api.patch(f"/api/v1/nodes/{NAME}", {"metadata": {"annotations": annotations}})
    what = "kube-proxy and CoreDNS" if services["dns"] == "coredns" and services["proxy"] else services["dns"]
    say(f"Services on the real node: {what}")


def start_proxy(root: Path, bin_dir: Path, node: dict[str, Any], state: dict[str, Any]) -> None:
    # system:kube-proxy is bound to the ClusterRole system:node-proxier by the API server's defaults.
    kubeconfig = client_kubeconfig(root, state, "kube-proxy", "/CN=system:kube-proxy")
    health = free_port()
    start("kube-proxy", kube_proxy_argv(root, bin_dir, node, kubeconfig, health), root, state)
    with machine_lock():
        owner = read_claim() or {"root": str(root)}
        owner.update({"kube-proxy": state["pids"]["kube-proxy"], "kubelet": state["pids"].get("kubelet")})
        CLAIM.write_text(json.dumps(owner) + "\n")
    wait_for("kube-proxy's first sync", lambda: _healthy(health), root, timeout=30)


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


# --- stopping -------------------------------------------------------------------------------------------


def _stop_process(name: str, state: dict[str, Any]) -> None:
    from node import _kill

    _kill(state.get("pids", {}).pop(name, None))
    STARTED.pop(name, None)


def stop(root: Path, state: dict[str, Any]) -> None:
    """Stop kube-proxy, take its rules away and give the machine's claim back, when this cluster
    had it. (The DNS server, the process ``dns``, stops with the node.) Safe on a cluster that
    never started them."""
    if "services" not in state:
        return
    _stop_process("kube-proxy", state)
    bin_dir = root / "bin"
    release(root, bin_dir if (bin_dir / "kube-proxy").exists() else None)
    save_state(root, state)
