"""NetworkPolicy, enforced on the real node: kube-network-policies beside kube-proxy, a host process.

The bridge CNI plugin ignores NetworkPolicy, as most plugins without a policy engine do, so a
policy kc writes would be checked by nothing. ``sigs.k8s.io/kube-network-policies`` (what kind
runs; built from its Go module in ``tests/cluster/netpol/``) enforces it the way it does there:
the first packet of every connection from or to a pod is handed to it through an NFQUEUE, it
looks up the pods at both ends and the policies that select them, and accepts or drops the packet;
conntrack lets the rest of an accepted connection through.

What is different here, and why:

* **The queueing rules are ours.** kube-network-policies writes an nftables table whose rules
  hand packets over with nftables' ``queue`` statement, which needs the kernel's ``nft_queue``;
  a kernel without it (CONFIG_NFT_QUEUE unset, as on the machines these tests run on) refuses the whole
  table, and kube-network-policies retries it and logs the error. The NFQUEUE target of iptables
  (``xt_NFQUEUE``, through nf_tables' ``nft_compat``) needs only ``nfnetlink_queue``. So ``up``
  adds a chain of its own to the mangle table's POSTROUTING, after DNAT and before SNAT (where
  kube-network-policies hooks in: a Service's address is already a pod's, and the client's not
  yet the host's), that hands over every new connection from or to the node's pod subnet, but
  those the host's root user opens (the kubelet's probes: a node may always reach its pods).
  Bridged packets pass it too: ``br_netfilter`` sends them through the IP hooks. The chain is
  named after the cluster, and so is the queue, so two clusters on one machine each enforce
  their own node's policies. Where nft_queue exists, kube-network-policies' own table works as
  well and hands the packets of the pods that policies select to the same queue, judged alike.
* **Fail closed.** Without ``--queue-bypass`` a packet that nobody reads from the queue is dropped:
  ``up`` adds the rules only once kube-network-policies listens, and ``down`` removes them before
  it stops it.
* **In-cluster configuration.** kube-network-policies reads its API server and token only the
  in-cluster way (``KUBERNETES_SERVICE_HOST``, ``/var/run/secrets/kubernetes.io/serviceaccount``).
  It runs in a mount namespace of its own with a tmpfs on ``/run`` that holds a token of its
  ServiceAccount (``kube-system/kube-network-policies``, bound to a ClusterRole that lists and
  watches pods, namespaces and NetworkPolicies, and records events): nothing is written outside
  ``DIR``.
* **DNS.** The cluster DNS answers on the bridge's address, a host process; a packet to the host
  takes the INPUT path, which kube-network-policies never sees (``--netfilter-bug-1766-fix=false``:
  that option would send DNS packets through the queue before they reach the host, and the kernel
  bug it works around is fixed since 6.12). A pod may always reach its node here, as with
  kube-network-policies elsewhere.

The Node's annotation ``kc.dev/network-policy`` says ``kube-network-policies``, or ``none:
REASON`` when it could not start (no nfnetlink_queue, a failed build); the node runs on without
it. docs/cluster.md, "NetworkPolicy", has the rest.

Standard library only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from support import STARTED, Api, ClusterError, alive, free_port, save_state, say, start, wait_for

HERE = Path(__file__).resolve().parent
MODULE = HERE / "netpol"
PACKAGE = "sigs.k8s.io/kube-network-policies/cmd"  # its main package; go build names it "cmd"
QUEUES = Path("/proc/net/netfilter/nfnetlink_queue")
ANNOTATION = "kc.dev/network-policy"
NAMESPACE = "kube-system"
ACCOUNT = "kube-network-policies"
TOKEN_SECONDS = 7 * 24 * 3600

# What kube-network-policies reads, as its own manifests grant it.
ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "kc:network-policies"},
    "rules": [
        {"apiGroups": [""], "resources": ["pods", "namespaces", "nodes"], "verbs": ["list", "watch"]},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["list", "watch"]},
        {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "update"]},
    ],
}
ROLE_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "kc:network-policies"},
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kc:network-policies"},
    "subjects": [{"kind": "ServiceAccount", "name": ACCOUNT, "namespace": NAMESPACE}],
}
ACCOUNT_OBJECT = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": ACCOUNT, "namespace": NAMESPACE}}

# In its own mount namespace: a tmpfs on /run (so nothing appears on the host's), the
# service-account files where client-go's in-cluster configuration reads them, then the program.
LAUNCH = """\
set -e
mount -t tmpfs -o mode=0755 kc-network-policies /run
mkdir -p /run/secrets/kubernetes.io/serviceaccount
cp "$1"/token "$1"/ca.crt "$1"/namespace /run/secrets/kubernetes.io/serviceaccount/
shift
exec "$@"
"""


# --- building ---------------------------------------------------------------------------------------


def version() -> str:
    for line in (MODULE / "go.mod").read_text().splitlines():
        if line.startswith("require sigs.k8s.io/kube-network-policies "):
            return line.split()[2]
    raise ClusterError(f"{MODULE / 'go.mod'} does not require sigs.k8s.io/kube-network-policies")


def binary() -> Path:
    """kube-network-policies, built into ``CACHE/<hash of its go.mod and go.sum>/bin`` the first
    time, as CoreDNS is (services.coredns_binary)."""
    from localcluster import cache_root  # not at the top: localcluster imports node, which imports this

    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((MODULE / name).read_bytes())
    target = cache_root() / digest.hexdigest()[:16] / "bin"
    if (target / "kube-network-policies").is_file():
        return target / "kube-network-policies"
    go = shutil.which("go")
    if go is None:
        raise ClusterError("building kube-network-policies needs Go (the 'go' command), which is not on PATH")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bin-", dir=target.parent))
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false", "GOTOOLCHAIN": "local"}
    started = time.monotonic()
    say(f"building kube-network-policies {version()} into {target}")
    command = [go, "build", "-trimpath", "-ldflags", "-s -w", "-o", str(scratch) + "/", PACKAGE]
    done = subprocess.run(command, cwd=MODULE, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        shutil.rmtree(scratch, ignore_errors=True)
        raise ClusterError(f"go build failed in {MODULE}: {done.stderr.strip()[-500:]}")
    (scratch / "cmd").rename(scratch / "kube-network-policies")
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    say(f"built kube-network-policies in {time.monotonic() - started:.0f}s")
    return target / "kube-network-policies"


# --- what the machine needs ---------------------------------------------------------------------------


def queue_number(node: dict[str, Any]) -> int:
    """The node's own queue (a 16-bit number), away from kube-network-policies' default 100."""
    return 1000 + int(node["tag"], 16) % 60000


def chain(node: dict[str, Any]) -> str:
    return f"KC-NETPOL-{node['tag']}"


def kernel_problem() -> str | None:
    """Why this kernel cannot hand packets to a program, or None: nfnetlink_queue, loaded or built
    in, shows itself in /proc; modprobe loads it where it is a module."""
    if not QUEUES.exists() and shutil.which("modprobe"):
        subprocess.run(["modprobe", "nfnetlink_queue"], capture_output=True)
    if not QUEUES.exists():
        return "the kernel has no nfnetlink_queue (NFQUEUE)"
    return None


def listening(queue: int) -> bool:
    """Whether a program reads ``queue`` (its line in /proc: the number first)."""
    try:
        return any(line.split()[:1] == [str(queue)] for line in QUEUES.read_text().splitlines())
    except OSError:
        return False


def iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", "-t", "mangle", *args], capture_output=True, text=True)


def add_rules(node: dict[str, Any]) -> None:
    """The node's chain: new connections from or to its pods go to its queue, but those of the
    host's root user; jumped to from POSTROUTING."""
    name, queue, subnet = chain(node), str(queue_number(node)), node["subnet"]
    remove_rules(node)
    steps = [
        ["-N", name],
        ["-A", name, "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"],
        ["-A", name, "-m", "owner", "--uid-owner", "0", "-j", "RETURN"],
        ["-A", name, "-s", subnet, "-j", "NFQUEUE", "--queue-num", queue],
        ["-A", name, "-d", subnet, "-j", "NFQUEUE", "--queue-num", queue],
        ["-A", "POSTROUTING", "-j", name],
    ]
    for step in steps:
        done = iptables(*step)
        if done.returncode != 0:
            remove_rules(node)
            raise ClusterError(f"iptables -t mangle {' '.join(step)} failed: {done.stderr.strip()}")


def remove_rules(node: dict[str, Any]) -> None:
    """The node's chain and the jump to it, wherever they are; nothing else."""
    name = chain(node)
    while iptables("-D", "POSTROUTING", "-j", name).returncode == 0:
        continue
    iptables("-F", name)
    iptables("-X", name)


# --- starting and stopping ------------------------------------------------------------------------------


def token(api: Api) -> str:
    """A token of the ServiceAccount, made for a week (longer than any test run)."""
    path = f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{ACCOUNT}/token"
    body = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": TOKEN_SECONDS},
    }
    code, answer = api.call("POST", path, body)
    if code != 201 or not isinstance(answer, dict):
        raise ClusterError(f"a token for {NAMESPACE}/{ACCOUNT} was refused ({code}): {answer}")
    return str(answer["status"]["token"])


def argv(server: str, program: Path, node: dict[str, Any], secrets: Path) -> list[str]:
    from node import NAME

    host, _, number = server.removeprefix("https://").rpartition(":")
    return [
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "env",
        f"KUBERNETES_SERVICE_HOST={host}",
        f"KUBERNETES_SERVICE_PORT={number}",
        "sh",
        "-c",
        LAUNCH,
        "network-policies",
        str(secrets),
        str(program),
        "--hostname-override",
        NAME,
        "--nfqueue-id",
        str(queue_number(node)),
        "--netfilter-bug-1766-fix=false",
        "--metrics-bind-address",
        f"127.0.0.1:{free_port()}",
        "--v",
        "1",
    ]


def start_engine(root: Path, node: dict[str, Any], api: Api, state: dict[str, Any]) -> str:
    """Start kube-network-policies and hand it the node's packets; what the Node's annotation says."""
    problem = kernel_problem()
    if problem:
        return f"none: {problem}"
    if not shutil.which("unshare") or not shutil.which("iptables"):
        return "none: unshare or iptables is missing"
    try:
        program = binary()
        for path, body in (
            ("/api/v1/namespaces/kube-system/serviceaccounts", ACCOUNT_OBJECT),
            ("/apis/rbac.authorization.k8s.io/v1/clusterroles", ROLE),
            ("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", ROLE_BINDING),
        ):
            api.create(path, body)
        secrets = root / "node" / "network-policies"
        secrets.mkdir(parents=True, exist_ok=True)
        (secrets / "token").write_text(token(api))
        shutil.copy(root / "pki" / "ca.crt", secrets / "ca.crt")
        (secrets / "namespace").write_text(NAMESPACE)
        state["network_policies"] = {"chain": chain(node), "queue": queue_number(node)}
        save_state(root, state)
        start("network-policies", argv(state["server"], program, node, secrets), root, state)
        queue = queue_number(node)
        wait_for(f"kube-network-policies to read queue {queue}", lambda: listening(queue), root, timeout=30)
        add_rules(node)
    except (ClusterError, OSError, subprocess.SubprocessError) as error:
        stop_engine(state)
        STARTED.pop("network-policies", None)
        say(f"NetworkPolicy is not enforced on the real node: {error}")
        return f"none: {error}"
    say(f"NetworkPolicy enforced on the real node: kube-network-policies on queue {queue_number(node)}")
    return "kube-network-policies"


def stop_engine(state: dict[str, Any]) -> None:
    """Take the rules away first (a queue nobody reads drops), then stop kube-network-policies with
    SIGINT, on which it removes its own table (it ignores TERM); KILL after 10 s."""
    node = state.get("node")
    if node and state.get("network_policies"):
        remove_rules(node)
    pid = state.get("pids", {}).pop("network-policies", None)
    if pid and alive(pid):
        os.killpg(pid, signal.SIGINT)
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
    state.pop("network_policies", None)
