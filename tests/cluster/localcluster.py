"""A real Kubernetes cluster on loopback, built from the official Go modules.

``up DIR`` builds what is missing (cached by the content of the pinning go.mod files), starts etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, kwok (fake nodes) and, where the machine
can run it, a real node (node.py: kubelet, containerd, runc), waits until the API server answers
and the nodes are Ready, and writes ``DIR/kubeconfig``. ``down DIR`` stops what ``up`` started, by
the PIDs it recorded, takes the real node's containers, mounts and network away, and removes
``DIR``'s data. docs/cluster.md describes both.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import node
from support import (
    STARTED,
    Api,
    ClusterError,
    alive,
    free_port,
    issue,
    make_ca,
    openssl,
    save_state,
    say,
    start,
    wait_for,
)

HERE = Path(__file__).resolve().parent
KUBERNETES_MODULE = HERE / "kubernetes"
KWOK_MODULE = HERE / "kwok"
FAKE_NODES = 2
KUBERNETES_COMMANDS = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-proxy",
    "kube-scheduler",
    "kubectl",
    "kubelet",
)
COMPONENTS = (*KUBERNETES_COMMANDS, "etcd", "kwok")


# --- building ---------------------------------------------------------------------------------------


def kubernetes_version() -> str:
    found = re.search(r"^require k8s\.io/kubernetes (v\S+)$", (KUBERNETES_MODULE / "go.mod").read_text(), re.M)
    if not found:
        raise ClusterError(f"{KUBERNETES_MODULE / 'go.mod'} does not require k8s.io/kubernetes")
    return found.group(1)


def cache_root() -> Path:
    base = os.environ.get("KC_CLUSTER_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kc-cluster"
    )
    return Path(base)


def build_key() -> str:
    digest = hashlib.sha256()
    for module in (KUBERNETES_MODULE, KWOK_MODULE):
        for name in ("go.mod", "go.sum"):
            digest.update((module / name).read_bytes())
    return digest.hexdigest()[:16]


def binaries() -> Path:
    """The directory of built components, building them first if this version has none yet."""
    target = cache_root() / build_key() / "bin"
    if all((target / name).is_file() for name in COMPONENTS):
        return target
    go = shutil.which("go")
    if go is None:
        raise ClusterError("building the local cluster needs Go (the 'go' command), which is not on PATH")
    version = kubernetes_version()
    major, minor = version[1:].split(".")[:2]
    flags = "-s -w " + " ".join(
        f"-X k8s.io/component-base/version.{key}={value}"
        for key, value in (("gitVersion", version), ("gitMajor", major), ("gitMinor", minor))
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bin-", dir=target.parent))
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly -buildvcs=false"}
    started = time.monotonic()
    say(f"building Kubernetes {version}, etcd and kwok into {target} (the first time takes a while)")
    for module, packages in (
        (
            KUBERNETES_MODULE,
            [f"k8s.io/kubernetes/cmd/{name}" for name in KUBERNETES_COMMANDS] + ["go.etcd.io/etcd/server/v3"],
        ),
        (KWOK_MODULE, ["sigs.k8s.io/kwok/cmd/kwok"]),
    ):
        command = [go, "build", "-trimpath", "-ldflags", flags, "-o", str(scratch) + "/", *packages]
        if subprocess.run(command, cwd=module, env=env).returncode != 0:
            shutil.rmtree(scratch, ignore_errors=True)
            raise ClusterError(f"go build failed in {module}")
    (scratch / "server").rename(scratch / "etcd")  # go names it after its package path
    shutil.rmtree(target, ignore_errors=True)
    scratch.rename(target)
    say(f"built in {time.monotonic() - started:.0f}s")
    return target


# --- certificates -----------------------------------------------------------------------------------


def make_pki(pki: Path) -> None:
    """A throwaway CA, the API server's serving certificate and its client certificate for the
    kubelet, an admin client and service-account keys."""
    pki.mkdir(parents=True)
    make_ca(pki)
    names = "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1"
    issue(pki, "apiserver", "/CN=kube-apiserver", f"subjectAltName={names}\nextendedKeyUsage=serverAuth")
    issue(pki, "apiserver-kubelet", "/O=system:masters/CN=kube-apiserver-kubelet-client", "extendedKeyUsage=clientAuth")
    issue(pki, "admin", "/O=system:masters/CN=kc-admin", "extendedKeyUsage=clientAuth")
    openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
    openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def kubeconfig_for(pki: Path, server: str, user: str, cert: str) -> dict[str, Any]:
    def data(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    return {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kc-local",
        "clusters": [{"name": "kc-local", "cluster": {"server": server, "certificate-authority-data": data("ca.crt")}}],
        "users": [
            {
                "name": user,
                "user": {"client-certificate-data": data(f"{cert}.crt"), "client-key-data": data(f"{cert}.key")},
            }
        ],
        "contexts": [{"name": "kc-local", "context": {"cluster": "kc-local", "user": user}}],
    }


def write_kubeconfig(path: Path, pki: Path, server: str) -> None:
    config = kubeconfig_for(pki, server, "kc-admin", "admin")
    path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML: every client reads it


# --- up and down ------------------------------------------------------------------------------------


def read_state(root: Path) -> dict[str, Any]:
    try:
        return dict(json.loads((root / "state.json").read_text()))
    except (OSError, ValueError):
        return {"pids": {}}


def running(root: Path) -> bool:
    """Whether ``root`` holds a cluster that is up and answering."""
    state = read_state(root)
    if not state["pids"] or not all(alive(pid) for pid in state["pids"].values()):
        return False
    return Api(state["server"], root / "pki").call("GET", "/readyz")[0] == 200


def up(root: Path, real_node: bool = True) -> None:
    root = root.resolve()
    if running(root):
        say(f"already running; kubeconfig: {root / 'kubeconfig'}")
        return
    down(root, quiet=True)
    bin_dir = binaries()
    (root / "bin").unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
    (root / "bin").symlink_to(bin_dir)  # DIR/bin/kubectl --kubeconfig DIR/kubeconfig
    try:
        start_all(root, bin_dir, real_node)
    except BaseException:
        stop(root)  # nothing left running; the logs stay for reading
        raise


def start_all(root: Path, bin_dir: Path, real_node: bool) -> None:
    started = time.monotonic()
    for sub in ("logs", "etcd"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    pki = root / "pki"
    make_pki(pki)
    ports = {
        name: free_port() for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")
    }
    server = f"https://127.0.0.1:{ports['apiserver']}"
    write_kubeconfig(root / "kubeconfig", pki, server)
    state: dict[str, Any] = {"server": server, "version": kubernetes_version(), "pids": {}}
    start("etcd", etcd_argv(bin_dir, root, ports), root, state)
    start("kube-apiserver", apiserver_argv(bin_dir, pki, ports), root, state)
    api = Api(server, pki)
    wait_for("the API server", lambda: api.call("GET", "/readyz")[0] == 200, root)
    start_controllers(root, bin_dir, ports, state)
    for index in range(FAKE_NODES):
        api.create("/api/v1/nodes", fake_node(f"kc-fake-{index}"))
    api.create("/apis/storage.k8s.io/v1/storageclasses", STORAGE_CLASS)
    wait_for("a Ready node", lambda: ready_nodes(api) >= FAKE_NODES, root)
    wait_for(
        "the default service account (the controllers at work)",
        lambda: api.call("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
        root,
    )
    if real_node and os.geteuid() == 0:  # claims writable by pods that run for real (claims.py)
        start("claims", [sys.executable, str(HERE / "claims.py"), str(root)], root, state)
    nodes = f"{FAKE_NODES} fake nodes"
    if real_node and start_real_node(root, bin_dir, api, state):
        nodes += f" and the real node {node.NAME}"
    elapsed = time.monotonic() - started
    say(f"Kubernetes {state['version']} up at {server} in {elapsed:.1f}s with {nodes}")
    say(f"kubeconfig: {root / 'kubeconfig'}")


def start_real_node(root: Path, bin_dir: Path, api: Api, state: dict[str, Any]) -> bool:
    """Start the real node where the machine can run one; otherwise say why, and go on without it."""
    reason = node.unavailable()
    if reason is None:
        try:
            node.make_pki(root / "pki")
            kubeconfig = kubeconfig_for(root / "pki", state["server"], f"system:node:{node.NAME}", "node")
            node.start_node(root, bin_dir, api, kubeconfig, state)
            return True
        except (ClusterError, OSError, subprocess.SubprocessError) as error:
            reason = str(error)
        node.stop_node(root, state)
        for name in ("kubelet", "containerd", "dns", "network-policies"):
            STARTED.pop(name, None)
            state["pids"].pop(name, None)
        state["node"] = None
        save_state(root, state)
    say(f"no real node: {reason}; pods run on the fake nodes only")
    return False


def etcd_argv(bin_dir: Path, root: Path, ports: dict[str, int]) -> list[str]:
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
    return [
        str(bin_dir / "etcd"),
        "--name",
        "kc",
        "--data-dir",
        str(root / "etcd"),
        "--listen-client-urls",
        etcd_url,
        "--advertise-client-urls",
        etcd_url,
        "--listen-peer-urls",
        peer_url,
        "--initial-advertise-peer-urls",
        peer_url,
        "--initial-cluster",
        f"kc={peer_url}",
        "--unsafe-no-fsync",
        "--log-level",
        "warn",
    ]


def apiserver_argv(bin_dir: Path, pki: Path, ports: dict[str, int]) -> list[str]:
    return [
        str(bin_dir / "kube-apiserver"),
        "--etcd-servers",
        f"http://127.0.0.1:{ports['etcd']}",
        "--bind-address",
        "127.0.0.1",
        "--advertise-address",
        "127.0.0.1",
        "--endpoint-reconciler-type",
        "none",  # loopback is no endpoint address
        "--secure-port",
        str(ports["apiserver"]),
        "--tls-cert-file",
        str(pki / "apiserver.crt"),
        "--tls-private-key-file",
        str(pki / "apiserver.key"),
        "--client-ca-file",
        str(pki / "ca.crt"),
        "--service-account-issuer",
        "https://kubernetes.default.svc.cluster.local",
        "--service-account-key-file",
        str(pki / "sa.pub"),
        "--service-account-signing-key-file",
        str(pki / "sa.key"),
        "--service-cluster-ip-range",
        "10.96.0.0/16",
        "--authorization-mode",
        "Node,RBAC",
        # A namespace's annotations may send its pods to the real node (node.NAMESPACE_ANNOTATIONS).
        "--enable-admission-plugins",
        "PodNodeSelector,PodTolerationRestriction",
        # Logs, exec and port-forward: the API server calls the kubelet, which checks both certificates.
        "--kubelet-client-certificate",
        str(pki / "apiserver-kubelet.crt"),
        "--kubelet-client-key",
        str(pki / "apiserver-kubelet.key"),
        "--kubelet-certificate-authority",
        str(pki / "ca.crt"),
        "--kubelet-preferred-address-types",
        "InternalIP,Hostname",
        "--allow-privileged=true",
        "--profiling=false",
    ]


def start_controllers(root: Path, bin_dir: Path, ports: dict[str, int], state: dict[str, Any]) -> None:
    """kube-controller-manager, kube-scheduler and kwok, the API server's clients."""
    kubeconfig = str(root / "kubeconfig")
    pki = root / "pki"
    common = ["--kubeconfig", kubeconfig, "--authentication-kubeconfig", kubeconfig]
    common += ["--authorization-kubeconfig", kubeconfig, "--leader-elect=false", "--bind-address", "127.0.0.1"]
    manager = [str(bin_dir / "kube-controller-manager"), *common, "--secure-port", str(ports["controller-manager"])]
    manager += ["--service-account-private-key-file", str(pki / "sa.key"), "--root-ca-file", str(pki / "ca.crt")]
    manager += ["--cluster-signing-cert-file", str(pki / "ca.crt"), "--cluster-signing-key-file", str(pki / "ca.key")]
    manager += ["--use-service-account-credentials=true", "--enable-hostpath-provisioner=true"]
    start("kube-controller-manager", manager, root, state)
    scheduler = [str(bin_dir / "kube-scheduler"), *common, "--secure-port", str(ports["scheduler"])]
    start("kube-scheduler", scheduler, root, state)
    kwok = [str(bin_dir / "kwok"), "--config", str(KWOK_MODULE / "stages.yaml"), "--kubeconfig", kubeconfig]
    kwok += ["--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake", "--node-ip", "127.0.0.1"]
    kwok += ["--node-port", str(ports["kwok"]), "--node-lease-duration-seconds", "40"]
    kwok += ["--server-address", f"127.0.0.1:{ports['kwok']}", "--cidr", "10.244.0.1/16"]
    start("kwok", kwok, root, state)


def fake_node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "type": "kwok",
                "kc.dev/node": "fake",
            },
        },
    }


# The claims of StatefulSets and volume stages bind through kube-controller-manager's host-path
# provisioner (a development provisioner: the paths are directories under /tmp on this machine).
STORAGE_CLASS = {
    "apiVersion": "storage.k8s.io/v1",
    "kind": "StorageClass",
    "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": "kubernetes.io/host-path",
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "Immediate",
}


def ready_nodes(api: Api) -> int:
    code, nodes = api.call("GET", "/api/v1/nodes")
    if code != 200:
        return 0
    return sum(
        any(c["type"] == "Ready" and c["status"] == "True" for c in (n.get("status") or {}).get("conditions") or [])
        for n in nodes["items"]
    )


def stop(root: Path) -> int:
    """Stop the real node, then every process ``up`` recorded in ``root``; how many were running.
    etcd goes last, once the API server is gone: stopped together, the API server waits for it."""
    state = read_state(root)
    pids = [pid for pid in state["pids"].values() if alive(pid)]
    node.stop_node(root, state)
    etcd = state["pids"].get("etcd")
    terminate([pid for name, pid in state["pids"].items() if name != "etcd"])
    terminate([etcd] if etcd else [])
    return len(pids)


def terminate(pids: list[int]) -> None:
    """TERM each process group, and KILL what is left of them after 15 s."""
    pids = [pid for pid in pids if alive(pid)]
    for pid in pids:
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)


def down(root: Path, quiet: bool = False) -> None:
    root = root.resolve()
    stopped = stop(root)
    for sub in ("etcd", "pki", "logs", "node", "registry", "state.json", "kubeconfig", "bin"):
        path = root / sub
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists() or path.is_symlink():
            path.unlink()
    if not quiet:
        say(f"stopped {stopped} processes and removed the data in {root}")


USAGE = "usage: tests/cluster/up [--fake-nodes-only] DIR | tests/cluster/down DIR"


def main(command: str, argv: list[str]) -> int:
    options = [arg for arg in argv if arg.startswith("-")]
    places = [arg for arg in argv if not arg.startswith("-")]
    allowed = {"--fake-nodes-only"} if command == "up" else set()
    if len(places) != 1 or not set(options) <= allowed:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        if command == "up":
            up(Path(places[0]), real_node="--fake-nodes-only" not in options)
        else:
            down(Path(places[0]))
    except ClusterError as error:
        say(f"error: {error}")
        return 1
    return 0
