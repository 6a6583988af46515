"""A real Kubernetes control plane on loopback, built from the official Go modules.

``up DIR`` builds what is missing (cached by the content of the pinning go.mod files), starts etcd,
kube-apiserver, kube-controller-manager, kube-scheduler and kwok (fake nodes), waits until the API
server answers and a node is Ready, and writes ``DIR/kubeconfig``. ``down DIR`` stops what ``up``
started, by the PIDs it recorded, and removes ``DIR``'s data. docs/cluster.md describes both.

Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
KUBERNETES_MODULE = HERE / "kubernetes"
KWOK_MODULE = HERE / "kwok"
FAKE_NODES = 2
KUBERNETES_COMMANDS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
COMPONENTS = (*KUBERNETES_COMMANDS, "etcd", "kwok")


def say(message: str) -> None:
    print(f"cluster: {message}", file=sys.stderr, flush=True)


class ClusterError(Exception):
    """Something that stops ``up``; said in one line."""


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


def openssl(*args: str) -> None:
    done = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise ClusterError(f"openssl {args[0]} failed: {done.stderr.strip()}")


def make_pki(pki: Path) -> None:
    """A throwaway CA, the API server's serving certificate, an admin client and service-account keys."""
    pki.mkdir(parents=True)
    ca, days = pki / "ca", "3650"
    openssl(
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-days",
        days,
        "-subj",
        "/CN=kc-local-ca",
        "-keyout",
        f"{ca}.key",
        "-out",
        f"{ca}.crt",
    )
    names = "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:127.0.0.1,IP:10.96.0.1"
    for name, subject, extension in (
        ("apiserver", "/CN=kube-apiserver", f"subjectAltName={names}\nextendedKeyUsage=serverAuth"),
        ("admin", "/O=system:masters/CN=kc-admin", "extendedKeyUsage=clientAuth"),
    ):
        key = pki / f"{name}.key"
        (pki / f"{name}.ext").write_text(extension + "\n")
        openssl(
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            subject,
            "-keyout",
            str(key),
            "-out",
            str(pki / f"{name}.csr"),
        )
        openssl(
            "x509",
            "-req",
            "-in",
            str(pki / f"{name}.csr"),
            "-CA",
            f"{ca}.crt",
            "-CAkey",
            f"{ca}.key",
            "-CAcreateserial",
            "-days",
            days,
            "-extfile",
            str(pki / f"{name}.ext"),
            "-out",
            str(pki / f"{name}.crt"),
        )
    openssl("genrsa", "-out", str(pki / "sa.key"), "2048")
    openssl("rsa", "-in", str(pki / "sa.key"), "-pubout", "-out", str(pki / "sa.pub"))


def write_kubeconfig(path: Path, pki: Path, server: str) -> None:
    def data(name: str) -> str:
        return base64.b64encode((pki / name).read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "kc-local",
        "clusters": [{"name": "kc-local", "cluster": {"server": server, "certificate-authority-data": data("ca.crt")}}],
        "users": [
            {
                "name": "kc-admin",
                "user": {"client-certificate-data": data("admin.crt"), "client-key-data": data("admin.key")},
            }
        ],
        "contexts": [{"name": "kc-local", "context": {"cluster": "kc-local", "user": "kc-admin"}}],
    }
    path.write_text(json.dumps(config, indent=2) + "\n")  # JSON is YAML: every client reads it


# --- processes --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


STARTED: dict[str, subprocess.Popen[bytes]] = {}  # by this process, to see one exit


def start(name: str, argv: list[str], root: Path, state: dict[str, Any]) -> None:
    log = open(root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it open
    process = subprocess.Popen(
        argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
    )
    log.close()
    STARTED[name] = process
    state["pids"][name] = process.pid
    (root / "state.json").write_text(json.dumps(state, indent=2) + "\n")


def alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):  # reap it first if it is this process's own exited child
        os.waitpid(pid, os.WNOHANG)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Api:
    """Just enough of an API client for starting up: GET, POST, with the admin certificate."""

    def __init__(self, server: str, pki: Path) -> None:
        self.server = server
        self.context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
        self.context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=10) as response:
                text = response.read().decode()
                return response.status, json.loads(text) if text.startswith("{") else text
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except (OSError, ssl.SSLError) as error:
            return 0, str(error)

    def create(self, path: str, body: dict[str, Any]) -> None:
        code, answer = self.call("POST", path, body)
        if code not in (201, 409):  # 409: there already
            raise ClusterError(f"creating {body['kind']} {body['metadata']['name']} failed ({code}): {answer}")


def wait_for(what: str, check: Any, root: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        for name, process in STARTED.items():
            if process.poll() is not None:
                raise ClusterError(f"{name} exited while waiting for {what}; see {root / 'logs' / (name + '.log')}")
        time.sleep(0.25)
    raise ClusterError(f"timed out after {timeout:.0f}s waiting for {what}; logs are in {root / 'logs'}")


# --- up and down ------------------------------------------------------------------------------------


def running(root: Path) -> bool:
    """Whether ``root`` holds a cluster that is up and answering."""
    try:
        state = json.loads((root / "state.json").read_text())
    except (OSError, ValueError):
        return False
    if not all(alive(pid) for pid in state["pids"].values()):
        return False
    return Api(state["server"], root / "pki").call("GET", "/readyz")[0] == 200


def up(root: Path) -> None:
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
        start_all(root, bin_dir)
    except BaseException:
        stop(root)  # nothing left running; the logs stay for reading
        raise


def start_all(root: Path, bin_dir: Path) -> None:
    started = time.monotonic()
    for sub in ("logs", "etcd"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    pki = root / "pki"
    make_pki(pki)
    ports = {
        name: free_port() for name in ("etcd", "etcd-peer", "apiserver", "controller-manager", "scheduler", "kwok")
    }
    server = f"https://127.0.0.1:{ports['apiserver']}"
    kubeconfig = root / "kubeconfig"
    write_kubeconfig(kubeconfig, pki, server)
    state: dict[str, Any] = {"server": server, "version": kubernetes_version(), "pids": {}}
    etcd_url = f"http://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
    start(
        "etcd",
        [
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
        ],
        root,
        state,
    )
    start(
        "kube-apiserver",
        [
            str(bin_dir / "kube-apiserver"),
            "--etcd-servers",
            etcd_url,
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
            "--allow-privileged=true",
            "--profiling=false",
        ],
        root,
        state,
    )
    api = Api(server, pki)
    wait_for("the API server", lambda: api.call("GET", "/readyz")[0] == 200, root)
    common = [
        "--kubeconfig",
        str(kubeconfig),
        "--authentication-kubeconfig",
        str(kubeconfig),
        "--authorization-kubeconfig",
        str(kubeconfig),
        "--leader-elect=false",
        "--bind-address",
        "127.0.0.1",
    ]
    start(
        "kube-controller-manager",
        [
            str(bin_dir / "kube-controller-manager"),
            *common,
            "--secure-port",
            str(ports["controller-manager"]),
            "--service-account-private-key-file",
            str(pki / "sa.key"),
            "--root-ca-file",
            str(pki / "ca.crt"),
            "--cluster-signing-cert-file",
            str(pki / "ca.crt"),
            "--cluster-signing-key-file",
            str(pki / "ca.key"),
            "--use-service-account-credentials=true",
            "--enable-hostpath-provisioner=true",
        ],
        root,
        state,
    )
    start(
        "kube-scheduler",
        [str(bin_dir / "kube-scheduler"), *common, "--secure-port", str(ports["scheduler"])],
        root,
        state,
    )
    start(
        "kwok",
        [
            str(bin_dir / "kwok"),
            "--config",
            str(KWOK_MODULE / "stages.yaml"),
            "--kubeconfig",
            str(kubeconfig),
            "--manage-nodes-with-annotation-selector",
            "kwok.x-k8s.io/node=fake",
            "--node-ip",
            "127.0.0.1",
            "--node-port",
            str(ports["kwok"]),
            "--node-lease-duration-seconds",
            "40",
            "--server-address",
            f"127.0.0.1:{ports['kwok']}",
            "--cidr",
            "10.244.0.1/16",
        ],
        root,
        state,
    )
    for index in range(FAKE_NODES):
        api.create("/api/v1/nodes", fake_node(f"kc-fake-{index}"))
    api.create("/apis/storage.k8s.io/v1/storageclasses", STORAGE_CLASS)
    wait_for("a Ready node", lambda: ready_nodes(api) >= FAKE_NODES, root)
    wait_for(
        "the default service account (the controllers at work)",
        lambda: api.call("GET", "/api/v1/namespaces/default/serviceaccounts/default")[0] == 200,
        root,
    )
    say(f"Kubernetes {state['version']} up at {server} in {time.monotonic() - started:.1f}s; kubeconfig: {kubeconfig}")


def fake_node(name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "type": "kwok"},
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
    """Stop every process ``up`` recorded in ``root``; how many were running."""
    try:
        state = json.loads((root / "state.json").read_text())
    except (OSError, ValueError):
        state = {"pids": {}}
    pids = [pid for pid in state["pids"].values() if alive(pid)]
    for pid in reversed(pids):  # the API server's clients first, etcd last
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
    return len(pids)


def down(root: Path, quiet: bool = False) -> None:
    root = root.resolve()
    stopped = stop(root)
    for sub in ("etcd", "pki", "logs", "state.json", "kubeconfig", "bin"):
        path = root / sub
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink()
    if not quiet:
        say(f"stopped {stopped} processes and removed the data in {root}")


def main(command: str, argv: list[str]) -> int:
    if len(argv) != 1 or argv[0].startswith("-"):
        print(f"usage: tests/cluster/{command} DIR", file=sys.stderr)
        return 2
    try:
        (up if command == "up" else down)(Path(argv[0]))
    except ClusterError as error:
        say(f"error: {error}")
        return 1
    return 0
